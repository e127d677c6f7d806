import NIOCore
import TChatProtocol

/// The peer port's handler until servers can link: it speaks the framing, so a connecting server learns why it is
/// refused instead of seeing a silent close.
final class PeerHandler: ChannelInboundHandler {
    typealias InboundIn = FrameDecoder.InboundOut
    typealias OutboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        try? ServerFrame.error(
            ProtocolError(.notImplemented, "server linking is not available in tchatd \(TChatVersion.current)")
        ).encode(requestID: 0, into: &buffer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
