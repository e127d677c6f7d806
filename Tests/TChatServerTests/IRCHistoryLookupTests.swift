import TChatProtocol
import Testing

@testable import TChatServer

/// CHATHISTORY's references as ids: a msgid is one, a timestamp is searched for by asking HISTORY for one message at
/// a time (a simulated channel answers here, as tchat's HISTORY would).
@Suite struct IRCHistoryLookupTests {
    /// Messages `ids`, message `id` at `start` plus `spacing` ms × id unless `times` says otherwise.
    struct Channel {
        var messages: [ChatMessage]

        init(_ ids: some Sequence<UInt64>, times: [UInt64: UInt64] = [:]) {
            messages = ids.map { id in
                ChatMessage(
                    channel: "#h", id: id, time: Timestamp(milliseconds: times[id] ?? Self.time(of: id).milliseconds),
                    from: "bob", body: .text("line \(id)"))
            }
        }

        static func time(of id: UInt64) -> Timestamp { Timestamp(milliseconds: 1_800_000_000_000 + 10 * id) }

        /// HISTORY's answer with limit 1: the newest message below `before` (0: the newest of all).
        func newest(below before: UInt64) -> ChatMessage? { messages.last { before == 0 || $0.id < before } }
    }

    /// Answers every ask; returns the window and how many asks it took.
    static func resolve(
        _ subcommand: String, _ references: [IRCHistoryLookup.Reference], count: Int = 10, in channel: Channel
    ) -> (window: (before: UInt64, after: UInt64)?, asks: Int) {
        var lookup = IRCHistoryLookup(subcommand: subcommand, count: count, references: references)
        var asks = 0
        while let before = lookup.nextAsk, asks < 1000 {
            lookup.take(channel.newest(below: before))
            asks += 1
        }
        return (lookup.window, asks)
    }

    static func at(_ id: UInt64, plus milliseconds: UInt64 = 0) -> IRCHistoryLookup.Reference {
        .time(Timestamp(milliseconds: Channel.time(of: id).milliseconds + milliseconds))
    }

    @Test func referencesAreMsgidsOrTimestampsAsServerTimeSpellsThem() {
        #expect(IRCHistoryLookup.Reference("msgid=12-#h") == .id(12))
        #expect(IRCHistoryLookup.Reference("msgid=0-#h") == nil, "ids start at 1")
        #expect(
            IRCHistoryLookup.Reference("timestamp=2027-01-15T08:00:00.250Z")
                == .time(Timestamp(iso8601: "2027-01-15T08:00:00.250Z")!))
        for refused in ["timestamp=2027-01-15T08:00:00Z", "timestamp=yesterday", "msgid=x-#h", "12", "*"] {
            #expect(IRCHistoryLookup.Reference(refused) == nil, "\(refused)")
        }
    }

    @Test func msgidsNeedNoAsking() {
        let channel = Channel(1...100)
        #expect(Self.resolve("BEFORE", [.id(50)], in: channel).asks == 0)
        #expect(Self.resolve("BEFORE", [.id(50)], in: channel).window! == (50, 0))
        #expect(Self.resolve("BETWEEN", [.id(70), .id(20)], in: channel).window! == (70, 20))
        #expect(Self.resolve("LATEST", [], in: channel).window! == (0, 0))
    }

    @Test func aTimeLeavesOutTheMessageAtItAsAMsgidDoes() {
        let channel = Channel(1...1000)
        // BEFORE below the first message at the time; AFTER and LATEST above the last one at it.
        #expect(Self.resolve("BEFORE", [Self.at(500)], in: channel).window! == (500, 0))
        #expect(Self.resolve("AFTER", [Self.at(500)], count: 10, in: channel).window! == (511, 500))
        #expect(Self.resolve("LATEST", [Self.at(990)], in: channel).window! == (0, 990))
        // Between two messages: the next one is the first after it, and the one before is left below.
        #expect(Self.resolve("BEFORE", [Self.at(500, plus: 5)], in: channel).window! == (501, 0))
        #expect(Self.resolve("AFTER", [Self.at(500, plus: 5)], count: 10, in: channel).window! == (511, 500))
        #expect(Self.resolve("AROUND", [Self.at(500)], count: 4, in: channel).window! == (503, 497))
        // BETWEEN counts from its first end: on from the earlier, back from the later; a msgid may be one end.
        #expect(Self.resolve("BETWEEN", [Self.at(100), Self.at(200)], in: channel).window! == (111, 100))
        #expect(Self.resolve("BETWEEN", [Self.at(100), Self.at(200)], count: 500, in: channel).window! == (200, 100))
        #expect(Self.resolve("BETWEEN", [Self.at(200), Self.at(100)], in: channel).window! == (200, 100))
        #expect(Self.resolve("BETWEEN", [.id(150), Self.at(300, plus: 1)], in: channel).window! == (161, 150))
        #expect(Self.resolve("BETWEEN", [Self.at(300, plus: 1), .id(150)], in: channel).window! == (301, 150))
        // Two times need one search each; a time beside a msgid, two.
        let two = Self.resolve("BETWEEN", [Self.at(100), Self.at(200)], in: channel).asks
        #expect(two <= 2 * (2 * 10 + 2))
    }

    @Test func timesPastEitherEndAndAnEmptyChannel() {
        let channel = Channel(1...1000)
        #expect(Self.resolve("BEFORE", [Self.at(5000)], in: channel).window! == (1001, 0))
        #expect(Self.resolve("AFTER", [Self.at(5000)], count: 10, in: channel).window!.after == 1000)
        #expect(Self.resolve("AFTER", [.time(Timestamp(milliseconds: 0))], count: 10, in: channel).window! == (11, 0))
        // Only 400 and later kept: an earlier time is before all of them.
        let kept = Channel(400...1000)
        #expect(Self.resolve("BEFORE", [Self.at(100)], in: kept).window! == (400, 0))
        #expect(Self.resolve("AFTER", [Self.at(100)], count: 10, in: kept).window!.after == 399)
        let empty = Channel(1..<1)
        #expect(Self.resolve("BEFORE", [Self.at(1)], in: empty).window! == (1, 0))
        #expect(Self.resolve("LATEST", [Self.at(1)], in: empty).window! == (0, 0))
    }

    @Test func messagesSharingAMillisecondAreAllLeftOutOrAllTaken() {
        let same = Channel.time(of: 10).milliseconds
        let channel = Channel(1...20, times: [11: same, 12: same])
        #expect(Self.resolve("BEFORE", [Self.at(10)], in: channel).window! == (10, 0))
        #expect(Self.resolve("AFTER", [Self.at(10)], count: 5, in: channel).window! == (18, 12))
    }

    @Test func recentTimesTakeAFewAsksAndAnyTimeAtMostTwoPerBit() {
        let channel = Channel(1...1_000_000)
        #expect(Self.resolve("LATEST", [Self.at(999_990)], in: channel).asks <= 12)
        for id: UInt64 in [1, 2, 777, 500_000, 999_999] {
            let (window, asks) = Self.resolve("BEFORE", [Self.at(id)], in: channel)
            #expect(window! == (id, 0))
            #expect(asks <= 2 * 20 + 2, "\(id): \(asks) asks")
        }
    }

    @Test func aClockThatWentBackStillEnds() {
        var times: [UInt64: UInt64] = [:]
        for id: UInt64 in 300...400 { times[id] = Channel.time(of: id).milliseconds - 5_000 }
        let channel = Channel(1...1000, times: times)
        for id: UInt64 in [1, 250, 350, 900] {
            let (window, asks) = Self.resolve("BETWEEN", [Self.at(id), Self.at(id + 50)], in: channel)
            #expect(window != nil && asks < 200)
        }
    }
}
