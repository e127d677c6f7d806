public import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
public import TChatProtocol
import TChatTLS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A session with a tchat server: connect and say hello, make requests, read events.
///
/// Requests may be pipelined: `submit` writes at once and returns a future, so a caller can keep many in flight
/// and still have them reach the server in the order it called. Every request ends in the server's `ok` (the
/// result frames before it are returned) or `error` (thrown as `ProtocolError`).
public final class ChatConnection: Sendable {
    public let welcome: Welcome
    /// Server-pushed events; empty if `ConnectOptions.receivesEvents` was false.
    public let events: ChatEvents
    /// The round trip of the latest keep-alive ping.
    public let roundTrip: RoundTrip
    private let channel: any Channel
    private let closeReason: CloseReason

    /// The server this connection ended up on (after any redirects).
    public let server: ServerAddress

    private init(
        welcome: Welcome, events: ChatEvents, channel: any Channel, closeReason: CloseReason, roundTrip: RoundTrip,
        server: ServerAddress
    ) {
        self.server = server
        self.welcome = welcome
        self.events = events
        self.channel = channel
        self.closeReason = closeReason
        self.roundTrip = roundTrip
    }

    /// Connects, says hello and waits for the welcome, following up to `maxRedirects` redirects to less loaded
    /// servers. Throws `ConnectionError` if the server cannot be reached (or, over TLS, cannot be trusted: the
    /// reason is in the message) and the server's `ProtocolError` if it refuses the hello (nick in use, server
    /// full...).
    ///
    /// A TLS connection never follows a redirect to a plaintext address: it asks the same server again, this time
    /// to be kept.
    public static func connect(
        _ options: ConnectOptions, group: (any EventLoopGroup)? = nil
    ) async throws -> ChatConnection {
        var options = options
        var hops = 0
        var stay = false
        while true {
            do {
                let acceptsRedirect = !stay && hops < options.maxRedirects
                return try await connectOnce(options, acceptsRedirect: acceptsRedirect, group: group)
            } catch let redirect as Redirect {
                hops += 1
                let target: ServerAddress
                do {
                    target = try ServerAddress(
                        parsing: redirect.address, defaultPort: options.server.port, allowingTLS: true)
                } catch {
                    throw ConnectionError("\(redirect.server) sent us to '\(redirect.address)', which is not HOST:PORT")
                }
                if options.server.usesTLS && !target.usesTLS {
                    stay = true
                } else {
                    options.server = target
                }
            }
        }
    }

    /// TLS clients by trust: a context is made once per trust and shared by every connection (and reconnection).
    private static let tlsClients = Mutex<[TLSTrust: TLSClient]>([:])

    static func tlsClient(for trust: TLSTrust) throws -> TLSClient {
        if let client = tlsClients.withLock({ $0[trust] }) { return client }
        do {
            let client = try TLSClient(trust: trust)
            tlsClients.withLock { $0[trust] = client }
            return client
        } catch {
            throw ConnectionError(error.description)
        }
    }

    private static func connectOnce(
        _ options: ConnectOptions, acceptsRedirect: Bool, group: (any EventLoopGroup)?
    ) async throws -> ChatConnection {
        let group = group ?? MultiThreadedEventLoopGroup.singleton
        let (events, source, resumer) = ChatEvents.make()
        let receivesEvents = options.receivesEvents
        let maxFrame = options.maxFrameLength
        let closeReason = CloseReason()
        let roundTrip = RoundTrip()
        let keepAlive = options.keepAlive.map(TimeAmount.init)
        let server = options.server
        let tls = server.usesTLS ? try tlsClient(for: options.tlsTrust) : nil
        let loop = group.next()
        let handshake = loop.makePromise(of: NIOSSLCertificate?.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(TimeAmount(options.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: server.host))
                            try channel.pipeline.syncOperations.addHandler(
                                TLSHandshakeWatch(promise: handshake, host: server.host, trust: tls.trust))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(FrameDecoder(maxFrameLength: maxFrame)))
                        try channel.pipeline.syncOperations.addHandler(
                            ClientHandler(
                                events: receivesEvents ? source : nil, closeReason: closeReason, keepAlive: keepAlive,
                                roundTrip: roundTrip))
                    }
                }
                .connect(host: options.server.host, port: options.server.port)
                .get()
        } catch {
            handshake.fail(ConnectionError("not connected"))
            throw ConnectionError("cannot connect to \(options.server): \(Self.describe(error))")
        }
        if tls == nil {
            handshake.succeed(nil)
        } else {
            // Nothing is said before the server is known to be the one asked for.
            do {
                _ = try await handshake.futureResult.get()
            } catch {
                try? await channel.close()
                // A TLS port refusing plaintext, or a server closing with a reason, said why already.
                if let reason = closeReason.error { throw reason }
                throw ConnectionError("cannot connect to \(options.server): \(error)")
            }
        }
        resumer.channel.withLock { $0 = channel }
        if !receivesEvents { source.finish() }
        let hello = Hello(
            nick: options.nick, clientName: options.clientName, clientVersion: options.clientVersion,
            processID: UInt32(truncatingIfNeeded: getpid()), host: Self.hostName(), acceptsRedirect: acceptsRedirect,
            knowsNotices: true)
        let reply: [ServerFrame]
        do {
            if let credentials = options.credentials {
                _ = try await ScramLogin.run(credentials) {
                    try await Self.submit($0, on: channel, closeReason: closeReason).get()
                }
            }
            reply = try await Self.submit(.hello(hello), on: channel, closeReason: closeReason).get()
        } catch {
            try? await channel.close()
            throw error
        }
        guard case .welcome(let welcome) = reply.first else {
            try? await channel.close()
            throw ConnectionError("\(options.server) did not answer the hello with a welcome")
        }
        return ChatConnection(
            welcome: welcome, events: events, channel: channel, closeReason: closeReason, roundTrip: roundTrip,
            server: options.server)
    }

    // MARK: - Requests

    /// Writes a request now and returns its eventual result frames.
    public func submit(_ frame: ClientFrame) -> EventLoopFuture<[ServerFrame]> {
        Self.submit(frame, on: channel, closeReason: closeReason)
    }

    private static func submit(
        _ frame: ClientFrame, on channel: any Channel, closeReason: CloseReason
    ) -> EventLoopFuture<[ServerFrame]> {
        let reply = channel.eventLoop.makePromise(of: [ServerFrame].self)
        channel.writeAndFlush(OutboundRequest(frame: frame, reply: reply)).whenFailure { error in
            // The server may have said why it closed (server full, shutting down) before we could write.
            reply.fail(closeReason.error ?? ConnectionError("the connection is closed"))
        }
        return reply.futureResult
    }

    /// Makes a request and waits for its result frames.
    public func request(_ frame: ClientFrame) async throws -> [ServerFrame] {
        try await submit(frame).get()
    }

    /// Joins a channel; returns it and up to `history` of its latest messages, oldest first.
    /// A channel with a key (`+k`) needs it.
    public func join(_ channel: String, history: UInt16 = 50, key: String = "") async throws
        -> (ChannelInfo, [ChatMessage])
    {
        let frames = try await request(
            key.isEmpty
                ? .join(channel: channel, history: history) : .joinKeyed(channel: channel, key: key, history: history))
        guard case .channelInfo(let info) = frames.first else {
            throw ConnectionError("the server answered JOIN without the channel")
        }
        return (info, frames.dropFirst().compactMap { if case .message(let m) = $0 { m } else { nil } })
    }

    public func part(_ channel: String, reason: String = "") async throws {
        _ = try await request(.part(channel: channel, reason: reason))
    }

    /// Sends to a channel; returns the id and time the server gave the message, once it is stored.
    @discardableResult
    public func send(_ body: MessageBody, to channel: String) async throws -> (id: UInt64, time: Timestamp) {
        try Self.sent(from: try await request(.send(channel: channel, body: body)))
    }

    /// SEND_ONCE: as `send`, but the store keeps one message per `key` from this nick in the channel, and a resend
    /// (after an unsure answer, or from a new connection) is answered with the first one's id and time.
    public func send(_ body: MessageBody, to channel: String, key: String) async throws -> (
        id: UInt64, time: Timestamp
    ) {
        try Self.sent(from: try await request(.sendOnce(channel: channel, key: key, body: body)))
    }

    /// The id and time in a `send` reply.
    public static func sent(from frames: [ServerFrame]) throws -> (id: UInt64, time: Timestamp) {
        guard case .sent(let id, let time) = frames.first else {
            throw ConnectionError("the server answered SEND without a message id")
        }
        return (id, time)
    }

    public func sendDirect(_ body: MessageBody, to nick: String) async throws {
        _ = try await request(.sendDirect(nick: nick, body: body))
    }

    /// Up to `limit` messages before message `before` (0: the newest), oldest first.
    public func history(_ channel: String, before: UInt64 = 0, limit: UInt16 = 50) async throws -> [ChatMessage] {
        try await request(.history(channel: channel, before: before, limit: limit)).compactMap {
            if case .message(let message) = $0 { message } else { nil }
        }
    }

    /// The round-trip time of a ping.
    public func ping() async throws -> Duration {
        let start = ContinuousClock.now
        _ = try await request(.ping(token: UInt64.random(in: 0...UInt64.max)))
        return ContinuousClock.now - start
    }

    /// Says goodbye and waits for the server to close.
    public func quit(reason: String = "") async {
        _ = try? await request(.quit(reason: reason))
        try? await channel.closeFuture.get()
    }

    public func close() async {
        try? await channel.close()
    }

    /// Completes when the connection is closed, by either side.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Whether the connection is still open (a server may end it: a refusal then says why it was closed).
    public var isOpen: Bool { channel.isActive }

    // MARK: - Helpers

    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if error is ChannelError, case .connectTimeout = error as! ChannelError { return "timed out" }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describe(first.error)
        }
        return "\(error)"
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
