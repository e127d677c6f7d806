/// The rules a linked server's `NetworkRecord` must follow before anything acts on it: the same as the fields have
/// from a client (nicks, channel names, reasons, mode arguments), with counts and times bounded. What a record may
/// then change (a newer copy only) is the receiver's to decide.
extension PeerFrameCheck {
    /// Most names in an OPERATORS frame or a channel's operator list; most voices and bans on a channel.
    public static let maxSharedNames = 100
    public static let maxSharedVoices = 1000
    public static let maxSharedBans = 100
    /// The longest key, ban mask or server ban mask.
    public static let maxMaskBytes = 64

    static func validate(_ record: NetworkRecord, clock: Clock) throws(ProtocolError) {
        switch record {
        case .account(let account):
            try nick(account.name)
            guard account.passwordHash.hasPrefix("scrypt$"), account.passwordHash.utf8.count <= 256 else {
                throw refuse("a password hash is scrypt's stored form, at most 256 bytes")
            }
            guard (4096...10_000_000).contains(account.scramIterations) else {
                throw refuse("SCRAM iterations are 4,096 to 10,000,000")
            }
            try clock.check(account.created, "created")
            try clock.check(account.updated, "updated")
            guard account.updated >= account.created else { throw refuse("an account changed before it was made") }
            try TextField.check(account.welcome, "welcome", maxBytes: ProtocolLimits.maxWelcomeBytes)
        case .accountDropped(let name, let time):
            try nick(name)
            try clock.check(time, "time")
        case .serverBan(let mask, let reason, let by, let time):
            try serverBanMask(mask)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            try nick(by)
            try clock.check(time, "time")
        case .serverUnban(let mask, let time):
            try serverBanMask(mask)
            try clock.check(time, "time")
        case .channelAccess(let access):
            try channel(access.channel)
            guard access.modes.allSatisfy({ "istm".contains($0) }), Set(access.modes).count == access.modes.count
            else { throw refuse("channel modes are distinct letters among i, s, t and m") }
            if !access.key.isEmpty { try maskWord(access.key, "key") }
            guard access.operators.count <= maxSharedNames, access.voiced.count <= maxSharedVoices,
                access.bans.count <= maxSharedBans
            else { throw refuse("too many operators, voices or bans for one channel") }
            for name in access.operators + access.voiced { try nick(name) }
            for ban in access.bans { try maskWord(ban, "ban") }
            try clock.check(access.time, "time")
            try clock.check(access.created, "created")
            if !access.by.isEmpty { try nick(access.by) }
            try TextField.check(access.change, "change", maxBytes: 2 * maxMaskBytes)
        case .operators(let names):
            guard names.count <= maxSharedNames else { throw refuse("at most \(maxSharedNames) operators") }
            for name in names { try nick(name) }
        case .kick(let channel, let nick, let by, let reason):
            try self.channel(channel)
            if nick != "*" { try self.nick(nick) }
            try self.nick(by)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
        case .invite(let channel, let nick, let by):
            try self.channel(channel)
            try self.nick(nick)
            try self.nick(by)
        case .kill(let nick, let by, let reason):
            try self.nick(nick)
            try self.nick(by)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
        case .away(let nick, let text):
            try self.nick(nick)
            try TextField.check(text, "text", maxBytes: ProtocolLimits.maxAwayBytes)
        case .loggedIn(let nick, let account):
            try self.nick(nick)
            // An account is named as the nick it was registered with.
            if !account.isEmpty { try self.nick(account) }
        }
    }

    /// `account:NICK` or `address:IP` (digits, hex letters, dots and colons).
    static func serverBanMask(_ mask: String) throws(ProtocolError) {
        if mask.hasPrefix("account:") {
            try nick(String(mask.dropFirst("account:".count)))
        } else if mask.hasPrefix("address:") {
            let ip = mask.dropFirst("address:".count)
            guard !ip.isEmpty, ip.utf8.count <= maxMaskBytes, ip.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" })
            else { throw refuse("an address ban names an IP address") }
        } else {
            throw refuse("a server ban is account:NAME or address:IP")
        }
    }

    /// A key or a ban mask: 1 to 64 bytes, no spaces or control characters.
    static func maskWord(_ text: String, _ field: String) throws(ProtocolError) {
        guard !text.isEmpty, text.utf8.count <= maxMaskBytes,
            !text.unicodeScalars.contains(where: { $0.value < 0x21 || (0x7F...0x9F).contains($0.value) })
        else { throw refuse("a \(field) is 1 to \(maxMaskBytes) bytes without spaces or control characters") }
    }
}
