import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import TChatProtocol
import Testing

@testable import TChatServer

/// The fan-out path on one embedded loop: `LoopMailbox` keeps order and batches, `Outbox` writes once per client per
/// drain, `DeliveryReceipt` completes when every party has reported.
@Suite struct FanoutPathTests {
    let loop = EmbeddedEventLoop()

    func client(_ id: UInt64, mailbox: LoopMailbox) throws -> (ClientSession, EmbeddedChannel) {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let session = ClientSession(
            id: id, channel: channel, address: "127.0.0.1:\(id)", connectedAt: .now(),
            hello: Hello(nick: "n\(id)", clientName: "unit", clientVersion: "1", processID: 1, host: "h"),
            mailbox: mailbox)
        return (session, channel)
    }

    /// What a future came to, readable from the test after the loop ran.
    final class Outcome: Sendable {
        private let state = Mutex<String?>(nil)
        var value: String? { state.withLock { $0 } }

        init(_ future: EventLoopFuture<Void>) {
            future.whenComplete { result in
                self.state.withLock {
                    switch result {
                    case .success: $0 = "done"
                    case .failure(let error): $0 = "failed: \(error)"
                    }
                }
            }
        }
    }

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Every write the channel saw, one string per write.
    static func writes(_ channel: EmbeddedChannel) throws -> [String] {
        var writes: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { writes.append(String(buffer: buffer)) }
        return writes
    }

    @Test func postsAreWrittenInOrderAsOneWritePerClientPerDrain() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (a, channelA) = try client(1, mailbox: mailbox)
        let (b, channelB) = try client(2, mailbox: mailbox)
        mailbox.post(Self.bytes("1"), to: [a, b])
        mailbox.post(Self.bytes("2"), to: [a])
        mailbox.post(Self.bytes("3"), to: [a, b], excluding: a.id)  // a's own message, say
        a.send(Self.bytes("4"))
        // Nothing is written until the loop runs the drain.
        #expect(try Self.writes(channelA).isEmpty)
        loop.run()
        let writesA = try Self.writes(channelA)
        let writesB = try Self.writes(channelB)
        #expect(writesA == ["124"], "\(writesA)")
        #expect(writesB == ["13"], "\(writesB)")
    }

    @Test func runsToOneAudienceAreJoinedAndOtherPostsKeepTheirPlace() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (a, channelA) = try client(1, mailbox: mailbox)
        let (b, channelB) = try client(2, mailbox: mailbox)
        let group = LoopMailbox.Audience.Group()
        let room = LoopMailbox.Audience(group: group, generation: 1)
        mailbox.post(Self.bytes("m1 "), to: [a, b], audience: room)
        mailbox.post(Self.bytes("m2 "), to: [a, b], audience: room)
        mailbox.post(Self.bytes("reply "), to: [a])
        mailbox.post(Self.bytes("m3 "), to: [a, b], audience: room)
        // A new generation is a different member list: it must not be merged into the run before it.
        mailbox.post(Self.bytes("m4"), to: [b], audience: LoopMailbox.Audience(group: group, generation: 2))
        loop.run()
        #expect(try Self.writes(channelA) == ["m1 m2 reply m3 "])
        #expect(try Self.writes(channelB) == ["m1 m2 m3 m4"])
    }

    /// A run to one room whose messages each leave their sender out (IRC senders without echo-message): the
    /// others get the run whole, each sender everything in it but its own, in order.
    @Test func aRunLeavingOutEachMessagesSenderGivesEachSenderTheRest() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (a, channelA) = try client(1, mailbox: mailbox)
        let (b, channelB) = try client(2, mailbox: mailbox)
        let (c, channelC) = try client(3, mailbox: mailbox)
        let room = LoopMailbox.Audience(group: LoopMailbox.Audience.Group(), generation: 1)
        mailbox.post(Self.bytes("a1 "), to: [a, b, c], excluding: a.id, audience: room)
        mailbox.post(Self.bytes("b1 "), to: [a, b, c], excluding: b.id, audience: room)
        mailbox.post(Self.bytes("a2 "), to: [a, b, c], excluding: a.id, audience: room)
        mailbox.post(Self.bytes("all "), to: [a, b, c], audience: room)
        loop.run()
        #expect(try Self.writes(channelA) == ["b1 all "])
        #expect(try Self.writes(channelB) == ["a1 a2 all "])
        #expect(try Self.writes(channelC) == ["a1 b1 a2 all "])
        // A run of one message its sender is left out of: nothing for the sender.
        mailbox.post(Self.bytes("b2"), to: [a, b, c], excluding: b.id, audience: room)
        loop.run()
        #expect(try Self.writes(channelB).isEmpty)
        #expect(try Self.writes(channelA) == ["b2"])
    }

    @Test func drainNowWritesWhatIsPostedBeforeAClose() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (a, channelA) = try client(1, mailbox: mailbox)
        a.send(Self.bytes("last words"))
        mailbox.drainNow()
        #expect(try Self.writes(channelA) == ["last words"])
        loop.run()  // the drain queued by the post finds nothing left
        #expect(try Self.writes(channelA).isEmpty)
    }

    @Test func aDeliveryReceiptIsReportedOnceItsFramesAreHandedOver() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (a, _) = try client(1, mailbox: mailbox)
        let promise = loop.makePromise(of: Void.self)
        let receipt = DeliveryReceipt(parties: 2, promise: promise)
        let outcome = Outcome(promise.futureResult)
        mailbox.post(Self.bytes("x"), to: [a], receipt: receipt)
        receipt.report()  // the store writer's part
        #expect(outcome.value == nil)
        loop.run()  // the mailbox's part
        #expect(outcome.value == "done")
    }

    @Test func aReceiptFailsWithTheFirstErrorOnlyOnceEveryPartyReported() throws {
        let promise = loop.makePromise(of: Void.self)
        let receipt = DeliveryReceipt(parties: 3, promise: promise)
        let outcome = Outcome(promise.futureResult)
        receipt.report(StorageError("disk full"))
        receipt.report(StorageError("second"))
        #expect(outcome.value == nil)
        receipt.report()
        #expect(outcome.value == "failed: disk full")
    }

    @Test func aReceiptWithNoPartiesIsDoneAtOnce() throws {
        let promise = loop.makePromise(of: Void.self)
        _ = DeliveryReceipt(parties: 0, promise: promise)
        #expect(Outcome(promise.futureResult).value == "done")
    }

    static func frames(_ channel: EmbeddedChannel) throws -> [[ServerFrame]] {
        var writes: [[ServerFrame]] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            var decoder = FrameDecoder()
            var frames: [ServerFrame] = []
            while let raw = try decoder.decode(buffer: &buffer) { frames.append(try ServerFrame(decoding: raw.get())) }
            writes.append(frames)
        }
        return writes
    }

    static let message = ChatMessage(
        channel: "#r", id: 7, time: Timestamp(milliseconds: 1_800_000_000_000), from: "n1", body: .text("hi"))

    @Test func aSenderCompletedInTheDrainGetsItsCopySentAndOkInOneWrite() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (sender, channel) = try client(1, mailbox: mailbox)
        let reply = SendReply(session: sender, requestID: 42)
        let receipt = DeliveryReceipt(parties: 2, waiter: .client(reply), message: Self.message)
        receipt.report()  // the store writer was first
        mailbox.post(SubscriberSet.encode(.message(Self.message))!, to: [sender], receipt: receipt)
        loop.run()
        let writes = try Self.frames(channel)
        #expect(writes.count == 1, "\(writes)")
        #expect(writes.first == [.message(Self.message), .sent(id: 7, time: Self.message.time), .ok])
    }

    @Test func aSenderCompletedByTheWriterLastIsAnsweredBehindWhatItWasSent() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (sender, channel) = try client(1, mailbox: mailbox)
        let reply = SendReply(session: sender, requestID: 42)
        let receipt = DeliveryReceipt(parties: 2, waiter: .client(reply), message: Self.message)
        mailbox.post(SubscriberSet.encode(.message(Self.message))!, to: [sender], receipt: receipt)
        loop.run()
        #expect(try Self.frames(channel) == [[.message(Self.message)]])
        receipt.report()  // the store writer, from the sender's loop
        loop.run()
        #expect(try Self.frames(channel) == [[.sent(id: 7, time: Self.message.time), .ok]])
    }

    @Test func theWritersReportsAreMadeInADrainAndAnsweredInItsWrite() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (sender, channel) = try client(1, mailbox: mailbox)
        let reply = SendReply(session: sender, requestID: 42)
        let receipt = DeliveryReceipt(parties: 2, waiter: .client(reply), message: Self.message)
        #expect(receipt.mailbox === mailbox)
        mailbox.post(SubscriberSet.encode(.message(Self.message))!, to: [sender], receipt: receipt)
        loop.run()
        #expect(try Self.frames(channel) == [[.message(Self.message)]])
        // A later message and the writer's report reach the loop together: one write, the answer behind it.
        var later = Self.message
        later.id = 8
        mailbox.post(SubscriberSet.encode(.message(later))!, to: [sender])
        mailbox.post(reports: [(receipt, nil)])
        loop.run()
        #expect(try Self.frames(channel) == [[.message(later), .sent(id: 7, time: Self.message.time), .ok]])
        // A failed store is answered the same way, with one ERROR.
        let failing = SendReply(session: sender, requestID: 43)
        let lost = DeliveryReceipt(parties: 1, waiter: .client(failing), message: later)
        mailbox.post(reports: [(lost, ProtocolError(.storageFailure, "disk full"))])
        loop.run()
        let answer = try Self.frames(channel)
        if case .error(let error)? = answer.first?.first, answer.count == 1, answer[0].count == 1 {
            #expect(error.code == .storageFailure)
        } else {
            Issue.record("\(answer)")
        }
    }

    @Test func aSendIsAnsweredOnceEvenIfAFailureAndTheReceiptBothArrive() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (sender, channel) = try client(1, mailbox: mailbox)
        let reply = SendReply(session: sender, requestID: 9)
        let receipt = DeliveryReceipt(parties: 1, waiter: .client(reply), message: Self.message)
        reply.fail(ProtocolError(.storageFailure, "the sequencer did not number it in time"))
        receipt.report()
        loop.run()
        let writes = try Self.frames(channel).flatMap { $0 }
        #expect(writes.count == 1, "\(writes)")
        if case .error(let error)? = writes.first { #expect(error.code == .storageFailure) } else { Issue.record() }
    }

    @Test func aStoreFailureAnswersTheSenderWithAnErrorAndNoSent() throws {
        let mailbox = LoopMailbox(loop: loop)
        let (sender, channel) = try client(1, mailbox: mailbox)
        let reply = SendReply(session: sender, requestID: 3)
        let receipt = DeliveryReceipt(parties: 2, waiter: .client(reply), message: Self.message)
        receipt.report(StorageError("disk full"))
        mailbox.post(SubscriberSet.encode(.message(Self.message))!, to: [sender], receipt: receipt)
        loop.run()
        let writes = try Self.frames(channel).flatMap { $0 }
        #expect(writes.first == .message(Self.message))
        guard writes.count == 2, case .error(let error) = writes[1] else {
            Issue.record("\(writes)")
            return
        }
        #expect(error.code == .storageFailure && error.message.contains("disk full"))
    }
}
