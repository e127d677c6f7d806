import Logging
import NIOCore
import TChatProtocol

/// One link to another server, either side: says hello, then passes every frame to the server manager (keeping
/// the link) or to the network router (everything else).
final class PeerHandler: ChannelInboundHandler {
    typealias InboundIn = FrameDecoder.InboundOut
    typealias OutboundOut = ByteBuffer

    private let manager: ServerManager
    private let outbound: Bool
    private var peer: UInt64?

    init(manager: ServerManager, outbound: Bool) {
        self.manager = manager
        self.outbound = outbound
    }

    func channelActive(context: ChannelHandlerContext) {
        manager.send(.hello(manager.hello()), to: context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame: PeerFrame
        do {
            frame = try PeerFrame(decoding: unwrapInboundIn(data).get())
        } catch {
            // A server that sends what we cannot read is running something else: do not guess, unlink.
            manager.send(.goodbye(reason: "\(error)"), to: context.channel)
            context.close(promise: nil)
            return
        }
        guard let peer else {
            guard case .hello(let hello) = frame,
                manager.linkEstablished(hello, channel: context.channel, outbound: outbound)
            else {
                context.close(promise: nil)
                return
            }
            self.peer = hello.serverID
            return
        }
        switch frame {
        case .hello:
            break
        case .load(let clients, let capacity):
            manager.heard(from: peer, load: (clients, capacity))
        case .goodbye:
            context.close(promise: nil)
        case .peers(let known):
            manager.heard(from: peer)
            manager.learn(known)
        default:
            manager.heard(from: peer)
            manager.dispatch(frame, from: peer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let peer { manager.linkLost(peer, channel: context.channel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
