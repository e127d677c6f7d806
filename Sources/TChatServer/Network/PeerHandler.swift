import Logging
import NIOCore
import NIOSSL
import TChatProtocol
import TChatTLS

/// One link to another server, either side: runs the handshake (`LinkHandshake`), then passes every frame to the
/// server manager (keeping the link) or to the network router (everything else).
///
/// Until the handshake is done a link is a stranger: its frames may be at most 1 KiB, it has 10 seconds, and only
/// a few may be at it at once. Every frame, before and after, must pass `PeerFrameCheck`; a frame that does not is
/// refused (before: with the link; after: alone, logged).
final class PeerHandler: ChannelInboundHandler {
    typealias InboundIn = FrameDecoder.InboundOut
    typealias OutboundOut = ByteBuffer

    private let manager: ServerManager
    private let outbound: Bool
    private var handshake: LinkHandshake
    private let limit: LinkFrameLimit
    /// This server's certificate fingerprint when it accepted the link over TLS: the listener's half of the binding.
    private let ownBinding: [UInt8]?
    private let usesTLS: Bool
    /// The address this server dialled (outbound links).
    private let dialed: String?
    private var timeout: Scheduled<Void>?
    private var peer: UInt64?
    private var holdsPendingSlot = false
    /// Set once the link is being closed from this side: nothing read after that is acted on.
    private var closing = false
    private var remoteIP = "unknown"

    init(
        manager: ServerManager, outbound: Bool, secret: LinkSecret?, limit: LinkFrameLimit, tlsBinding: [UInt8]?,
        usesTLS: Bool, dialed: String? = nil
    ) {
        self.manager = manager
        self.outbound = outbound
        self.limit = limit
        self.ownBinding = tlsBinding
        self.usesTLS = usesTLS
        self.dialed = dialed
        handshake = LinkHandshake(
            role: outbound ? .dialer : .listener, ourID: manager.serverID, secret: secret,
            nonce: (0..<LinkChallenge.byteCount).map { _ in UInt8.random(in: 0...255) })
    }

    /// Bytes queued for a linked server beyond which it is taken to have stopped reading and is unlinked: room for
    /// a catch-up of many channels' history, and still a bound.
    static let writeBound = ChannelOptions.Types.WriteBufferWaterMark(low: 128 << 20, high: 256 << 20)

    private var logger: Logger { manager.logger }

    private var who: String { dialed ?? remoteIP }

    // MARK: - Lifecycle

    func channelActive(context: ChannelHandlerContext) {
        remoteIP = context.remoteAddress?.ipAddress ?? "unknown"
        if !outbound {
            guard manager.admitPendingLink(from: remoteIP) else {
                let busy = ProtocolError(.linkRefused, "too many links are being set up; try again later")
                perform(handshake.abandon(busy), context)
                return
            }
            holdsPendingSlot = true
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let limit = manager.handshakeTimeout
        timeout = context.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            let (handler, context) = loopBound.value
            handler.perform(handler.handshake.timedOut(after: limit), context)
        }
        perform(handshake.start(), context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        releasePendingSlot()
        if let peer { manager.linkLost(peer, channel: context.channel) }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, !closing {
            logger.warning(
                "link closed: the linked server stopped reading",
                metadata: ["peer": "\(who)", "bound": "\(Self.writeBound.high)"])
            closing = true
            context.close(promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tooLarge = error as? FrameDecoder.FrameTooLarge {
            refuseOrUnlink(tooLarge.protocolError, context)
            return
        }
        if usesTLS, !handshake.isLinked {
            let failure = TLSFailure.diagnose(
                error, peer: Self.peerCertificate(context), host: who, trust: manager.linkTrust)
            logger.warning(
                outbound ? "cannot link: TLS failed" : "link refused: TLS failed",
                metadata: ["peer": "\(who)", "reason": "\(failure)"])
        } else {
            logger.debug("link error", metadata: ["peer": "\(who)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }

    // MARK: - Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard handshake.state != .ended, !closing else { return }
        let frame: PeerFrame
        do {
            frame = try PeerFrame(decoding: unwrapInboundIn(data).get())
        } catch {
            refuseOrUnlink(error, context)
            return
        }
        do {
            try PeerFrameCheck.validate(frame, now: .now())
        } catch {
            guard handshake.isLinked else {
                perform(handshake.abandon(ProtocolError(.linkRefused, "\(frame.type): \(error.message)")), context)
                return
            }
            // A well-formed frame from an authenticated server with a field out of bounds: refused alone.
            logger.warning(
                "frame from a linked server refused",
                metadata: ["peer": "\(who)", "frame": "\(frame.type)", "reason": "\(error.message)"])
            return
        }
        // The binding matters only until the link is up: not worked out (a SHA-256) for every frame after.
        let binding = handshake.isLinked ? LinkTranscript.noBinding : binding(context)
        perform(handshake.receive(frame, binding: binding, hello: { manager.hello() }), context)
    }

    /// Before the handshake is done: refuse the link. After: a server that sends what we cannot read is running
    /// something else; do not guess, unlink.
    private func refuseOrUnlink(_ error: any Error, _ context: ChannelHandlerContext) {
        let problem = (error as? ProtocolError) ?? ProtocolError(.malformedFrame, "\(error)")
        if handshake.isLinked {
            logger.warning("link closed: unreadable frame", metadata: ["peer": "\(who)", "error": "\(problem)"])
            closing = true
            var goodbye = context.channel.allocator.buffer(capacity: 64)
            try? PeerFrame.goodbye(reason: problem.message).encode(into: &goodbye)
            context.channel.writeLastWords(goodbye)
        } else {
            perform(handshake.abandon(ProtocolError(.linkRefused, problem.message)), context)
        }
    }

    // MARK: - Acting

    private func perform(_ actions: [LinkHandshake.Action], _ context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 0)
        for action in actions {
            switch action {
            case .send(let frame):
                try? frame.encode(into: &out)
            case .refuse(let error):
                logger.notice("link refused", metadata: ["peer": "\(who)", "reason": "\(error.message)"])
                try? PeerFrame.error(error).encode(into: &out)
                end(context, after: out)
                return
            case .refused(let error):
                logger.warning(
                    "the other server refused the link", metadata: ["peer": "\(who)", "reason": "\(error.message)"])
                end(context, after: out)
                return
            case .established(let hello):
                timeout?.cancel()
                releasePendingSlot()
                if out.readableBytes > 0 { context.write(wrapOutboundOut(out), promise: nil) }
                out = context.channel.allocator.buffer(capacity: 0)
                context.flush()
                guard
                    manager.linkEstablished(
                        hello, channel: context.channel, outbound: outbound, remoteIP: remoteIP, dialed: dialed,
                        usesTLS: usesTLS)
                else {
                    context.close(promise: nil)
                    return
                }
                peer = hello.serverID
                limit.maximum = manager.maxFrame
            case .deliver(let frame):
                deliver(frame, context)
            }
        }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    private func end(_ context: ChannelHandlerContext, after out: ByteBuffer) {
        timeout?.cancel()
        releasePendingSlot()
        context.channel.writeLastWords(out)
    }

    private func deliver(_ frame: PeerFrame, _ context: ChannelHandlerContext) {
        guard let peer else { return }
        switch frame {
        case .challenge, .proof, .hello:
            break
        case .error(let error):
            logger.warning("linked server sent an error", metadata: ["peer": "\(who)", "error": "\(error)"])
            closing = true
            context.close(promise: nil)
        case .load(let clients, let capacity):
            manager.heard(from: peer, load: (clients, capacity))
        case .goodbye:
            closing = true
            context.close(promise: nil)
        case .peers(let known):
            manager.heard(from: peer)
            manager.learn(known, from: peer)
        default:
            manager.heard(from: peer)
            manager.dispatch(frame, from: peer)
        }
    }

    private func releasePendingSlot() {
        guard holdsPendingSlot else { return }
        holdsPendingSlot = false
        manager.releasePendingLink(from: remoteIP)
    }

    // MARK: - TLS binding

    /// The listener certificate's SHA-256 as this side knows it: its own when it listens, the one it was shown when
    /// it dialled; zeros on a plaintext link.
    private func binding(_ context: ChannelHandlerContext) -> [UInt8] {
        guard usesTLS else { return LinkTranscript.noBinding }
        if let ownBinding { return ownBinding }
        guard let certificate = Self.peerCertificate(context),
            let fingerprint = try? CertificateFingerprint(of: certificate)
        else { return LinkTranscript.noBinding }
        return fingerprint.bytes
    }

    private static func peerCertificate(_ context: ChannelHandlerContext) -> NIOSSLCertificate? {
        (try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self))?.peerCertificate
    }
}
