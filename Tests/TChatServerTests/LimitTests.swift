import Foundation
import NIOCore
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// `--rate`/`--burst`, `--max-per-ip`, `--frame-timeout` and `--max-channels` against a real server.
@Suite(.serialized)
struct LimitTests {
    static func code(_ frame: ServerFrame?) -> ErrorCode? { HostileClientTests.errorCode(frame) }

    @Test func aBudgetRefusesAWholeStretchThenRecovers() {
        let start = NIODeadline.now()
        var budget = RequestBudget(rate: 10, burst: 4, now: start)
        var answers: [Bool] = []
        for _ in 0..<5 { answers.append(budget.spend(now: start)) }
        // A token has trickled back by 150 ms, but the refusal lasts until the client has paused for the time the
        // bucket takes to fill half way (0.2 s at 10/s), and each request refused meanwhile starts that pause again.
        answers.append(budget.spend(now: start + .milliseconds(150)))
        answers.append(budget.spend(now: start + .milliseconds(300)))
        answers.append(budget.spend(now: start + .milliseconds(499)))
        answers.append(budget.spend(now: start + .milliseconds(700)))
        answers.append(budget.spend(now: start + .milliseconds(700)))
        #expect(answers == [true, true, true, true, false, false, false, false, true, true])
        #expect(budget.pause == 0.2)
        var unlimited = RequestBudget(rate: 0, burst: 1, now: start)
        var refused = 0
        for _ in 0..<10_000 where !unlimited.spend(now: start) { refused += 1 }
        #expect(refused == 0)
    }

    /// Found by review: with a pause longer than the sender's longest back-off (4 s), restarting the whole pause on
    /// every refused request refused a backing-off sender for ever. A refused request extends the refusal by at
    /// most a second.
    @Test func aLongPauseStillLetsABackingOffSenderThrough() {
        let start = NIODeadline.now()
        var budget = RequestBudget(rate: 20, burst: 400, now: start)
        for _ in 0..<400 { _ = budget.spend(now: start) }
        #expect(budget.pause == 10)
        let first = budget.spend(now: start)
        #expect(!first)
        // PipelinedSender's back-off: 0.25 s, then doubling up to 4 s.
        var at = start
        var refusedAt: [Double] = []
        for pause in [0.25, 0.5, 1, 2, 4, 4] {
            at = at + .milliseconds(Int64(pause * 1000))
            if budget.spend(now: at) { break }
            refusedAt.append(Double((at - start).nanoseconds) / 1e9)
        }
        #expect(refusedAt == [0.25, 0.75, 1.75, 3.75, 7.75], "accepted at 11.75 s, once the 10 s pause is over")
        // Requests still arriving at the end of the pause (a pipelined tail) keep it going a second past the last.
        var tail = RequestBudget(rate: 20, burst: 400, now: start)
        for _ in 0..<401 { _ = tail.spend(now: start) }
        let answers = [9_900, 10_500, 11_400, 12_500].map { tail.spend(now: start + .milliseconds($0)) }
        #expect(answers == [false, false, false, true])
    }

    @Test func aFloodIsRefusedFromTheFirstExcessRequestOnAndNothingPastTheBudgetIsStored() async throws {
        let server = try await TestServer {
            $0.requestRate = 10
            $0.requestBurst = 20
        }
        defer { server.removeData() }
        let flooder = try await RawConnection.connect(to: server.address)
        try await flooder.hello("flooder")  // one request of the 20
        // 60 SENDs in one write, as a pipelining client sends them.
        var burst = ByteBuffer()
        for index in 0..<60 {
            try ClientFrame.send(channel: "#flood", body: .text("m\(index)")).encode(
                requestID: UInt32(100 + index), into: &burst)
        }
        try await flooder.send(Array(burst.readableBytesView))
        #expect(await eventually { flooder.frames.filter { $0.id >= 100 && $0.frame.type != .sent }.count == 60 })
        let outcomes = (100..<160).map { id in
            flooder.frames.last { $0.id == UInt32(id) }.map { Self.code($0.frame) == .rateLimited } ?? false
        }
        // 19 accepted, then every one refused: no accepted request after a refused one, so nothing reorders.
        #expect(outcomes.prefix(19).allSatisfy { !$0 })
        #expect(outcomes.dropFirst(19).allSatisfy { $0 })
        let refusal = flooder.frames.first { Self.code($0.frame) == .rateLimited }?.frame
        if case .error(let error) = refusal {
            #expect(error.message.contains("send nothing for 1000 ms, then send it again"))
        }
        #expect(!flooder.isClosed, "a rate-limited client is slowed down, not cut off")

        // Others are served meanwhile, and the flooder is again after the pause.
        let bystander = try await server.connect("bystander")
        _ = try await bystander.send(.text("still here"), to: "#flood")
        try await Task.sleep(for: .milliseconds(1100))
        try await flooder.send(.send(channel: "#flood", body: .text("after the pause")), id: 500)
        #expect(await flooder.reply(to: 500).last == .ok)
        let history = try await bystander.memberHistory("#flood", limit: 100)
        #expect(history.map(\.body.text) == (0..<19).map { "m\($0)" } + ["still here", "after the pause"])
        await server.stop()
    }

    @Test func aPipelinedSenderLosesAndReordersNothingUnderTheRateLimit() async throws {
        let server = try await TestServer {
            $0.requestRate = 100
            $0.requestBurst = 20
        }
        defer { server.removeData() }
        let connection = try await server.connect("script", events: false)
        let sender = PipelinedSender(connection: connection, window: 64, firstPause: .milliseconds(50))
        for index in 0..<150 { try await sender.submit(.send(channel: "#logs", body: .text("line \(index)"))) }
        try await sender.finish()
        #expect(sender.resent > 0, "the limit was never reached: the test proves nothing")
        let reader = try await server.connect("reader", events: false)
        let history = try await reader.memberHistory("#logs", limit: 200)
        #expect(history.map(\.body.text) == (0..<150).map { "line \($0)" })
        #expect(history.map(\.id) == Array(1...150))
        await server.stop()
    }

    @Test func pongsAreNotCountedButPingsAre() async throws {
        let server = try await TestServer {
            $0.requestRate = 1
            $0.requestBurst = 3
        }
        defer { server.removeData() }
        let raw = try await RawConnection.connect(to: server.address)
        for token in 0..<50 { try await raw.send(.pong(token: UInt64(token)), id: 0) }
        try await raw.hello("answers")  // the PONGs cost nothing: this is the first of 3
        for id in 10..<13 { try await raw.send(.ping(token: UInt64(id)), id: UInt32(id)) }
        #expect(await eventually { raw.frames.filter { $0.id >= 10 }.count == 3 })
        #expect(raw.frames.filter { $0.id >= 10 }.map(\.frame.type) == [.pong, .pong, .error])
        await server.stop()
    }

    @Test func connectionsPerAddressAreCapped() async throws {
        let server = try await TestServer { $0.maxConnectionsPerAddress = 3 }
        defer { server.removeData() }
        var open: [ChatConnection] = []
        for index in 0..<3 { open.append(try await server.connect("n\(index)", events: false)) }
        let refused = try await RawConnection.connect(to: server.address)
        #expect(await eventually { refused.isClosed })
        #expect(refused.frames.map(\.id) == [0])
        #expect(Self.code(refused.frames.first?.frame) == .tooManyConnections)
        // The three keep chatting, and a closed one frees its place.
        _ = try await open[0].send(.text("fine"), to: "#ops")
        await open[2].quit()
        #expect(await eventually { (try? await server.connect("n3", events: false)) != nil })
        await server.stop()
    }

    @Test func aFrameBegunAndNotFinishedTimesOut() async throws {
        let server = try await TestServer { $0.frameTimeout = .milliseconds(400) }
        defer { server.removeData() }
        let slow = try await RawConnection.connect(to: server.address)
        try await slow.hello("slowloris")
        // A SEND's length and type, then a byte at a time: activity, but the frame never ends.
        try await slow.send([0, 0, 0, 40, FrameType.send.rawValue])
        for _ in 0..<8 where !slow.isClosed {
            try? await slow.send([0])
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await eventually(within: .seconds(3)) { slow.isClosed })
        #expect(Self.code(slow.frames.last?.frame) == .frameTimeout)
        #expect(slow.frames.last?.id == 0)
        // Whole frames sent slowly are fine.
        let patient = try await RawConnection.connect(to: server.address)
        try await patient.hello("patient")
        for id in 2..<6 {
            try await Task.sleep(for: .milliseconds(300))
            try await patient.send(.ping(token: 1), id: UInt32(id))
        }
        #expect(await eventually { patient.frames.filter { $0.id == 5 }.count == 1 })
        #expect(!patient.isClosed)
        await server.stop()
    }

    @Test func joiningMoreChannelsThanAllowedIsRefused() async throws {
        let server = try await TestServer { $0.maxChannelsPerClient = 5 }
        defer { server.removeData() }
        let client = try await server.connect("joiner", events: false)
        for index in 0..<5 { _ = try await client.join("#c\(index)") }
        let error = await #expect(throws: ProtocolError.self) { _ = try await client.join("#c5") }
        #expect(error?.code == .tooManyChannels)
        _ = try await client.send(.text("still in"), to: "#c4")
        await server.stop()
    }

    @Test func makingChannelsIsBoundedPerAddressAndServerWide() async throws {
        let server = try await TestServer {
            $0.channelCreationBurst = 2
            $0.channelCreationsPerMinute = 1
        }
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.send(.text("1"), to: "#a")
        _ = try await alice.join("#b", history: 0)
        let perAddress = await #expect(throws: ProtocolError.self) { try await alice.send(.text("3"), to: "#c") }
        #expect(perAddress?.code == .tooManyChannels && perAddress?.message.contains("a minute") == true)
        _ = try await alice.send(.text("existing channels are fine"), to: "#a")
        // Another connection from the same address gets no fresh allowance.
        let bob = try await server.connect("bob", events: false)
        await #expect(throws: ProtocolError.self) { try await bob.send(.text("mine"), to: "#c") }
        await server.stop()

        let full = try await TestServer { $0.maxServerChannels = 3 }
        defer { full.removeData() }
        let carol = try await full.connect("carol", events: false)
        for name in ["#a", "#b", "#c"] { _ = try await carol.send(.text("x"), to: name) }
        let serverWide = await #expect(throws: ProtocolError.self) { _ = try await carol.join("#d", history: 0) }
        #expect(serverWide?.code == .tooManyChannels && serverWide?.message.contains("3 channels") == true)
        #expect(full.server.context?.channels.channelCount == 3)
        await full.stop()
    }
}
