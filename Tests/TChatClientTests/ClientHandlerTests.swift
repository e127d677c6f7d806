import NIOCore
import NIOEmbedded
import TChatProtocol
import Testing

@testable import TChatClient

/// The client's request matching and event handling, against an embedded channel: no server, exact bytes.
@Suite struct ClientHandlerTests {
    final class Fixture {
        let channel: EmbeddedChannel
        let events: ChatEvents
        let closeReason = CloseReason()

        init() throws {
            let (events, source, _) = ChatEvents.make()
            self.events = events
            channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
            try channel.pipeline.syncOperations.addHandler(ClientHandler(events: source, closeReason: closeReason))
        }

        /// Sends a request through the handler; returns the id it was given and the future of its result.
        func request(_ frame: ClientFrame) throws -> (UInt32, EventLoopFuture<[ServerFrame]>) {
            let promise = channel.eventLoop.makePromise(of: [ServerFrame].self)
            try channel.writeOutbound(OutboundRequest(frame: frame, reply: promise))
            var written = try #require(try channel.readOutbound(as: ByteBuffer.self))
            var decoder = FrameDecoder()
            let raw = try #require(try decoder.decode(buffer: &written)).get()
            #expect(try ClientFrame(decoding: raw) == frame)
            return (raw.requestID, promise.futureResult)
        }

        func serverSends(_ frame: ServerFrame, id: UInt32) throws {
            var buffer = ByteBuffer()
            try frame.encode(requestID: id, into: &buffer)
            try channel.writeInbound(buffer)
        }
    }

    @Test func resultFramesAreCollectedUntilOK() throws {
        let fixture = try Fixture()
        let (first, firstReply) = try fixture.request(.listChannels)
        let (second, secondReply) = try fixture.request(.whoami)
        #expect(first != 0 && second != 0 && first != second)
        let info = ChannelInfo(
            name: "#a", members: 1, topic: "", topicSetBy: "", topicSetAt: .init(milliseconds: 0), lastMessageID: 0)
        try fixture.serverSends(.channelInfo(info), id: first)
        try fixture.serverSends(.error(ProtocolError(.internalError, "nope")), id: second)
        try fixture.serverSends(.ok, id: first)
        #expect(try firstReply.wait() == [.channelInfo(info)])
        #expect(throws: ProtocolError(.internalError, "nope")) { try secondReply.wait() }
    }

    @Test func pingIsAnsweredByPongAndServerPingsGetPonged() throws {
        let fixture = try Fixture()
        let (id, reply) = try fixture.request(.ping(token: 5))
        try fixture.serverSends(.pong(token: 5), id: id)
        #expect(try reply.wait() == [.pong(token: 5)])
        try fixture.serverSends(.ping(token: 9), id: 0)
        var written = try #require(try fixture.channel.readOutbound(as: ByteBuffer.self))
        var decoder = FrameDecoder()
        let raw = try #require(try decoder.decode(buffer: &written)).get()
        let answer = try ClientFrame(decoding: raw)
        #expect(raw.requestID == 0 && answer == .pong(token: 9))
    }

    @Test func eventsAreDeliveredAndACloseFailsWhatIsPendingWithTheServersReason() async throws {
        let fixture = try Fixture()
        let (_, reply) = try fixture.request(.listClients(channel: ""))
        let message = ChatMessage(channel: "#a", id: 1, time: .init(milliseconds: 1), from: "x", body: .text("hi"))
        try fixture.serverSends(.message(message), id: 0)
        try fixture.serverSends(.error(ProtocolError(.shuttingDown, "bye")), id: 0)
        try await fixture.channel.close().get()
        await #expect(throws: ProtocolError(.shuttingDown, "bye")) { try await reply.get() }
        var received: [ServerFrame] = []
        for await event in fixture.events { received.append(event) }
        #expect(received == [.message(message), .error(ProtocolError(.shuttingDown, "bye"))])
    }
}
