import NIOCore
import TChatProtocol
import Testing

@testable import TChatServer

/// Where a server dials and where it sends clients, as pure rules: what a linked server says of addresses is not
/// taken on its word.
@Suite struct DialPlanTests {
    @Test func aGossipedAddressThatKeepsFailingIsForgottenAndGossipIsBounded() {
        var plan = DialPlan()
        plan.add("10.0.0.1:7668")  // configured
        plan.add("10.0.0.9:7668", gossiped: true)
        let start = NIODeadline.uptimeNanoseconds(1)
        for attempt in 1...DialPlan.gossipAttempts {
            #expect(plan.targets["10.0.0.9:7668"] != nil, "kept before failure \(attempt)")
            plan.failed("10.0.0.9:7668", at: start)
            plan.failed("10.0.0.1:7668", at: start)
        }
        #expect(plan.targets["10.0.0.9:7668"] == nil, "forgotten")
        let heardAgain = plan.add("10.0.0.9:7668", gossiped: true, at: start)
        #expect(!heardAgain, "and gossip naming it again is not heard")
        let heardLater = plan.add("10.0.0.9:7668", gossiped: true, at: start + .minutes(11))
        #expect(heardLater, "for a while")
        #expect(plan.targets["10.0.0.1:7668"] != nil, "a configured address is kept")
        for index in 0..<(DialPlan.maxGossiped + 10) { plan.add("10.1.0.\(index):7668", gossiped: true) }
        #expect(plan.targets.values.filter(\.gossiped).count == DialPlan.maxGossiped)
    }

    @Test func onlyAddressesDueAreDialledOnceEach() {
        var plan = DialPlan()
        for address in ["a:1", "b:1", "own:1", "linked:1"] { plan.add(address) }
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(Set(plan.due(at: now, linked: ["linked:1"], own: "own:1")) == ["a:1", "b:1"])
        #expect(plan.due(at: now, linked: [], own: "own:1") == ["linked:1"], "in flight ones are not dialled twice")
        plan.attemptEnded("a:1")
        plan.failed("a:1", at: now)
        #expect(!plan.due(at: now, linked: [], own: "").contains("a:1"), "waits its back-off")
        #expect(plan.due(at: now + .seconds(1), linked: [], own: "").contains("a:1"))
    }

    @Test func idsGrowNoFasterThanAThousandAMillisecond() {
        let last = Timestamp(milliseconds: 1_764_000_000_000)
        func message(_ id: UInt64, after milliseconds: UInt64) -> ChatMessage {
            ChatMessage(
                channel: "#a", id: id, time: Timestamp(milliseconds: last.milliseconds + milliseconds), from: "a",
                body: .text("x"))
        }
        #expect(IDGrowth.isPlausible(message(11, after: 0), after: 10, at: last), "the next one")
        #expect(IDGrowth.isPlausible(message(1_010, after: 0), after: 10, at: last), "within the slack")
        #expect(IDGrowth.isPlausible(message(1_000_000, after: 1_000), after: 10, at: last))
        #expect(!IDGrowth.isPlausible(message(10_000_000, after: 1_000), after: 10, at: last))
        #expect(!IDGrowth.isPlausible(message(ProtocolLimits.maxMessageID, after: 300_000), after: 10, at: last))
        // A channel with no message: since 2020, which leaves the highest id out of reach for centuries.
        #expect(!IDGrowth.isPlausible(message(ProtocolLimits.maxMessageID, after: 0), after: 0, at: nil))
        #expect(IDGrowth.isPlausible(message(5_000_000_000, after: 0), after: 0, at: nil), "an old channel's window")
        #expect(IDGrowth.isPlausible(message(UInt64.max / 2, after: UInt64.max / 4), after: 0, at: last), "no trap")
    }

    @Test func clientsAreSentOnlyWhereTheLinkOrTheOperatorVouches() {
        let configured: Set<String> = ["chat2.example.net"]
        func vouched(_ advertised: String, from ip: String = "10.0.0.2", dialed: String? = nil) -> String? {
            PeerAddresses.vouchedClientAddress(advertised, remoteIP: ip, dialed: dialed, configuredHosts: configured)?
                .description
        }
        #expect(vouched("10.0.0.2:7667") == "10.0.0.2:7667", "the link's own address")
        #expect(vouched("tls://10.0.0.2:7667") == "tls://10.0.0.2:7667")
        #expect(vouched("0.0.0.0:7667") == "10.0.0.2:7667", "a wildcard means the link's address")
        #expect(vouched("tls://chat2.example.net:7667") == "tls://chat2.example.net:7667", "a --peer host")
        #expect(vouched("tls://chat3.example.net:7667", dialed: "chat3.example.net:7668") != nil, "the dialled host")
        #expect(vouched("6.6.6.6:7667") == nil, "anywhere else")
        #expect(vouched("127.0.0.2:9999", from: "127.0.0.1") == nil)
        #expect(vouched("") == nil && vouched("10.0.0.2:0") == nil)
        #expect(PeerAddresses.sourceAddress("10.0.0.2", advertised: "0.0.0.0:7668") == "10.0.0.2:7668")
        #expect(PeerAddresses.sourceAddress("10.0.0.2", advertised: "") == nil)
    }
}
