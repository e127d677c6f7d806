import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// A real `tchatd` on 127.0.0.1 port 0 with a data directory of its own, as the integration tests need it.
final class TestServer: Sendable {
    let directory: String
    let server: ChatServer
    let address: ServerAddress

    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "tchat-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static var quietLogger: Logger { Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }) }

    init(
        directory: String? = nil, name: String = "test", logs: LogCapture? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws {
        let directory = directory ?? Self.temporaryDirectory()
        var configuration = ServerConfiguration(dataDirectory: directory, name: name)
        configuration.clientAddress = ServerAddress(host: "127.0.0.1", port: 0)
        configuration.peerAddress = ServerAddress(host: "127.0.0.1", port: 0)
        configuration.threads = 2
        // Tests that are not about the request and per-address limits are not slowed by them; those limits have
        // tests of their own that set them.
        configuration.requestRate = 0
        configuration.maxConnectionsPerAddress = 0
        configuration.connectRate = 0
        configuration.channelCreationsPerMinute = 0
        // Every test server shares one link secret, so servers in a test link as a network does; tests of
        // refused links set another or none.
        configuration.linkSecretFile = Self.linkSecretFile
        configure(&configuration)
        let server = ChatServer(configuration: configuration, logger: logs?.logger ?? Self.quietLogger)
        try await server.start()
        self.directory = directory
        self.server = server
        self.address = try #require(server.addresses).clients
        self.peerAddress = try #require(server.addresses?.peers)
    }

    let peerAddress: ServerAddress

    /// A link secret (mode 0600) written once per test process.
    static let linkSecretFile: String = writeSecret("shared")

    /// Writes a secret file of its own, mode 0600, holding `text` and some randomness.
    static func writeSecret(_ text: String, mode: mode_t = 0o600) -> String {
        let path = temporaryDirectory() + "/link-secret"
        let secret = text + "-" + UUID().uuidString + "\n"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: mode])
        return path
    }

    /// The test certificates (`Tests/Fixtures/tls`, made by `scripts/make-test-certs`).
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tls/\(name)").path
    }

    /// Settings for TLS with one of the fixture certificates (`server`, `server2`, `expired`...).
    static func tls(_ name: String = "server") -> (inout ServerConfiguration) -> Void {
        { configuration in
            configuration.tlsCertificateFile = fixture("\(name).pem")
            configuration.tlsKeyFile = fixture("\(name)-key.pem")
        }
    }

    /// A server on `port` again, as after a restart. The port was just freed and, rarely, an outgoing connection
    /// of another test takes it as its local port for a moment: a few retries ride that out.
    static func restarted(in directory: String, port: Int) async throws -> TestServer {
        var attempts = 0
        while true {
            do {
                return try await TestServer(directory: directory) {
                    $0.clientAddress = ServerAddress(host: "127.0.0.1", port: port)
                }
            } catch {
                attempts += 1
                if attempts == 20 { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func connect(_ nick: String, events: Bool = true) async throws -> ChatConnection {
        var options = ConnectOptions(server: address, nick: nick)
        options.receivesEvents = events
        options.tlsTrust = .authority(file: Self.fixture("ca.pem"))
        return try await ChatConnection.connect(options)
    }

    func stop() async {
        await server.shutdown()
    }

    func removeData() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Keeps a server's log lines, so a test can check that a refusal was logged.
final class LogCapture: Sendable {
    let lines = Mutex<[(level: Logger.Level, text: String)]>([])

    var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(capture: self) }
        logger.logLevel = .info
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let details = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let text = ([event.message.description] + details).joined(separator: " ")
            capture.lines.withLock { $0.append((event.level, text)) }
        }
    }

    /// Whether a line at `level` or above contains every one of `parts`, waiting a little for it.
    func contains(_ parts: String..., level: Logger.Level = .notice) async -> Bool {
        await eventually(within: .seconds(5)) {
            lines.withLock { lines in
                lines.contains { line in line.level >= level && parts.allSatisfy { line.text.contains($0) } }
            }
        }
    }

    var all: [String] { lines.withLock { $0.map(\.text) } }
}

/// Collects a connection's events in the background so a test can wait for the ones it expects.
final class EventLog: Sendable {
    private let events = Mutex<[ServerFrame]>([])
    private let ended = Mutex(false)

    init(_ connection: ChatConnection) {
        let stream = connection.events
        Task { [self] in
            for await event in stream { self.events.withLock { $0.append(event) } }
            self.ended.withLock { $0 = true }
        }
    }

    var all: [ServerFrame] { events.withLock { $0 } }
    var hasEnded: Bool { ended.withLock { $0 } }

    /// Channel messages received, in order.
    var messages: [ChatMessage] { all.compactMap { if case .message(let m) = $0 { m } else { nil } } }

    /// Waits until `condition` holds for the events so far; fails the test after `timeout`.
    func wait(
        for what: String, within timeout: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation,
        until condition: ([ServerFrame]) -> Bool
    ) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(all) { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let events = all
        Issue.record(
            "timed out waiting for \(what); got \(events.count) events, the last: \(events.suffix(3))",
            sourceLocation: sourceLocation)
    }
}

/// Waits until `condition` is true, polling; false after `timeout`.
func eventually(within timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

extension ChatConnection {
    /// History is for members: joins the channel (nothing replayed; nothing happens if in it already), then reads.
    func memberHistory(_ channel: String, before: UInt64 = 0, limit: UInt16 = 50) async throws -> [ChatMessage] {
        _ = try await join(channel, history: 0)
        return try await history(channel, before: before, limit: limit)
    }
}
