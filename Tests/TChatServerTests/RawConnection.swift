import NIOCore
import NIOPosix
import Synchronization
import TChatProtocol
import Testing

/// A client that speaks raw bytes, for tests that must send what the real client never would. Unless told not to
/// read, it collects every frame the server sends.
final class RawConnection: Sendable {
    let channel: any Channel

    static func connect(to address: ServerAddress, reading: Bool = true, receiveBuffer: Int? = nil) async throws
        -> RawConnection
    {
        let log = FrameLog()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: reading)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel = try await bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(FrameDecoder(maxFrameLength: 1 << 24)))
                try channel.pipeline.syncOperations.addHandler(Collector(log: log))
            }
        }.connect(host: address.host, port: address.port).get()
        return RawConnection(channel: channel, log: log)
    }

    /// Where the collector puts what it reads.
    final class FrameLog: Sendable {
        let received = Mutex<[(id: UInt32, frame: ServerFrame)]>([])
        let closed = Mutex(false)
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = FrameDecoder.InboundOut
        let log: FrameLog

        init(log: FrameLog) { self.log = log }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let raw = try? unwrapInboundIn(data).get(), let frame = try? ServerFrame(decoding: raw) else {
                context.close(promise: nil)
                return
            }
            log.received.withLock { $0.append((raw.requestID, frame)) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            log.closed.withLock { $0 = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private let log: FrameLog

    private init(channel: any Channel, log: FrameLog) {
        self.channel = channel
        self.log = log
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ frame: ClientFrame, id: UInt32) async throws {
        var buffer = ByteBuffer()
        try frame.encode(requestID: id, into: &buffer)
        try await channel.writeAndFlush(buffer)
    }

    var frames: [(id: UInt32, frame: ServerFrame)] { log.received.withLock { $0 } }

    /// Whether the server closed the connection (seen by the reader, or by the socket for a non-reading client).
    var isClosed: Bool { log.closed.withLock { $0 } || !channel.isActive }

    /// Waits for the server's final reply (OK or ERROR) to request `id` and returns the frames carrying that id.
    func reply(to id: UInt32, within timeout: Duration = .seconds(5)) async -> [ServerFrame] {
        let done = await eventually(within: timeout) {
            frames.contains { $0.id == id && ($0.frame.type == .ok || $0.frame.type == .error) }
        }
        if !done { Issue.record("no final reply to request \(id); got \(frames)") }
        return frames.filter { $0.id == id }.map(\.frame)
    }

    /// Says hello as `nick` and waits for the welcome.
    /// As an older client would, by default: no flags (notices, for one, come as text).
    func hello(_ nick: String, knowsNotices: Bool = false) async throws {
        let hello = Hello(
            nick: nick, clientName: "raw", clientVersion: "1", processID: 1, host: "h", knowsNotices: knowsNotices)
        try await send(.hello(hello), id: 1)
        let reply = await reply(to: 1)
        #expect(reply.last == .ok, "hello as \(nick) was refused: \(reply)")
    }
}
