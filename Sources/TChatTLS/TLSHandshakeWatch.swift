public import NIOCore
public import NIOSSL
import NIOTLS

/// Sits behind a TLS handler and reports how its handshake ended: with the certificate the other side presented,
/// or with a `TLSFailure` that says why, so a connection can wait for it before saying anything.
public final class TLSHandshakeWatch: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let promise: EventLoopPromise<NIOSSLCertificate?>
    private let host: String
    private let trust: TLSTrust
    private var done = false

    /// What `watch` hands back: the result of the handshake.
    public var result: EventLoopFuture<NIOSSLCertificate?> { promise.futureResult }

    public init(promise: EventLoopPromise<NIOSSLCertificate?>, host: String, trust: TLSTrust) {
        self.promise = promise
        self.host = host
        self.trust = trust
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, !done {
            done = true
            promise.succeed(peerCertificate(context))
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure = TLSFailure.diagnose(error, peer: peerCertificate(context), host: host, trust: trust)
        // BoringSSL may report the end of the stream before the bytes that came with it say more (a plaintext
        // server's error frame reads as a wrong TLS version): the end decides only once the handler goes.
        if failure != .closedDuringHandshake { fail(failure) }
        context.fireErrorCaught(error)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        // Not failed yet: the TLS handler may still report why, as the pipeline winds down (`handlerRemoved`).
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        fail(.closedDuringHandshake)
    }

    private func fail(_ failure: TLSFailure) {
        guard !done else { return }
        done = true
        promise.fail(failure)
    }

    private func peerCertificate(_ context: ChannelHandlerContext) -> NIOSSLCertificate? {
        (try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self))?.peerCertificate
    }
}
