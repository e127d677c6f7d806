import NIOCore
import NIOPosix
import TChatProtocol

/// The two listening sockets: clients on one port, other servers on the other.
struct ServerListener {
    let clientChannel: any Channel
    let peerChannel: any Channel

    static func bind(group: any EventLoopGroup, server: ServerContext) async throws -> ServerListener {
        let configuration = server.configuration
        let maxFrame = configuration.maxFrameLength
        let queueBound = configuration.maxOutboundBytes
        let clients = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Each connection keeps its receive buffer between reads, and most clients are idle: start it small
            // (NIO's default is 2 KiB) and let it grow for the ones that send a lot.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65_536)
            )
            .childChannelOption(.writeBufferWaterMark, value: .init(low: queueBound / 2, high: queueBound))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let watch = PartialFrameWatch()
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(WatchedFrameDecoder(maxFrameLength: maxFrame, watch: watch)))
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(server: server, partialFrame: watch))
                }
            }
            .bind(host: configuration.clientAddress.host, port: configuration.clientAddress.port)
            .get()
        let peers: any Channel
        do {
            peers = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(FrameDecoder(maxFrameLength: maxFrame)))
                        try channel.pipeline.syncOperations.addHandler(
                            PeerHandler(manager: server.servers, outbound: false))
                    }
                }
                .bind(host: configuration.peerAddress.host, port: configuration.peerAddress.port)
                .get()
        } catch {
            try? await clients.close()
            throw error
        }
        return ServerListener(clientChannel: clients, peerChannel: peers)
    }

    /// `HOST:PORT` of a bound socket, with the real port when 0 was asked for.
    static func describe(_ channel: any Channel, fallback: ServerAddress) -> ServerAddress {
        guard let local = channel.localAddress, let port = local.port else { return fallback }
        return ServerAddress(host: local.ipAddress ?? fallback.host, port: port)
    }

    var clientAddress: ServerAddress { Self.describe(clientChannel, fallback: ServerAddress(host: "?", port: 0)) }
    var peerAddress: ServerAddress { Self.describe(peerChannel, fallback: ServerAddress(host: "?", port: 0)) }

    func close() async {
        try? await clientChannel.close()
        try? await peerChannel.close()
    }
}
