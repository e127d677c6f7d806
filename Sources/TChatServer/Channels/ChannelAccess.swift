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
    /// When an operator last changed any of the above: of two servers' copies the newer is kept
    /// (`ChannelManager+Sharing`).
    var changed = Timestamp(milliseconds: 0)
    /// When the channel these rules were first set on was made (its own, or a linked server's older channel of
    /// the same name whose rules it took): the older lineage wins over a channel made during a split.
    var origin = Timestamp(milliseconds: 0)

    /// Most bans one channel keeps.
    static let maxBans = 100
    /// Longest key or ban mask, in bytes.
    static let maxArgumentBytes = 64

    /// Whether anything here can refuse a message, so that an open channel's sends check nothing more.
    var restrictsSending: Bool { moderated || !bans.isEmpty || inviteOnly || key != nil || secret }

    /// Whether anything was ever set (a fresh channel's rules are not).
    var isSet: Bool {
        !operators.isEmpty || !voiced.isEmpty || !bans.isEmpty || inviteOnly || secret || topicLock || moderated
            || key != nil || orphaned
    }

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
}
