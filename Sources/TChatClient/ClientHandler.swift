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

    init(events: ChatEvents.Source?, closeReason: CloseReason) {
        self.events = events
        self.closeReason = closeReason
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
            request.reply.fail(error)
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
