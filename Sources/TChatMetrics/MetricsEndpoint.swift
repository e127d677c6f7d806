public import NIOCore
import NIOHTTP1
import NIOPosix
public import TChatProtocol

/// `--metrics-listen`: a plain HTTP port that answers `GET /metrics` with the Prometheus text format, and nothing
/// else. Off by default; meant for loopback or a monitoring network, since it tells how busy the server is.
public struct MetricsEndpoint: Sendable {
    let channel: any Channel

    /// Where it listens (the real port when 0 was asked for).
    public var address: ServerAddress {
        ServerAddress(host: channel.localAddress?.ipAddress ?? "?", port: channel.localAddress?.port ?? 0)
    }

    public static func bind(
        at address: ServerAddress, exporter: MetricsExporter, group: (any EventLoopGroup)? = nil
    ) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: group ?? MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(exporter: exporter))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return MetricsEndpoint(channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Answers one HTTP request at a time: `GET /metrics` (or `/`) with the metrics, any other path with 404 and any
/// other method with 405.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let exporter: MetricsExporter
    private var request: HTTPRequestHead?

    init(exporter: MetricsExporter) { self.exporter = exporter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        var body: [UInt8]
        var type = "text/plain; charset=utf-8"
        if head.method != .GET && head.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("only GET\n".utf8))
        } else if path == "/metrics" || path == "/" {
            (status, body) = (.ok, exporter.render())
            type = "text/plain; version=0.0.4; charset=utf-8"
        } else {
            (status, body) = (.notFound, Array("the metrics are at /metrics\n".utf8))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if head.method == .HEAD { body = [] }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if !body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
    }
}
