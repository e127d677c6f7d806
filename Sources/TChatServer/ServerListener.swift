import NIOCore
import NIOPosix
import NIOSSL
import TChatProtocol

/// The listening sockets: clients on one port (TLS when the server has a certificate), optionally a plaintext
/// client port on loopback beside it, and other servers on the peer port.
struct ServerListener {
    let clientChannel: any Channel
    let plainChannel: (any Channel)?
    let peerChannel: (any Channel)?
    let ircChannel: (any Channel)?
    let usesTLS: Bool

    static func bind(group: any EventLoopGroup, server: ServerContext) async throws -> ServerListener {
        let configuration = server.configuration
        let usesTLS = server.live.current.tls != nil
        var bound: [any Channel] = []
        do {
            let clients = try await bindClients(
                at: configuration.clientAddress, overTLS: usesTLS, group: group, server: server)
            bound.append(clients)
            var plain: (any Channel)?
            if let address = configuration.plainClientAddress {
                plain = try await bindClients(at: address, overTLS: false, group: group, server: server)
                bound.append(plain!)
            }
            var peers: (any Channel)?
            if configuration.listensForPeers {
                peers = try await bindPeers(overTLS: usesTLS, group: group, server: server)
                bound.append(peers!)
            }
            var irc: (any Channel)?
            if let address = configuration.ircAddress {
                irc = try await bindClients(
                    at: address, overTLS: usesTLS, speaksIRC: true, group: group, server: server)
                bound.append(irc!)
            }
            return ServerListener(
                clientChannel: clients, plainChannel: plain, peerChannel: peers, ircChannel: irc, usesTLS: usesTLS)
        } catch {
            for channel in bound { try? await channel.close() }
            throw error
        }
    }

    private static func bindClients(
        at address: ServerAddress, overTLS: Bool, speaksIRC: Bool = false, group: any EventLoopGroup,
        server: ServerContext
    ) async throws -> any Channel {
        let configuration = server.configuration
        let queueBound = configuration.maxOutboundBytes
        let handshakeLimit = TimeAmount(configuration.frameTimeout)
        return try await ServerBootstrap(group: group)
            // A flood of connections must not fill the kernel's accept queue, where a real client's would wait (or
            // be dropped and retried a second later): a long queue, and many accepts per wake-up.
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Each connection keeps its receive buffer between reads, and most clients are idle: start it small
            // (NIO's default is 2 KiB) and let it grow for the ones that send a lot.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65_536)
            )
            .childChannelOption(.writeBufferWaterMark, value: .init(low: queueBound / 2, high: queueBound))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    // The certificate loaded when the connection arrives: a SIGHUP changes it for the next ones.
                    if overTLS, let tls = server.live.current.tls {
                        try pipeline.addHandler(
                            PlaintextGuard(speaksIRC: speaksIRC) {
                                speaksIRC
                                    ? "this IRC port speaks TLS: connect with TLS (irssi -tls, WeeChat tls=on) to \($0)"
                                    : "this port speaks TLS: connect to \(ServerAddress.tlsScheme)\($0)"
                            })
                        try pipeline.addHandler(NIOSSLServerHandler(context: tls.clientContext))
                        try pipeline.addHandler(TLSHandshakeDeadline(limit: handshakeLimit))
                    }
                    if speaksIRC {
                        let limits = server.live.configuration
                        try pipeline.addHandler(
                            IRCBridge(
                                facts: IRCServerFacts(server: server, overTLS: overTLS),
                                renderCache: server.ircRenderCache(on: channel.eventLoop), rate: limits.requestRate,
                                burst: limits.requestBurst, lineTimeout: TimeAmount(server.configuration.frameTimeout)))
                    }
                    try pipeline.addHandler(
                        ConnectionHandler(server: server, overTLS: overTLS, retriesRefusedNick: speaksIRC))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }

    private static func bindPeers(
        overTLS: Bool, group: any EventLoopGroup, server: ServerContext
    ) async throws -> any Channel {
        let address = server.configuration.peerAddress
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: PeerHandler.writeBound)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    let settings = server.live.current
                    var binding: [UInt8]?
                    if overTLS, let tls = settings.tls {
                        try pipeline.addHandler(
                            PlaintextGuard { _ in
                                "this peer port speaks TLS: a server linking here needs a certificate too (--tls-cert)"
                            })
                        try pipeline.addHandler(tls.peerServerHandler())
                        binding = tls.binding
                    }
                    let limit = LinkFrameLimit()
                    try pipeline.addHandler(ByteToMessageHandler(LinkFrameDecoder(limit: limit)))
                    try pipeline.addHandler(
                        PeerHandler(
                            manager: server.servers, outbound: false, secret: settings.linkSecret, limit: limit,
                            tlsBinding: binding, usesTLS: overTLS))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }

    /// `HOST:PORT` of a bound socket, with the real port when 0 was asked for.
    static func describe(_ channel: any Channel, usesTLS: Bool = false) -> ServerAddress {
        guard let local = channel.localAddress, let port = local.port else {
            return ServerAddress(host: "?", port: 0)
        }
        return ServerAddress(host: local.ipAddress ?? "?", port: port, usesTLS: usesTLS)
    }

    /// Where clients connect (`tls://` when TLS is on).
    var clientAddress: ServerAddress { Self.describe(clientChannel, usesTLS: usesTLS) }
    var plainAddress: ServerAddress? { plainChannel.map { Self.describe($0) } }
    var peerAddress: ServerAddress? { peerChannel.map { Self.describe($0) } }
    var ircAddress: ServerAddress? { ircChannel.map { Self.describe($0, usesTLS: usesTLS) } }

    func close() async {
        try? await clientChannel.close()
        try? await plainChannel?.close()
        try? await peerChannel?.close()
        try? await ircChannel?.close()
    }
}
