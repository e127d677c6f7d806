import Foundation
import TChatTUI
import Testing

/// The manual pages must pass `mandoc -Tlint -W warning` (CI installs mandoc; without it this is skipped, not passed).
@Suite struct ManualPageTests {
    static let mandoc = ["/usr/bin/mandoc", "/usr/local/bin/mandoc"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(
        .enabled(if: mandoc != nil, "mandoc is not installed"),
        arguments: ["man/tchatd.8", "man/tchat.1", "man/tchat-bench.1"])
    func lintsClean(_ page: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.mandoc!)
        process.arguments = ["-Tlint", "-W", "warning", Self.root.appendingPathComponent(page).path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && text.isEmpty, "\(page): \(text)")
    }

    @Test func everyServerFlagIsDocumented() throws {
        let page = try String(contentsOf: Self.root.appendingPathComponent("man/tchatd.8"), encoding: .utf8)
        let flags = [
            "listen", "peer\\-listen", "data\\-dir", "name", "motd", "log\\-level", "max\\-clients",
            "max\\-frame", "max\\-queue", "idle\\-timeout", "history\\-limit", "fsync", "peer", "discover", "heartbeat",
            "balance\\-margin", "no\\-redirect", "tls\\-cert", "tls\\-key", "plain\\-listen", "link\\-secret",
            "peer\\-fingerprint", "registration", "require\\-account", "operator",
        ]
        for flag in flags {
            #expect(page.contains(".It Fl \\-\(flag)"), "man/tchatd.8 does not describe --\(flag)")
        }
    }

    @Test func everyClientCommandAndOptionIsDocumented() throws {
        let page = try String(contentsOf: Self.root.appendingPathComponent("man/tchat.1"), encoding: .utf8)
        for spec in CommandSpec.all {
            #expect(page.contains(".It Ic /\(spec.name)"), "man/tchat.1 does not describe /\(spec.name)")
        }
        for flag in [
            "server", "nick", "join", "local", "no\\-color", "config", "history", "json", "to", "tls\\-ca", "tls\\-pin",
            "password\\-file",
        ] {
            #expect(page.contains("Fl \\-\(flag)"), "man/tchat.1 does not mention --\(flag)")
        }
    }
}
