import Logging
import NIOCore
import NIOPosix
import Synchronization
import TChatProtocol
import TChatTLS

/// Keeping links to the addresses this server knows: the registry's and gossip's, dialled again with back-off.
extension ServerManager {
    /// Adds the registry's live servers to the addresses to link to.
    func discover() {
        guard let registry else { return }
        let entries = registry.others(than: ServerIdentity.hex(serverID))
        state.withLock { state in
            for entry in entries { state.dials.add(entry.peerAddress) }
        }
    }

    /// Dials every known address with no link and no attempt under way whose back-off has passed.
    func dialDue() {
        guard live.isLinkingOn else { return }  // without a secret no link could be proved
        let now = NIODeadline.now()
        let due: [String] = state.withLock { state in
            guard !state.stopped else { return [] }
            let linked = Set(state.peers.values.compactMap(\.linkAddress))
            return state.dials.due(at: now, linked: linked, own: state.peerAddress)
        }
        for address in due { dial(address) }
    }

    func dial(_ text: String) {
        guard let address = try? ServerAddress(parsing: text, defaultPort: ServerAddress.defaultPeerPort) else {
            return
        }
        let settings = live.current
        let tls = settings.tls
        let secret = settings.linkSecret
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: PeerHandler.writeBound)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(try tls.dialer.makeHandler(host: address.host)) }
                    let limit = LinkFrameLimit()
                    try pipeline.addHandler(ByteToMessageHandler(LinkFrameDecoder(limit: limit)))
                    try pipeline.addHandler(
                        PeerHandler(
                            manager: self, outbound: true, secret: secret, limit: limit, tlsBinding: nil,
                            usesTLS: tls != nil, dialed: text))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { [self] result in
                let firstFailure: Bool = state.withLock { state in
                    state.dials.attemptEnded(text)
                    guard case .failure = result else { return false }
                    return state.dials.failed(text, at: .now())
                }
                switch result {
                case .failure(let error):
                    let metadata: Logger.Metadata = ["peer": "\(text)", "error": "\(Self.describe(error))"]
                    if firstFailure {
                        logger.warning("cannot link (trying again with back-off)", metadata: metadata)
                    } else {
                        logger.debug("cannot link", metadata: metadata)
                    }
                case .success(let channel):
                    // A link refused in its handshake is not dialled again at once, but after the back-off.
                    channel.closeFuture.whenComplete { [self] _ in
                        state.withLock { state in
                            let linked = state.peers.values.contains { $0.channel === channel }
                            if !linked { state.dials.failed(text, at: .now()) }
                        }
                    }
                }
            }
    }

    /// A failed connection attempt in the system's words ("Connection refused"), not NIO's type names.
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describe(first.error)
        }
        if let error = error as? NIOConnectionError, let resolution = error.dnsAAAAError ?? error.dnsAError {
            return "cannot resolve the host (\(resolution))"
        }
        return "\(error)"
    }
}
