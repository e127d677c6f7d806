import NIOCore
import Synchronization
import TChatProtocol

/// Why a connection ended, when the server said: shared by the handler, which learns it, and the connection,
/// which reports it to requests that could not even be written.
final class CloseReason: Sendable {
    private let value = Mutex<ProtocolError?>(nil)

    var error: ProtocolError? { value.withLock { $0 } }

    func set(_ error: ProtocolError) { value.withLock { $0 = error } }
}

/// The latest keep-alive round trip: the lag a client shows its user.
public final class RoundTrip: Sendable {
    private let value = Mutex<Duration?>(nil)

    public init() {}

    /// Nil until the first keep-alive ping has been answered.
    public var latest: Duration? { value.withLock { $0 } }

    func record(_ duration: Duration) { value.withLock { $0 = duration } }
}

/// A request on its way out: the handler gives it an id and remembers whom to answer.
struct OutboundRequest {
    var frame: ClientFrame
    var reply: EventLoopPromise<[ServerFrame]>
}

/// Matches replies to requests by id, answers the server's pings, and passes events on with back-pressure.
///
/// Lives on the connection's event loop, so its tables need no lock. When the event consumer falls behind, reading
/// from the socket pauses (`autoRead` off) until it catches up: memory stays bounded and the server's own send
/// queue bound takes over from there.
final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = FrameDecoder.InboundOut
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var frame: FrameType
        var items: [ServerFrame] = []
        let reply: EventLoopPromise<[ServerFrame]>
    }

    private var nextID: UInt32 = 1
    private var pending: [UInt32: Pending] = [:]
    private let events: ChatEvents.Source?
    /// The last connection-level error (request id 0): the reason a close that follows it gives.
    private let closeReason: CloseReason
    private let keepAlive: TimeAmount?
    private var keepAliveTask: RepeatedTask?
    private var lastRead = NIODeadline.now()
    private let roundTrip: RoundTrip

    init(
        events: ChatEvents.Source?, closeReason: CloseReason, keepAlive: TimeAmount? = nil,
        roundTrip: RoundTrip = RoundTrip()
    ) {
        self.events = events
        self.closeReason = closeReason
        self.keepAlive = keepAlive
        self.roundTrip = roundTrip
    }

    func channelActive(context: ChannelHandlerContext) {
        if let interval = keepAlive {
            // Checking twice per interval leaves a pinged server at least half an interval to answer.
            let check = TimeAmount.nanoseconds(max(interval.nanoseconds / 2, 1_000_000))
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            keepAliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: check, delay: check) { _ in
                let (handler, context) = bound.value
                handler.checkAlive(context: context, interval: interval)
            }
        }
        context.fireChannelActive()
    }

    /// Pings a quiet server (request id 0, the send time as token) and gives up on one quiet for two intervals.
    private func checkAlive(context: ChannelHandlerContext, interval: TimeAmount) {
        let quiet = NIODeadline.now() - lastRead
        if quiet >= interval * 2 {
            closeReason.set(
                ProtocolError(.idleTimeout, "the server did not answer for \(quiet.nanoseconds / 1_000_000) ms"))
            context.close(promise: nil)
        } else if quiet >= interval {
            var buffer = context.channel.allocator.buffer(capacity: 17)
            try? ClientFrame.ping(token: NIODeadline.now().uptimeNanoseconds).encode(requestID: 0, into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        let id = nextID
        nextID = nextID == UInt32.max ? 1 : nextID + 1  // 0 is reserved for events
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try request.frame.encode(requestID: id, into: &buffer)
        } catch {
            request.reply.fail(error)
            promise?.fail(error)
            return
        }
        pending[id] = Pending(frame: request.frame.type, reply: request.reply)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        let raw: RawFrame
        let frame: ServerFrame
        do {
            raw = try unwrapInboundIn(data).get()
            frame = try ServerFrame(decoding: raw)
        } catch {
            // A server that sends what we cannot read is not one we can keep talking to.
            closeReason.set(error)
            context.close(promise: nil)
            return
        }
        if raw.requestID == 0 {
            event(frame, context: context)
            return
        }
        guard var request = pending[raw.requestID] else { return }
        switch frame {
        case .ok:
            pending[raw.requestID] = nil
            request.reply.succeed(request.items)
        case .error(let error):
            pending[raw.requestID] = nil
            if error.code == .redirected,
                let redirect = request.items.lazy.compactMap({ frame -> Redirect? in
                    if case .redirect(let address, let server) = frame {
                        Redirect(address: address, server: server)
                    } else {
                        nil
                    }
                }).first
            {
                request.reply.fail(redirect)
            } else {
                request.reply.fail(error)
            }
        case .pong where request.frame == .ping:
            pending[raw.requestID] = nil
            request.reply.succeed([frame])
        default:
            request.items.append(frame)
            pending[raw.requestID] = request
        }
    }

    private func event(_ frame: ServerFrame, context: ChannelHandlerContext) {
        switch frame {
        case .ping(let token):
            var buffer = context.channel.allocator.buffer(capacity: 17)
            try? ClientFrame.pong(token: token).encode(requestID: 0, into: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            return
        case .pong(let token):
            // The answer to a keep-alive ping: its token is when it was sent.
            let now = NIODeadline.now().uptimeNanoseconds
            if token <= now { roundTrip.record(.nanoseconds(Int64(now - token))) }
            return
        case .error(let error):
            closeReason.set(error)
        default:
            break
        }
        guard let events else { return }
        if events.yield(frame) == .stopProducing {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAliveTask?.cancel()
        keepAliveTask = nil
        let error: any Error = closeReason.error ?? ConnectionError("the server closed the connection")
        let waiting = pending
        pending = [:]
        for (_, request) in waiting { request.reply.fail(error) }
        events?.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tooLarge = error as? FrameDecoder.FrameTooLarge {
            closeReason.set(tooLarge.protocolError)
        }
        context.close(promise: nil)
    }
}
