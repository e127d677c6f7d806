import NIOCore
import NIOPosix
import Synchronization
import TChatIRC
import TChatProtocol
import TChatTLS
import Testing

/// An IRC client over a raw socket that collects every line the server sends, for tests of the IRC port.
final class IRCConnection: Sendable {
    let channel: any Channel
    private let log: LineLog

    final class LineLog: Sendable {
        let lines = Mutex<[IRCMessage]>([])
        let raw = Mutex<[String]>([])
        let closed = Mutex(false)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let log: LineLog
        var reader = IRCLineReader(maxLineBytes: 1 << 16)

        init(log: LineLog) { self.log = log }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            reader.receive(unwrapInboundIn(data), now: 0)
            while let line = reader.next() {
                guard case .text(let text) = line else { continue }
                log.raw.withLock { $0.append(text) }
                if let message = try? IRCMessage(parsing: text) { log.lines.withLock { $0.append(message) } }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            log.closed.withLock { $0 = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// Connects, over TLS when given a client (checked against the name `localhost`).
    static func connect(to address: ServerAddress, tls: TLSClient? = nil) async throws -> IRCConnection {
        let log = LineLog()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: "localhost"))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(log: log))
                }
            }
            .connect(host: address.host, port: address.port).get()
        return IRCConnection(channel: channel, log: log)
    }

    private init(channel: any Channel, log: LineLog) {
        self.channel = channel
        self.log = log
    }

    deinit { channel.close(promise: nil) }

    /// Sends lines, each with CR LF.
    func send(_ lines: String...) async throws {
        try await send(lines)
    }

    func send(_ lines: [String]) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: lines.map { $0 + "\r\n" }.joined()))
    }

    func sendBytes(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    var lines: [IRCMessage] { log.lines.withLock { $0 } }
    var rawLines: [String] { log.raw.withLock { $0 } }
    var isClosed: Bool { log.closed.withLock { $0 } || !channel.isActive }

    /// Waits for a line matching `match` among those not yet taken by an earlier `expect`; nil after the timeout.
    @discardableResult
    func waitFor(
        within timeout: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation,
        _ match: (IRCMessage) -> Bool
    ) async -> IRCMessage? {
        var found: IRCMessage?
        _ = await eventually(within: timeout) {
            found = lines.first(where: match)
            return found != nil
        }
        if found == nil {
            Issue.record("no such line; got:\n\(rawLines.joined(separator: "\n"))", sourceLocation: sourceLocation)
        }
        return found
    }

    /// Waits for a line with `command` (and, if given, the parameters `params` starts with).
    @discardableResult
    func waitFor(
        _ command: String, _ params: String..., within timeout: Duration = .seconds(5),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> IRCMessage? {
        await waitFor(within: timeout, sourceLocation: sourceLocation) {
            $0.verb == command && Array($0.params.prefix(params.count)) == params
        }
    }

    /// NICK, USER and (optionally) CAP negotiation, then waits for 001.
    func register(_ nick: String, capabilities: [String] = []) async throws {
        if capabilities.isEmpty {
            try await send("NICK \(nick)", "USER \(nick) 0 * :\(nick) tester")
        } else {
            try await send(
                "CAP LS 302", "NICK \(nick)", "USER \(nick) 0 * :\(nick) tester",
                "CAP REQ :\(capabilities.joined(separator: " "))", "CAP END")
        }
        await waitFor("001", nick)
    }
}
