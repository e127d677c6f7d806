import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on 127.0.0.1 to one target, which a test can cut (every relayed connection closed, new ones refused)
/// and mend: one server's way to its database lost while another's stays, without root or iptables.
public final class CuttableProxy: Sendable {
    private struct State {
        var cut = false
        var open: [any Channel] = []
    }

    /// Shared with the accepting closure (a `Mutex` itself cannot be captured).
    private final class Connections: Sendable {
        let state = Mutex(State())
    }

    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let listener: any Channel
    private let connections: Connections

    public init(to targetPort: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = Connections()
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                let refused = connections.state.withLock { state in
                    if !state.cut { state.open.append(inbound) }
                    return state.cut
                }
                guard !refused else { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        connections.state.withLock { $0.open.append(outbound) }
                        return inbound.pipeline.addHandler(Relay(to: outbound)).flatMap {
                            outbound.pipeline.addHandler(Relay(to: inbound))
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.group = group
        self.listener = listener
        self.connections = connections
        port = listener.localAddress?.port ?? 0
    }

    /// Closes every relayed connection and refuses new ones until `mend`.
    public func cut() {
        let open = connections.state.withLock { state in
            state.cut = true
            defer { state.open = [] }
            return state.open
        }
        for channel in open { channel.close(promise: nil) }
    }

    public func mend() {
        connections.state.withLock { $0.cut = false }
    }

    public func stop() async {
        cut()
        try? await listener.close()
        try? await group.shutdownGracefully()
    }

    /// Writes what one side reads to the other, and closes the other when this side closes.
    private final class Relay: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(to partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
        }
    }
}
