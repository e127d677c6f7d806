/// What every server of a network keeps alike besides messages (accounts, server bans, channels' access, who the
/// server operators are), and what an operator on one server does to a client of another. Peer frames
/// 0x52–0x5B and 0x5D; each is one `PeerFrame.record`.
///
/// Records carry the time they were made and changed: of two copies each server keeps the one made first (an
/// account or channel of the same name made during a split is another's), then the one changed last, then the
/// larger content, so servers that were apart agree once linked again whatever order they hear things in. Removals are records too (ACCOUNT_DROPPED, PEER_SERVER_UNBAN), kept a while so that an older copy
/// from a server that missed them does not bring back what was removed.
public enum NetworkRecord: Sendable, Hashable {
    /// An account as registered or last changed, hashes and keys included: any server of the network can check a
    /// login to it.
    case account(SharedAccount)
    case accountDropped(name: String, time: Timestamp)
    /// A server ban (`account:NAME` or `address:IP`) on every server.
    case serverBan(mask: String, reason: String, by: String, time: Timestamp)
    case serverUnban(mask: String, time: Timestamp)
    /// A channel's operators, modes, key, voices and bans, whole.
    case channelAccess(SharedChannelAccess)
    /// The accounts the sender makes server operators (`--operator`): operators on every server of the network.
    case operators([String])
    /// A channel operator of the sender's puts out a client of the receiver's; `*` for every member (a server
    /// operator closed the channel).
    case kick(channel: String, nick: String, by: String, reason: String)
    /// A channel operator of the sender's invites a client of the receiver's.
    case invite(channel: String, nick: String, by: String)
    /// A server operator of the sender's ends the session(s) of a client of the receiver's.
    case kill(nick: String, by: String, reason: String)
    /// A client of the sender's is away with this text, or back (empty): WHOIS and direct messages tell it.
    case away(nick: String, text: String)
    /// A client of the sender's is logged in to this account, or out (empty): channel-mates who asked hear it
    /// (ACCOUNT_CHANGED, JOINED_ACCOUNT).
    case loggedIn(nick: String, account: String)

    public var type: PeerFrameType {
        switch self {
        case .account: .account
        case .accountDropped: .accountDropped
        case .serverBan: .serverBan
        case .serverUnban: .serverUnban
        case .channelAccess: .channelAccess
        case .operators: .operators
        case .kick: .kick
        case .invite: .invite
        case .kill: .kill
        case .away: .away
        case .loggedIn: .loggedIn
        }
    }

    func encode(into w: inout FrameWriter) throws(ProtocolError) {
        switch self {
        case .account(let account):
            try w.str(account.name, "name")
            try w.str(account.passwordHash, "password hash")
            guard (1...SharedAccount.maxSaltBytes).contains(account.scramSalt.count),
                account.storedKey.count == SharedAccount.keyBytes, account.serverKey.count == SharedAccount.keyBytes
            else { throw ProtocolError(.malformedFrame, "a SCRAM salt is 1-64 bytes and its keys 32") }
            w.u8(UInt8(account.scramSalt.count))
            w.bytes(account.scramSalt)
            w.u32(account.scramIterations)
            w.bytes(account.storedKey)
            w.bytes(account.serverKey)
            w.time(account.created)
            w.time(account.updated)
            try w.str(account.welcome, "welcome")
        case .accountDropped(let name, let time):
            try w.str(name, "name")
            w.time(time)
        case .serverBan(let mask, let reason, let by, let time):
            try w.str(mask, "mask")
            try w.str(reason, "reason")
            try w.str(by, "by")
            w.time(time)
        case .serverUnban(let mask, let time):
            try w.str(mask, "mask")
            w.time(time)
        case .channelAccess(let access):
            try w.str(access.channel, "channel")
            w.time(access.created)
            try w.str(access.modes, "modes")
            try w.str(access.key, "key")
            try w.str(access.operators.joined(separator: " "), "operators")
            try w.str(access.voiced.joined(separator: " "), "voiced")
            try w.str(access.bans.joined(separator: " "), "bans")
            w.u8(access.orphaned ? 1 : 0)
            w.time(access.time)
            try w.str(access.by, "by")
            try w.str(access.change, "change")
        case .operators(let names):
            try w.str(names.joined(separator: " "), "names")
        case .kick(let channel, let nick, let by, let reason):
            try w.str(channel, "channel")
            try w.str(nick, "nick")
            try w.str(by, "by")
            try w.str(reason, "reason")
        case .invite(let channel, let nick, let by):
            try w.str(channel, "channel")
            try w.str(nick, "nick")
            try w.str(by, "by")
        case .kill(let nick, let by, let reason):
            try w.str(nick, "nick")
            try w.str(by, "by")
            try w.str(reason, "reason")
        case .away(let nick, let text):
            try w.str(nick, "nick")
            try w.str(text, "text")
        case .loggedIn(let nick, let account):
            try w.str(nick, "nick")
            try w.str(account, "account")
        }
    }

    init(decoding type: PeerFrameType, from r: inout FieldReader) throws(ProtocolError) {
        switch type {
        case .account:
            let name = try r.str("name")
            let hash = try r.str("password hash")
            let saltCount = Int(try r.u8("salt length"))
            let salt = try r.bytes(saltCount, "salt")
            self = .account(
                SharedAccount(
                    name: name, passwordHash: hash, scramSalt: salt, scramIterations: try r.u32("iterations"),
                    storedKey: try r.bytes(SharedAccount.keyBytes, "stored key"),
                    serverKey: try r.bytes(SharedAccount.keyBytes, "server key"), created: try r.time("created"),
                    updated: try r.time("updated"), welcome: try r.str("welcome")))
        case .accountDropped:
            self = .accountDropped(name: try r.str("name"), time: try r.time("time"))
        case .serverBan:
            self = .serverBan(
                mask: try r.str("mask"), reason: try r.str("reason"), by: try r.str("by"), time: try r.time("time"))
        case .serverUnban:
            self = .serverUnban(mask: try r.str("mask"), time: try r.time("time"))
        case .channelAccess:
            let channel = try r.str("channel")
            let created = try r.time("created")
            let modes = try r.str("modes")
            let key = try r.str("key")
            let operators = Self.words(try r.str("operators"))
            let voiced = Self.words(try r.str("voiced"))
            let bans = Self.words(try r.str("bans"))
            let orphaned = try r.u8("orphaned")
            guard orphaned <= 1 else { throw ProtocolError(.malformedFrame, "orphaned is 0 or 1") }
            self = .channelAccess(
                SharedChannelAccess(
                    channel: channel, created: created, modes: modes, key: key, operators: operators, voiced: voiced,
                    bans: bans,
                    orphaned: orphaned == 1, time: try r.time("time"), by: try r.str("by"),
                    change: try r.str("change")))
        case .operators:
            self = .operators(Self.words(try r.str("names")))
        case .kick:
            self = .kick(
                channel: try r.str("channel"), nick: try r.str("nick"), by: try r.str("by"),
                reason: try r.str("reason"))
        case .invite:
            self = .invite(channel: try r.str("channel"), nick: try r.str("nick"), by: try r.str("by"))
        case .kill:
            self = .kill(nick: try r.str("nick"), by: try r.str("by"), reason: try r.str("reason"))
        case .away:
            self = .away(nick: try r.str("nick"), text: try r.str("text"))
        case .loggedIn:
            self = .loggedIn(nick: try r.str("nick"), account: try r.str("account"))
        default:
            throw ProtocolError(.unknownFrameType, "\(type) is not a network record")
        }
    }

    private static func words(_ text: String) -> [String] {
        text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
}

/// An account as servers pass it to each other: what `accounts.json` keeps of it.
public struct SharedAccount: Sendable, Hashable {
    public static let keyBytes = 32
    public static let maxSaltBytes = 64

    public var name: String
    /// The scrypt hash in its stored form, `scrypt$LOGN$R$P$SALT$HASH`.
    public var passwordHash: String
    public var scramSalt: [UInt8]
    public var scramIterations: UInt32
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]
    public var created: Timestamp
    /// When it last changed (its password or welcome text); the newest copy is kept.
    public var updated: Timestamp
    public var welcome: String

    public init(
        name: String, passwordHash: String, scramSalt: [UInt8], scramIterations: UInt32, storedKey: [UInt8],
        serverKey: [UInt8], created: Timestamp, updated: Timestamp, welcome: String
    ) {
        self.name = name
        self.passwordHash = passwordHash
        self.scramSalt = scramSalt
        self.scramIterations = scramIterations
        self.storedKey = storedKey
        self.serverKey = serverKey
        self.created = created
        self.updated = updated
        self.welcome = welcome
    }
}

/// A channel's access rules as servers pass them to each other. Guests' voices (for a session, not an account)
/// stay on their own server.
public struct SharedChannelAccess: Sendable, Hashable {
    public var channel: String
    /// When the channel these rules belong to was made: of two servers' channels of one name (one made during a
    /// split), the older one's rules win, whatever the times of their changes.
    public var created: Timestamp
    /// The flags set, as letters among `i`, `s`, `t` and `m` (`k` is the key's).
    public var modes: String
    /// Empty for none.
    public var key: String
    /// Account names.
    public var operators: [String]
    public var voiced: [String]
    public var bans: [String]
    public var orphaned: Bool
    /// When they last changed; the newest copy is kept.
    public var time: Timestamp
    /// Who changed them and how, as MODE_CHANGED tells members (`+i`, `+o ann`); both empty when the record is sent
    /// on linking rather than for a change.
    public var by: String
    public var change: String

    public init(
        channel: String, created: Timestamp, modes: String, key: String, operators: [String], voiced: [String],
        bans: [String], orphaned: Bool, time: Timestamp, by: String = "", change: String = ""
    ) {
        self.created = created
        self.by = by
        self.change = change
        self.channel = channel
        self.modes = modes
        self.key = key
        self.operators = operators
        self.voiced = voiced
        self.bans = bans
        self.orphaned = orphaned
        self.time = time
    }
}
