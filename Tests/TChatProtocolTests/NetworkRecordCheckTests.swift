import TChatProtocol
import Testing

/// What a linked server's account, ban and channel-access records must obey before anything acts on them.
@Suite struct NetworkRecordCheckTests {
    static let now = PeerFrameCheckTests.now

    static var account: SharedAccount {
        guard case .record(.account(let account))? = ProtocolVectors.peer["account"] else { fatalError("no vector") }
        return account
    }

    static func refusal(_ record: NetworkRecord) -> String? { PeerFrameCheckTests.refusal(.record(record)) }

    @Test func anAccountIsWholeAndNotFromTheFuture() {
        #expect(Self.refusal(.account(Self.account)) == nil)
        var account = Self.account
        account.name = "not a nick"
        #expect(Self.refusal(.account(account)) != nil)
        account = Self.account
        account.passwordHash = "md5$abc"
        #expect(Self.refusal(.account(account)) != nil)
        account = Self.account
        account.scramIterations = 1
        #expect(Self.refusal(.account(account)) != nil, "too cheap to guess from")
        account = Self.account
        account.updated = Timestamp(milliseconds: Self.now.milliseconds + 3_600_000)
        #expect(Self.refusal(.account(account)) != nil, "an hour ahead would win every later change")
        account = Self.account
        account.welcome = String(repeating: "x", count: ProtocolLimits.maxWelcomeBytes + 1)
        #expect(Self.refusal(.account(account)) != nil)
    }

    @Test func anAwayTextFollowsTheRulesOfSetAway() {
        #expect(Self.refusal(.away(nick: "bob", text: "lunch")) == nil)
        #expect(Self.refusal(.away(nick: "bob", text: "")) == nil, "back")
        #expect(Self.refusal(.away(nick: "bob", text: String(repeating: "x", count: 301))) != nil)
        #expect(Self.refusal(.away(nick: "bob", text: "\u{202E}evil")) != nil)
        #expect(Self.refusal(.away(nick: "9 bad", text: "")) != nil)
    }

    @Test func serverBansNameAnAccountOrAnAddress() {
        let time = Self.now
        #expect(Self.refusal(.serverBan(mask: "account:eve", reason: "", by: "root", time: time)) == nil)
        #expect(Self.refusal(.serverBan(mask: "address:2001:db8::1", reason: "", by: "root", time: time)) == nil)
        #expect(Self.refusal(.serverBan(mask: "everyone", reason: "", by: "root", time: time)) != nil)
        #expect(Self.refusal(.serverBan(mask: "address:a b", reason: "", by: "root", time: time)) != nil)
        #expect(Self.refusal(.serverUnban(mask: "account:", time: time)) != nil)
    }

    @Test func aChannelsAccessIsBounded() {
        let good = SharedChannelAccess(
            channel: "#ops", created: Self.now, modes: "ism", key: "", operators: ["ann"], voiced: [], bans: [],
            orphaned: false,
            time: Self.now)
        #expect(Self.refusal(.channelAccess(good)) == nil)
        var bad = good
        bad.modes = "iio"
        #expect(Self.refusal(.channelAccess(bad)) != nil)
        bad = good
        bad.operators = (0...PeerFrameCheck.maxSharedNames).map { "op\($0)" }
        #expect(Self.refusal(.channelAccess(bad)) != nil)
        bad = good
        bad.key = "with\u{7}bell"
        #expect(Self.refusal(.channelAccess(bad)) != nil)
        bad = good
        bad.channel = "ops"
        #expect(Self.refusal(.channelAccess(bad)) != nil)
    }

    @Test func actionsNameNicks() {
        #expect(Self.refusal(.kick(channel: "#ops", nick: "*", by: "ann", reason: "")) == nil, "* closes a channel")
        #expect(Self.refusal(.kick(channel: "#ops", nick: "a b", by: "ann", reason: "")) != nil)
        #expect(Self.refusal(.kill(nick: "eve", by: "*", reason: "")) != nil)
        #expect(Self.refusal(.operators(["root", "not a nick"])) != nil)
    }
}
