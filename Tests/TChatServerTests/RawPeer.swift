import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TChatProtocol
import TChatTLS
import Testing

@testable import TChatServer

/// Something on the peer port that is not a real server: it sends whatever a test says, frame by frame, and keeps
/// what it gets back. It can prove a secret like a server would (`authenticate`), to test what an authenticated but
/// lying server gets.
final class RawPeer: Sendable {
    let channel: any Channel
    private let log: Log

    final class Log: Sendable {
        let frames = Mutex<[PeerFrame]>([])
        let undecodable = Mutex(0)
        let closed = Mutex(false)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = FrameDecoder.InboundOut
        let log: Log

        init(log: Log) { self.log = log }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let raw = try? unwrapInboundIn(data).get(), let frame = try? PeerFrame(decoding: raw) else {
                log.undecodable.withLock { $0 += 1 }
                return
            }
            log.frames.withLock { $0.append(frame) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            log.closed.withLock { $0 = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// Connects to a peer port, over TLS (any certificate accepted, as a link's TLS does) when `tls` is set.
    static func connect(to address: ServerAddress, tls: Bool = false, from source: String? = nil) async throws
        -> RawPeer
    {
        let log = Log()
        let client = tls ? try TLSClient(trust: .unverified) : nil
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        let channel =
            try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let client {
                        try channel.pipeline.syncOperations.addHandler(try client.makeHandler(host: address.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(maxFrameLength: 1 << 24)))
                    try channel.pipeline.syncOperations.addHandler(Collector(log: log))
                }
            }.connect(host: address.host, port: address.port).get()
        return RawPeer(channel: channel, log: log)
    }

    private init(channel: any Channel, log: Log) {
        self.channel = channel
        self.log = log
    }

    var frames: [PeerFrame] { log.frames.withLock { $0 } }

    /// The id the server it linked to gave in its HELLO, once that has arrived.
    var linkedServerID: UInt64? {
        frames.compactMap { if case .hello(let hello) = $0 { hello.serverID } else { nil } }.first
    }

    var frameCount: Int { log.frames.withLock { $0.count } }

    /// Whether a frame received after the first `index` matches, without copying what came before.
    func received(after index: Int, where matches: (PeerFrame) -> Bool) -> Bool {
        log.frames.withLock { frames in index < frames.count && frames[index...].contains(where: matches) }
    }
    var isClosed: Bool { log.closed.withLock { $0 } || !channel.isActive }

    func send(_ frames: PeerFrame...) async throws {
        var buffer = ByteBuffer()
        for frame in frames { try frame.encode(into: &buffer) }
        try await channel.writeAndFlush(buffer)
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Whether the server closed the link within `timeout` (waiting on the close itself, not polling).
    func closed(within timeout: Duration) async -> Bool {
        let channel = self.channel
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await channel.closeFuture.get()) != nil || !channel.isActive }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || !channel.isActive
        }
    }

    /// The error the server refused the link with, once it has closed the link.
    func refusal(within timeout: Duration = .seconds(5)) async -> ProtocolError? {
        _ = await eventually(within: timeout) { isClosed }
        return frames.compactMap { if case .error(let error) = $0 { error } else { nil } }.first
    }

    /// Runs the dialling side of the handshake with `secret`; true once the server's hello has come.
    func authenticate(
        secret: LinkSecret, as hello: PeerHello, binding: [UInt8] = LinkTranscript.noBinding
    ) async throws -> Bool {
        var handshake = LinkHandshake(
            role: .dialer, ourID: hello.serverID, secret: secret,
            nonce: (0..<32).map { _ in UInt8.random(in: 0...255) })
        var handled = 0
        for case .send(let frame) in handshake.start() { try await send(frame) }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, !handshake.isLinked, !isClosed {
            let all = frames
            while handled < all.count {
                let actions = handshake.receive(all[handled], binding: binding) { hello }
                handled += 1
                for case .send(let frame) in actions { try await send(frame) }
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        return handshake.isLinked
    }

    /// A hello for a fake server: plausible in every field unless the test changes one.
    static func hello(
        id: UInt64 = UInt64.random(in: 1...UInt64.max), name: String = "mallory", clientAddress: String = "",
        clients: UInt32 = 0, startedAt: Timestamp = .now(), store: String = ""
    ) -> PeerHello {
        PeerHello(
            serverID: id, name: name, softwareVersion: "0.1.0", processID: 1, host: "evil",
            clientAddress: clientAddress, peerAddress: "127.0.0.1:9", clients: clients, capacity: 10_000,
            startedAt: startedAt, store: store)
    }

    func close() async {
        try? await channel.close()
    }
}
