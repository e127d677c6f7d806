import TChatProtocol
import Testing

@testable import TChatServer

/// The channel rules as a value: who joins, speaks, sets the topic and changes modes.
@Suite struct ChannelAccessTests {
    static let ann = ChannelAccess.Member(nick: "ann", account: "ann")
    static let bob = ChannelAccess.Member(nick: "bob", account: nil)
    static let eve = ChannelAccess.Member(nick: "eve", account: "eve")

    static func operated() -> ChannelAccess {
        var access = ChannelAccess()
        access.operators = ["ann": "ann"]
        return access
    }

    @Test func onlyOperatorsChangeModesAndANobodyOperatedChannelIsClaimedByAnAccount() throws {
        var access = ChannelAccess()
        #expect(throws: ProtocolError.self) { try access.apply(.flag("i", on: true), by: Self.bob, target: nil) }
        // bob has no account: he cannot claim it.
        #expect(throws: ProtocolError.self) { try access.apply(.op("bob", on: true), by: Self.bob, target: Self.bob) }
        #expect(try access.apply(.op("ann", on: true), by: Self.ann, target: Self.ann) == "+o ann")
        #expect(access.isOperator(Self.ann))
        // Once operated, nobody else claims it.
        #expect(throws: ProtocolError.self) { try access.apply(.op("eve", on: true), by: Self.eve, target: Self.eve) }
        #expect(try access.apply(.flag("i", on: true), by: Self.ann, target: nil) == "+i")
        // Operators are accounts: bob, without one, cannot be made one.
        let notLoggedIn = #expect(throws: ProtocolError.self) {
            try access.apply(.op("bob", on: true), by: Self.ann, target: Self.bob)
        }
        #expect(notLoggedIn?.code == .notLoggedIn)
        // The last operator stays.
        #expect(throws: ProtocolError.self) { try access.apply(.op("ann", on: false), by: Self.ann, target: Self.ann) }
    }

    @Test func operatorsAreShownByTheirAccountsNamesNotTheirSkeletons() throws {
        var access = ChannelAccess()
        let mia = ChannelAccess.Member(nick: "Mia", account: Nick.key(for: "Mia"), accountName: "Mia")
        _ = try access.apply(.op("Mia", on: true), by: mia, target: mia)
        #expect(access.isOperator(mia))
        #expect(Array(access.operators.values) == ["Mia"] && Array(access.operators.keys) == ["rnla"])
    }

    @Test func inviteOnlyKeysAndBansKeepPeopleOut() throws {
        var access = Self.operated()
        _ = try access.apply(.flag("i", on: true), by: Self.ann, target: nil)
        #expect((#expect(throws: ProtocolError.self) { try access.checkJoin(Self.bob, key: "") })?.code == .inviteOnly)
        access.invited.insert(Self.bob.session)
        try access.checkJoin(Self.bob, key: "")
        try access.checkJoin(Self.ann, key: "")  // operators always get in
        _ = try access.apply(.key("hunter2"), by: Self.ann, target: nil)
        #expect(
            (#expect(throws: ProtocolError.self) { try access.checkJoin(Self.bob, key: "nope") })?.code
                == .badChannelKey)
        try access.checkJoin(Self.bob, key: "hunter2")
        #expect(access.modeString(showKey: false) == "+ik" && access.modeString(showKey: true) == "+ik hunter2")
        #expect(try access.apply(.ban("EVE*", on: true), by: Self.ann, target: nil) == "+b eve*")
        let eve1 = ChannelAccess.Member(nick: "Eve1", account: nil)
        #expect((#expect(throws: ProtocolError.self) { try access.checkJoin(eve1, key: "hunter2") })?.code == .banned)
        _ = try access.apply(.ban("account:Eve", on: true), by: Self.ann, target: nil)
        let eveRenamed = ChannelAccess.Member(nick: "zed", account: "eve")
        #expect(access.isBanned(eveRenamed), "a ban on an account follows it to any nick")
        #expect(!access.isBanned(Self.bob))
    }

    @Test func moderatedChannelsHearOperatorsAndVoicedMembersOnly() throws {
        var access = Self.operated()
        _ = try access.apply(.flag("m", on: true), by: Self.ann, target: nil)
        #expect(
            (#expect(throws: ProtocolError.self) { try access.checkSend(Self.bob, isMember: true) })?.code
                == .cannotSend)
        try access.checkSend(Self.ann, isMember: true)
        _ = try access.apply(.voice("bob", on: true), by: Self.ann, target: Self.bob)
        try access.checkSend(Self.bob, isMember: true)
        _ = try access.apply(.flag("t", on: true), by: Self.ann, target: nil)
        #expect(throws: ProtocolError.self) { try access.checkTopic(Self.bob) }
        try access.checkTopic(Self.ann)
    }

    @Test func changesAreParsedStrictly() throws {
        for bad in [
            "i", "+x", "+ii", "+k", "+o", "+i extra", "+k two words here", "+b " + String(repeating: "a", count: 65),
        ] {
            #expect(throws: ProtocolError.self, "\(bad)") { try ChannelAccess.Change(parsing: bad) }
        }
        #expect(try ChannelAccess.Change(parsing: "-k") == .key(nil))
        #expect(try ChannelAccess.Change(parsing: "+b bad*") == .ban("bad*", on: true))
    }

    @Test func banPatternsMatchBySkeletonWithoutRunawayBacktracking() {
        #expect(ChannelAccess.glob(Array("e*e".utf8), Array("eve".utf8)))
        #expect(ChannelAccess.glob(Array("?ve".utf8), Array("eve".utf8)))
        #expect(!ChannelAccess.glob(Array("e?e?".utf8), Array("eve".utf8)))
        // A pattern of many stars against a long nick: answered at once, not in exponential time.
        let stars = Array(String(repeating: "*a", count: 30).utf8) + [UInt8(ascii: "b")]
        #expect(!ChannelAccess.glob(stars, Array(String(repeating: "a", count: 32).utf8)))
        #expect(
            ChannelAccess.matches(ChannelAccess.normalize("EVlL*"), ChannelAccess.Member(nick: "evil99", account: nil)))
    }
}
