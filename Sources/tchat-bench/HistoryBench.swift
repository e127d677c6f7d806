import ArgumentParser
import Foundation
@_spi(Benchmarks) import TChatServer

/// `tchat-bench history`: the JSON history store's append rate per fsync policy, and a server's start-up time
/// over a large data directory.
struct HistoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Appends per second at each --fsync policy; tchatd start-up time with many stored messages.",
        discussion: """
            Appends go through the server's own history writer (acknowledged as a client's OK would be) into a \
            temporary data directory. Start-up builds a data directory holding --stored messages, starts tchatd on \
            it and times how long it takes to print its 'listening' line.
            """)

    @Option(help: "always, interval or never; repeat to measure several (default: all three).")
    var fsync: [String] = []
    @Option(help: "Messages appended per policy.") var messages = 200_000
    @Option(help: "Channels the messages are spread over.") var channels = 100
    @Option(help: "Unacknowledged appends allowed at once.") var window = 1_000
    @Option(help: "Message body size in bytes.") var size = 64
    @Option(help: "Messages in the data directory for the start-up measurement (0: skip it).")
    var stored = 1_000_000
    @Option(help: ArgumentHelp("The tchatd to start (default: the one next to tchat-bench).", valueName: "path"))
    var tchatd: String?
    @Option(help: ArgumentHelp("Where to make the temporary data directories.", valueName: "dir"))
    var scratch = FileManager.default.temporaryDirectory.path
    @Option(help: "Seconds after which a start-up counts as failed.") var timeout: Double = 60
    @Flag(help: "Print the report as one JSON object.") var json = false

    func run() async throws {
        let policies = try (fsync.isEmpty ? ["always", "interval", "never"] : fsync).map {
            text -> (String, FsyncPolicy) in
            switch text {
            case "always": return (text, .always)
            case "interval": return (text, .interval(.seconds(1)))
            case "never": return (text, .never)
            default: throw ValidationError("--fsync is always, interval or never, not '\(text)'")
            }
        }
        guard messages > 0, channels > 0, window > 0, size > 0, stored >= 0 else {
            throw ValidationError("--messages, --channels, --window and --size must be above 0")
        }
        var report = Report(scenario: "history")
        report.add("messages per policy", Double(messages))
        report.add("channels", Double(channels))
        for (name, policy) in policies {
            let directory = try makeScratch()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let seconds = try await StoreBenchmark.append(
                directory: directory, policy: policy, messages: messages, channels: channels, size: size,
                window: window, historyLimit: 10_000)
            report.add("appends per second fsync \(name)", Double(messages) / seconds)
        }
        if stored > 0 {
            let directory = try makeScratch()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // As many channels as needed for every message to stay within tchatd's default history limit.
            let storedChannels = max(channels, (stored + 9_999) / 10_000)
            let building = ContinuousClock.now
            _ = try await StoreBenchmark.append(
                directory: directory, policy: .never, messages: stored, channels: storedChannels, size: size,
                window: 10_000, historyLimit: 10_000)
            report.add("stored messages", Double(stored))
            report.add("stored build time", Self.seconds(ContinuousClock.now - building), "s")
            var startups: [Double] = []
            for _ in 0..<3 { startups.append(try await startServer(directory: directory)) }
            report.add("startup time", startups.sorted()[1], "s")
            report.add("startup time max", startups.max()!, "s")
        }
        report.print(json: json)
    }

    private func makeScratch() throws -> String {
        let path = "\(scratch)/tchat-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Seconds from starting tchatd to its first line, which it prints once history is loaded and both sockets are
    /// bound; then stops it.
    private func startServer(directory: String) async throws -> Double {
        let path =
            tchatd
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("tchatd").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("no tchatd at \(path); give --tchatd")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [
            "--data-dir", directory, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--log-level",
            "warning",
        ]
        let output = Pipe()
        process.standardOutput = output
        let started = ContinuousClock.now
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        let reader = output.fileHandleForReading
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            guard ContinuousClock.now < deadline else { throw ValidationError("tchatd did not start in \(timeout) s") }
            let chunk = reader.availableData  // blocks until output or end of file
            guard !chunk.isEmpty else { throw ValidationError("tchatd exited before it was listening") }
            line.append(chunk)
        }
        let seconds = Self.seconds(ContinuousClock.now - started)
        guard String(decoding: line, as: UTF8.self).hasPrefix("listening") else {
            throw ValidationError("tchatd said '\(String(decoding: line, as: UTF8.self))' instead of listening")
        }
        return seconds
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
