import Foundation
import TChatClient
import TChatProtocol
import Testing

/// tchatd on a real full filesystem (a small tmpfs, so root is needed to mount it; CI runs as root).
@Suite(.serialized, .leavesNoProcess)
struct DiskFullTests {
    static let canMount = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")

    static func run(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/" + arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Writes until the filesystem refuses; returns the bytes written.
    static func fill(_ path: String) -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { return 0 }
        guard let handle = FileHandle(forWritingAtPath: path) else { return 0 }
        defer { try? handle.close() }
        let chunk = Data(repeating: 0, count: 4096)
        var written = 0
        while (try? handle.write(contentsOf: chunk)) != nil { written += chunk.count }
        return written
    }

    @Test(.enabled(if: canMount, "mounting a tmpfs needs root"))
    func aFullDiskIsReportedSurvivedAndRecoveredFromByItself() async throws {
        let mountPoint = CommandLineTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(Self.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mountPoint]) == 0)
        defer {
            _ = Self.run(["umount", mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let daemon = try await Daemon(directory: mountPoint + "/data")
        let address = try ServerAddress(parsing: daemon.clients, defaultPort: 7667)
        let reader = try await ChatConnection.connect(ConnectOptions(server: address, nick: "reader"))
        _ = try await reader.join("#ops", history: 0)
        var writerOptions = ConnectOptions(server: address, nick: "writer")
        writerOptions.receivesEvents = false
        let writer = try await ChatConnection.connect(writerOptions)
        _ = try await writer.send(.text("before"), to: "#ops")

        #expect(Self.fill(mountPoint + "/filler") > 0)
        var refused: [ProtocolError] = []
        for index in 0..<300 {
            do {
                _ = try await writer.send(
                    .text("while full \(index) " + String(repeating: "x", count: 100)), to: "#ops")
            } catch let error as ProtocolError {
                refused.append(error)
            }
        }
        #expect(!refused.isEmpty, "the disk never filled up")
        #expect(refused.allSatisfy { $0.code == .storageFailure })
        #expect(refused.first?.message.contains("delivered to those online but could not be stored") == true)
        // Reads and live delivery go on: the reader got every message, stored or not, and the server answers.
        #expect(try await reader.ping() < .seconds(1))
        var live: [String] = []
        for await event in reader.events {
            if case .message(let message) = event { live.append(message.body.text) }
            if live.count == 301 { break }
        }
        #expect(live.first == "before" && live.count == 301)

        // Space comes back: the server takes messages again, with nothing done to it.
        try FileManager.default.removeItem(atPath: mountPoint + "/filler")
        _ = try await writer.send(.text("after"), to: "#ops")
        let history = try await reader.history("#ops", limit: 1)  // a member: history is for members
        #expect(history.last?.body.text == "after")
        let file = try String(contentsOfFile: mountPoint + "/data/channels/ops.jsonl", encoding: .utf8)
        #expect(file.hasSuffix("\"body\":\"after\"}\n"), "stored on disk, after whole lines only")
        #expect(file.split(separator: "\n").allSatisfy { $0.hasPrefix("{\"id\":") && $0.hasSuffix("}") })

        await writer.quit()
        await reader.quit()
        #expect(daemon.child.process.isRunning, "the server never stopped")
        #expect(await daemon.stop() == 0)
        let log = daemon.child.stderr
        #expect(log.components(separatedBy: "history writes failing").count == 2, "logged once: \(log)")
        #expect(log.contains("history writes work again"))
    }
}
