import NIOCore
import NIOPosix
import TChatClient
import TChatProtocol
import Testing

/// A server that welcomes the client and then never says anything again, the way a vanished host looks.
final class SilentServer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Answer only the first read (the hello, request id 1); ignore pings and everything after.
        guard !answered else { return }
        answered = true
        var reply = ByteBuffer()
        let welcome = Welcome(
            version: 1, serverName: "silent", serverVersion: "0", nick: "me", address: "127.0.0.1:1",
            connectedAt: .now(), maxFrameLength: 65536, welcomeText: "", motd: "")
        try? ServerFrame.welcome(welcome).encode(requestID: 1, into: &reply)
        try? ServerFrame.ok.encode(requestID: 1, into: &reply)
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
    }
}

@Suite struct KeepAliveTests {
    @Test func aServerThatFallsSilentIsGivenUpAfterTwoIntervals() async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SilentServer()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        var options = ConnectOptions(
            server: ServerAddress(host: "127.0.0.1", port: listener.localAddress!.port!), nick: "me")
        options.keepAlive = .milliseconds(200)
        let connection = try await ChatConnection.connect(options)
        let start = ContinuousClock.now
        var iterator = connection.events.makeAsyncIterator()
        var last: ServerFrame?
        while let event = await iterator.next() { last = event }
        let waited = ContinuousClock.now - start
        #expect(last == nil, "the client gave up by itself; the server sent nothing")
        #expect(waited >= .milliseconds(200) && waited < .seconds(3), "gave up after \(waited)")
        await #expect(throws: ProtocolError.self) { _ = try await connection.request(.whoami) }
    }
}

@Suite struct BackoffTests {
    @Test func delaysDoubleUpToTheCapWithJitterAndResetAfterSuccess() {
        var backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(4), jitter: 0.2)
        #expect(backoff.next(random: 0) == .milliseconds(500))
        #expect(backoff.next(random: 0) == .seconds(1))
        #expect(backoff.next(random: 0) == .seconds(2))
        #expect(backoff.next(random: 0) == .seconds(4))
        #expect(backoff.next(random: 0) == .seconds(4), "capped")
        #expect(backoff.next(random: 0.999) > .milliseconds(3200) && backoff.attempt == 6, "at most 20% off")
        backoff.reset()
        #expect(backoff.next(random: 0.5) == .milliseconds(450))
    }
}
