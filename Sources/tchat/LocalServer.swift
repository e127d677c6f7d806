import Foundation
import Logging
import NIOCore
import NIOPosix
import TChatClient
import TChatProtocol
import TChatServer

/// `tchat --local`: a tchatd inside this process, for a newcomer with no server yet. Others can join it while this
/// tchat runs; its history goes to the usual data directory and its log to `tchatd.log` there, off the screen. It
/// listens on loopback only and opens no peer port.
struct LocalServer {
    let server: ChatServer

    /// Starts a server at `address` unless one already answers there.
    static func startIfNeeded(at address: ServerAddress) async throws -> LocalServer? {
        guard !address.usesTLS else {
            throw ConnectionError("--local runs a plaintext server on this machine only: leave out tls://")
        }
        guard ["127.0.0.1", "localhost", "::1"].contains(address.host) else {
            throw ConnectionError("--local runs a server on this machine only: use a loopback --server, not \(address)")
        }
        if await isListening(address) { return nil }
        let environment = ProcessInfo.processInfo.environment
        let directory =
            environment["XDG_STATE_HOME"].map { $0 + "/tchatd" }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/tchatd"
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let logPath = directory + "/tchatd.log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let output = LogOutput(log)
        let logger = Logger(label: "tchatd") { _ in LineLogHandler(logLevel: .info, output: output) }
        var configuration = ServerConfiguration(dataDirectory: directory, name: "local")
        configuration.clientAddress = address
        configuration.listensForPeers = false  // a newcomer's server never links: no peer port to defend
        let server = ChatServer(configuration: configuration, logger: logger)
        do {
            try await server.start()
        } catch {
            throw ConnectionError("cannot start the local server: \(error)")
        }
        return LocalServer(server: server)
    }

    static func isListening(_ address: ServerAddress) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(500))
                .connect(host: address.host, port: address.port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    func stop() async {
        await server.shutdown()
    }
}
