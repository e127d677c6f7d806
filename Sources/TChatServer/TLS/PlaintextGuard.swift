import NIOCore
import TChatProtocol

/// Sits in front of the TLS handler of a TLS port and looks at the first byte: a TLS handshake starts with 0x16.
/// Anything else is a client (or a server) speaking plaintext to a TLS port; it gets one plaintext ERROR frame
/// saying so (`tls-required`) and the connection is closed, instead of a TLS alert it cannot read.
final class PlaintextGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let tlsHandshakeRecord: UInt8 = 0x16

    /// The sentence to send, given this port's `HOST:PORT`.
    private let refusal: @Sendable (String) -> String
    /// On the IRC port the refusal is IRC's ERROR line, not a frame.
    private let speaksIRC: Bool
    private var refused = false

    init(speaksIRC: Bool = false, refusal: @escaping @Sendable (String) -> String) {
        self.refusal = refusal
        self.speaksIRC = speaksIRC
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if first == Self.tlsHandshakeRecord {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        refused = true
        var reply = context.channel.allocator.buffer(capacity: 128)
        let local = context.localAddress.flatMap { address in
            address.ipAddress.map { ServerAddress(host: $0, port: address.port ?? 0).hostAndPort }
        }
        if speaksIRC {
            reply.writeString("ERROR :Closing link: \(refusal(local ?? "?"))\r\n")
        } else {
            try? ServerFrame.error(ProtocolError(.tlsRequired, refusal(local ?? "?"))).encode(
                requestID: 0, into: &reply)
        }
        context.writeLastWords(reply)
    }
}
