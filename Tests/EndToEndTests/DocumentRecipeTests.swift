import Foundation
import Testing

/// The `jq` recipes of docs/storage.md, run as printed on files holding what an attacker would send: nothing a
/// terminal would obey comes out.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/jq"), "jq is not installed"))
struct DocumentRecipeTests {
    static let hostile = [
        "\u{1B}]0;owned\u{7}", "\u{1B}]52;c;cHduZWQ=\u{7}", "\u{9B}2J", "\u{202E}gnp.exe", "\u{2066}iso", "a\u{2028}b",
        "\u{7F}", "bell\u{7}",
    ]

    static func recipes() throws -> [String] {
        let document = try String(
            contentsOf: SecurityDocumentTests.root.appendingPathComponent("docs/storage.md"), encoding: .utf8)
        return document.split(separator: "\n").map(String.init).filter { $0.hasPrefix("jq ") }
    }

    static func run(_ command: String, in directory: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let bytes = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(command)")
        return Array(bytes)
    }

    @Test func theStorageRecipesPrintNothingATerminalWouldObey() throws {
        let directory = NSTemporaryDirectory() + "tchat-recipes-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        var channel = ""
        var clients = ""
        for (index, text) in Self.hostile.enumerated() {
            let body = try JSONSerialization.data(withJSONObject: ["body": text]).dropFirst(8).dropLast(1)
            let quoted = String(decoding: body, as: UTF8.self)
            channel +=
                #"{"id":\#(index + 1),"time":"2026-11-30T09:00:00.000Z","from":"eve","type":"text","body":\#(quoted)}"#
                + "\n"
            let json = String(decoding: try JSONSerialization.data(withJSONObject: ["x": text]), as: UTF8.self)
            let jsonQuoted = String(decoding: try JSONSerialization.data(withJSONObject: [json]), as: UTF8.self)
                .dropFirst().dropLast()
            channel +=
                #"{"id":\#(index + 100),"time":"2026-11-30T09:00:00.000Z","from":"eve","type":"json","body":\#(jsonQuoted)}"#
                + "\n"
            clients +=
                #"{"nick":"bob","address":"127.0.0.1:1","connected":"2026-11-30T09:00:00.000Z","durationMs":1000,"reason":\#(quoted)}"#
                + "\n"
        }
        try channel.write(toFile: directory + "/channels/ops.jsonl", atomically: true, encoding: .utf8)
        try clients.write(toFile: directory + "/clients.jsonl", atomically: true, encoding: .utf8)
        let recipes = try Self.recipes()
        #expect(recipes.count >= 3)
        for recipe in recipes {
            let output = String(decoding: try Self.run(recipe, in: directory), as: UTF8.self)
            #expect(!output.isEmpty, "\(recipe) printed nothing")
            let unsafe = output.unicodeScalars.filter { $0 != "\n" && TextFieldRules.unsafe($0) }
            #expect(unsafe.isEmpty, "\(recipe) printed \(unsafe.map { String($0.value, radix: 16) })")
        }
    }
}

/// What a terminal obeys or reorders by: controls, separators and the bidirectional controls.
enum TextFieldRules {
    static func unsafe(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
            || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}
