import Crypto
import TChatProtocol

/// Who may do what in a channel: its operators, voiced members, bans, invitations and modes. A value with no lock
/// and no I/O; `ChatChannel` keeps it under its lock, tests drive it directly.
///
/// Operators are accounts (an account key, `Nick.key(for:)` of its name), never bare nicks: a nick without an
/// account could be taken by anyone once its holder leaves, and the channel with it. The account that makes a
/// channel is its first operator; a channel made before accounts (or by a guest) has none until a logged-in
/// member claims it with `+o` on themselves.
struct ChannelAccess: Sendable, Equatable {
    /// Who is asking: the nick's key and the account the session is logged in to, if any.
    struct Member: Sendable, Equatable {
        var nick: String
        /// The account's key.
        var account: String?
        /// The account's name as registered, to show.
        var accountName: String?
        /// Server operators (`--operator`) are operators of every channel.
        var isServerOperator = false
        /// The session's id: an invitation, and a guest's voice, are for the session, not a nick someone else could
        /// take once it is free.
        var session: UInt64 = 0

        init(nick: String, account: String?, accountName: String? = nil, session: UInt64 = 0) {
            self.nick = nick
            self.account = account
            self.accountName = accountName ?? account
            self.session = session
        }

        var nickKey: String { Nick.key(for: nick) }
    }

    /// Account key to account name.
    var operators: [String: String] = [:]
    /// Account keys (or nick keys of members without an account) to the name shown.
    var voiced: [String: String] = [:]
    /// `account:NAME`, or a nick pattern with `*` and `?`, as set.
    var bans: [String] = []
    /// Sessions invited (an invitation is for that session: it ends with it, and with a restart).
    var invited: Set<UInt64> = []
    var inviteOnly = false
    var secret = false
    var topicLock = false
    var moderated = false
    var key: String?
    /// Its operators' accounts were dropped (or a server operator closed it): nobody may claim it any more; only a
    /// server operator gives it a new operator.
    var orphaned = false

    /// Most bans one channel keeps.
    static let maxBans = 100
    /// Longest key or ban mask, in bytes.
    static let maxArgumentBytes = 64

    /// Whether anything here can refuse a message, so that an open channel's sends check nothing more.
    var restrictsSending: Bool { moderated || !bans.isEmpty || inviteOnly || key != nil || secret }

    /// Whether anything can keep a member out or hide the channel.
    var isPrivate: Bool { inviteOnly || secret || key != nil }

    func isOperator(_ member: Member) -> Bool {
        member.isServerOperator || (member.account.map { operators[$0] != nil } ?? false)
    }

    func isVoiced(_ member: Member) -> Bool {
        voiced[Self.guestKey(member.session)] != nil || member.account.map { voiced[$0] != nil } == true
    }

    func isBanned(_ member: Member) -> Bool {
        guard !isOperator(member), !bans.isEmpty else { return false }
        let nickKey = Array(member.nickKey.utf8)
        return bans.contains { Self.matches($0, nickKey: nickKey, account: member.account) }
    }

    /// A guest's voice is its session's.
    static func guestKey(_ session: UInt64) -> String { "session:\(session)" }

    /// The modes as a word: `+ikmst`, with the key after it when `showKey` (members see it, others do not).
    func modeString(showKey: Bool) -> String {
        var letters = "+"
        if inviteOnly { letters += "i" }
        if key != nil { letters += "k" }
        if moderated { letters += "m" }
        if secret { letters += "s" }
        if topicLock { letters += "t" }
        if let key, showKey { letters += " " + key }
        return letters
    }

    // MARK: - Checks

    func checkJoin(_ member: Member, key given: String) throws(ProtocolError) {
        if isOperator(member) { return }
        if isBanned(member) { throw ProtocolError(.banned, "you are banned from this channel") }
        if inviteOnly, !invited.contains(member.session) {
            throw ProtocolError(.inviteOnly, "the channel is invite-only: ask an operator for an invitation")
        }
        if let key, !ConstantTime.equal(key, given) {
            // Counted against the address by the caller, as a failed login is.
            throw ProtocolError(.badChannelKey, "the channel has a key, and that is not it (/join #channel key)")
        }
    }

    /// Members of an invite-only or keyed channel only; voiced members and operators only when moderated.
    func checkSend(_ member: Member, isMember: Bool, channel: String = "") throws(ProtocolError) {
        if isOperator(member) { return }
        if !isMember, secret { throw ProtocolError(.noSuchChannel, "there is no channel \(channel)") }
        if isBanned(member) { throw ProtocolError(.cannotSend, "you are banned from this channel") }
        if !isMember, inviteOnly || key != nil {
            throw ProtocolError(.cannotSend, "only members send to an invite-only or keyed channel: join it first")
        }
        if moderated, !isVoiced(member) {
            throw ProtocolError(.cannotSend, "the channel is moderated: only operators and voiced members speak")
        }
    }

    func checkTopic(_ member: Member) throws(ProtocolError) {
        if topicLock, !isOperator(member) {
            throw ProtocolError(.notChannelOperator, "the topic is locked: only channel operators set it")
        }
    }

    func checkOperator(_ member: Member) throws(ProtocolError) {
        guard isOperator(member) else {
            throw ProtocolError(.notChannelOperator, "only channel operators do that")
        }
    }

    // MARK: - Changes

    /// One mode change as a client writes it: a sign, a letter, and an argument for `k` (when set), `o`, `v`
    /// and `b`. For `o` and `v`, `target` says who the named member is.
    enum Change: Equatable {
        case flag(Character, on: Bool)
        case key(String?)
        case op(String, on: Bool)
        case voice(String, on: Bool)
        case ban(String, on: Bool)

        init(parsing text: String) throws(ProtocolError) {
            let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = words.first, first.count == 2, let sign = first.first, sign == "+" || sign == "-",
                let letter = first.last
            else {
                throw ProtocolError(
                    .invalidArgument, "a mode change is +x or -x, then its argument: +i, +k key, +o nick")
            }
            let on = sign == "+"
            let argument = words.count > 1 ? words[1] : nil
            guard words.count <= 2 else { throw ProtocolError(.invalidArgument, "one mode change at a time") }
            if let argument, argument.utf8.count > ChannelAccess.maxArgumentBytes {
                throw ProtocolError(
                    .fieldTooLong, "a mode's argument is at most \(ChannelAccess.maxArgumentBytes) bytes")
            }
            if let argument,
                argument.unicodeScalars.contains(where: { $0.value < 0x21 || (0x7F...0x9F).contains($0.value) })
            {
                throw ProtocolError(.invalidArgument, "a mode's argument has no spaces or control characters")
            }
            switch letter {
            case "i", "s", "t", "m":
                guard argument == nil else { throw ProtocolError(.invalidArgument, "+\(letter) takes no argument") }
                self = .flag(letter, on: on)
            case "k":
                guard !on || argument != nil else { throw ProtocolError(.invalidArgument, "+k needs the key: +k key") }
                self = .key(on ? argument : nil)
            case "o", "v", "b":
                guard let argument else { throw ProtocolError(.invalidArgument, "\(first) needs a nick or a mask") }
                switch letter {
                case "o": self = .op(argument, on: on)
                case "v": self = .voice(argument, on: on)
                default: self = .ban(argument, on: on)
                }
            default:
                throw ProtocolError(.invalidArgument, "unknown mode \(letter): i k s t m o v b are known")
            }
        }
    }

    /// Applies a change by `member` (an operator, or a logged-in member claiming a channel with no operator);
    /// `target` is the account of the member `+o`/`+v` names, when that member is here. Returns the change as
    /// announced (the key itself is not).
    mutating func apply(
        _ change: Change, by member: Member, target: Member?
    ) throws(ProtocolError) -> String {
        if case .op(let nick, true) = change, operators.isEmpty, !orphaned, let account = member.account,
            Nick.key(for: nick) == member.nickKey
        {
            operators[account] = member.accountName ?? account  // claiming a channel nobody operates
            return "+o \(nick)"
        }
        try checkOperator(member)
        switch change {
        case .flag(let letter, let on):
            switch letter {
            case "i": inviteOnly = on
            case "s": secret = on
            case "t": topicLock = on
            default: moderated = on
            }
            return (on ? "+" : "-") + String(letter)
        case .key(let new):
            key = new
            return new == nil ? "-k" : "+k"
        case .op(let nick, let on):
            guard let target, target.nickKey == Nick.key(for: nick) else {
                throw ProtocolError(.notOnChannel, "\(nick) is not in the channel")
            }
            guard let account = target.account else {
                throw ProtocolError(.notLoggedIn, "\(nick) is not logged in: only accounts can be channel operators")
            }
            if on {
                operators[account] = target.accountName ?? account
                orphaned = false
            } else {
                guard operators.count > 1 || operators[account] == nil else {
                    throw ProtocolError(
                        .invalidArgument, "a channel keeps at least one operator: op someone else first")
                }
                operators[account] = nil
            }
            return (on ? "+o " : "-o ") + nick
        case .voice(let nick, let on):
            guard let here = target.flatMap({ $0.nickKey == Nick.key(for: nick) ? $0 : nil }) else {
                // Someone absent is devoiced by their account's name; voice is only given to who is here.
                guard !on else { throw ProtocolError(.notOnChannel, "\(nick) is not in the channel") }
                voiced[Nick.key(for: nick)] = nil
                return "-v " + nick
            }
            let key = here.account ?? Self.guestKey(here.session)
            if on { voiced[key] = here.accountName ?? nick } else { voiced[key] = nil }
            return (on ? "+v " : "-v ") + nick
        case .ban(let mask, let on):
            let normalized = Self.normalize(mask)
            if on {
                guard !bans.contains(normalized) else { return "+b " + normalized }
                guard bans.count < Self.maxBans else {
                    throw ProtocolError(.invalidArgument, "a channel keeps at most \(Self.maxBans) bans")
                }
                bans.append(normalized)
            } else {
                guard bans.contains(normalized) else { throw ProtocolError(.invalidArgument, "no ban \(normalized)") }
                bans.removeAll { $0 == normalized }
            }
            return (on ? "+b " : "-b ") + normalized
        }
    }

    // MARK: - Ban masks

    /// `account:Name` as `account:` and the account's key; a nick pattern as its skeleton (`*` and `?` kept).
    static func normalize(_ mask: String) -> String {
        if mask.lowercased().hasPrefix("account:") { return "account:" + Nick.key(for: String(mask.dropFirst(8))) }
        return Nick.key(for: mask)
    }

    static func matches(_ mask: String, _ member: Member) -> Bool {
        matches(mask, nickKey: Array(member.nickKey.utf8), account: member.account)
    }

    static func matches(_ mask: String, nickKey: [UInt8], account: String?) -> Bool {
        if mask.hasPrefix("account:") { return account == String(mask.dropFirst(8)) }
        return glob(Array(mask.utf8), nickKey)
    }

    /// `*` any run, `?` any one character; iterative, so no pattern can take time beyond its length times the
    /// nick's.
    static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var (p, t) = (0, 0)
        var star: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = t
                p += 1
            } else if let star {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// Compares a channel key in time that depends on neither where it differs nor its length: the SHA-256 of both
/// are compared, byte by byte.
enum ConstantTime {
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(SHA256.hash(data: Array(a.utf8))), Array(SHA256.hash(data: Array(b.utf8))))
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
