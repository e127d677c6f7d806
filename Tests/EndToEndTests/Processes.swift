import Foundation
import Synchronization
import TChatProtocol
import Testing

/// The built `tchatd` and `tchat` binaries, found beside the test bundle (both are products of this package).
enum Binaries {
    static var directory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    static func path(_ name: String) throws -> String {
        let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent(name).path }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ProcessError("\(name) is not built next to the tests (looked in \(candidates))")
        }
        return found
    }
}

struct ProcessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose output is collected as it comes.
final class Child: Sendable {
    /// Bytes read so far from one of the child's pipes.
    final class Collected: Sendable {
        let bytes = Mutex<[UInt8]>([])
        var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
    }

    let process: Process
    private let output = Collected()
    private let errors = Collected()

    /// `asNobody`: run as the unprivileged user `nobody` (through `setpriv`, which execs it in place), for tests of
    /// what works without root.
    init(
        _ binary: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
        asNobody: Bool = false
    ) throws {
        let process = Process()
        if asNobody {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments =
                ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", try Binaries.path(binary)] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: try Binaries.path(binary))
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TCHAT_SERVER")
        env.removeValue(forKey: "TCHAT_NICK")
        env.merge(environment) { _, new in new }
        process.environment = TestProcesses.environment(env)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        self.process = process
        out.fileHandleForReading.readabilityHandler = { [output] handle in
            let data = handle.availableData
            output.bytes.withLock { $0.append(contentsOf: data) }
        }
        err.fileHandleForReading.readabilityHandler = { [errors] handle in
            let data = handle.availableData
            errors.bytes.withLock { $0.append(contentsOf: data) }
        }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
    }

    /// A test that fails (or throws) before it stops what it started must not leave it running: the last reference
    /// going away ends the process, as SIGKILL would, so it cannot linger or hold a mount.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var stdout: String { output.text }
    var stderr: String { errors.text }
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// Waits for the process to exit and returns its status; kills it after `timeout`.
    func exitStatus(within timeout: Duration = .seconds(20)) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            process.terminate()
            Issue.record("\(process.executableURL!.lastPathComponent) did not exit within \(timeout)")
        }
        process.waitUntilExit()
        try? await Task.sleep(for: .milliseconds(20))  // let the readability handlers catch the last bytes
        return process.terminationStatus
    }

    func waitForOutput(within timeout: Duration = .seconds(10), _ condition: ([String]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(lines) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(lines)
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }
}

/// `tchatd` on free ports with its own data directory.
final class Daemon: Sendable {
    let child: Child
    let clients: String
    let directory: String
    /// `irc=HOST:PORT` (or `tls://…`) when started with `--irc-listen`.
    let irc: String?

    init(
        directory: String, port: String = "0", extra: [String] = [], environment: [String: String] = [:]
    ) async throws {
        self.directory = directory
        child = try Child(
            "tchatd",
            ["--listen", "127.0.0.1:\(port)", "--peer-listen", "127.0.0.1:0", "--data-dir", directory] + extra,
            environment: environment)
        let child = self.child
        guard await child.waitForOutput({ _ in child.lines.first != nil || !child.process.isRunning }),
            let line = child.lines.first, line.hasPrefix("listening clients=")
        else {
            child.process.terminate()
            throw ProcessError("tchatd did not report its ports: \(child.stderr)")
        }
        // "listening clients=HOST:PORT peers=HOST:PORT"
        let fields = line.split(separator: " ")
        clients = String(fields[1].dropFirst("clients=".count))
        irc = fields.first { $0.hasPrefix("irc=") }.map { String($0.dropFirst("irc=".count)) }
        #expect(fields[2].hasPrefix("peers=127.0.0.1:") && !fields[2].hasSuffix(":0"))
    }

    /// SIGTERM, then the exit status.
    func stop() async -> Int32 {
        child.signal(SIGTERM)
        return await child.exitStatus()
    }

    /// SIGKILL: the server gets no chance to say goodbye.
    func kill() async {
        child.signal(SIGKILL)
        _ = await child.exitStatus()
    }
}
