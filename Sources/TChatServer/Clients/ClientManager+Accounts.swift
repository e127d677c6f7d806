import TChatProtocol

/// Which account each session of ours is logged in to. The network hears it of every client (PEER_LOGGED_IN), so
/// that channel-mates anywhere who asked learn it (ACCOUNT_CHANGED, JOINED_ACCOUNT), as IRC's account-notify and
/// extended-join tell it.
extension ClientManager {
    /// An account a session is logged in to: its key, and its name as registered, to show.
    struct LoggedIn: Sendable, Equatable {
        let key: String
        let name: String
    }

    /// A nick's account changed: the sessions holding the nick, to tell its channel-mates.
    struct AccountChange {
        let nick: String
        /// The account's name; empty when logged out.
        let account: String
        let holders: [ClientSession]
    }

    /// The account key a session is logged in to, if any.
    func account(of session: ClientSession) -> String? {
        state.withLock { $0.accountOf[session.id]?.key }
    }

    /// The account a session is logged in to, key and name, if any.
    func loggedIn(_ session: ClientSession) -> LoggedIn? {
        state.withLock { $0.accountOf[session.id] }
    }

    /// How many accounts have been dropped: read before checking an account in the book, and handed to
    /// `setAccount` or read by `admit`, so that a drop between the check and the login undoes it (`RecentDrops`).
    var dropMark: UInt64 { state.withLock { $0.drops.mark } }

    /// Logs a session in to `account`, or out with nil, and tells the network under the nick it has now. Returns
    /// what changed for the nick's channel-mates; nil when nothing did. `checkedAt`: the `dropMark` read before the
    /// account was found in the book; the login is refused if the account was dropped since.
    @discardableResult
    func setAccount(
        _ account: LoggedIn?, for session: ClientSession, checkedAt mark: UInt64? = nil
    ) throws(ProtocolError) -> AccountChange? {
        try state.withLock { (state) throws(ProtocolError) -> AccountChange? in
            if let account, let mark { try state.drops.check(account.key, since: mark) }
            guard let nick = state.nicks.localNick(session.id) else { return nil }
            let before = state.accountOf[session.id]
            state.accountOf[session.id] = account
            guard before?.name != account?.name else { return nil }
            feed.emit(.record(.loggedIn(nick: nick.name, account: account?.name ?? "")))
            return state.accountChange(nick, account: account?.name ?? "")
        }
    }

    /// `session`'s nick and account as they are now, if its account is no longer `name` (a join that waited for the
    /// disk announced that one).
    func accountChange(of session: ClientSession, since name: String) -> AccountChange? {
        state.withLock { state in
            let now = state.accountOf[session.id]?.name ?? ""
            guard now != name, let nick = state.nicks.localNick(session.id) else { return nil }
            return state.accountChange(nick, account: now)
        }
    }

    /// Logs out every session of a dropped account; returns those sessions, to tell them, and what changed for
    /// each nick they held, to tell their channel-mates.
    @discardableResult
    func forgetAccount(_ account: String) -> (loggedOut: [ClientSession], changes: [AccountChange]) {
        state.withLock { state in
            state.drops.record(account)
            let sessions = state.accountOf.filter { $0.value.key == account }.map(\.key)
            for id in sessions { state.accountOf[id] = nil }
            var changes: [String: AccountChange] = [:]
            for id in sessions {
                guard let nick = state.nicks.localNick(id), changes[nick.key] == nil else { continue }
                feed.emit(.record(.loggedIn(nick: nick.name, account: "")))
                changes[nick.key] = state.accountChange(nick, account: "")
            }
            return (state.sessions(sessions), Array(changes.values))
        }
    }

    /// Tells sessions whose account was dropped (by one of them, by `tchatd account`, or on another server of the
    /// network) that they are logged out: LOGGED_IN with no account, as an event. Their clients stop logging in
    /// with it on reconnecting, and an IRC client gets 901.
    static func tellLoggedOut(_ sessions: [ClientSession]) {
        var audience = SubscriberSet()
        for session in sessions { audience.insert(session) }
        guard !audience.isEmpty, let frame = SubscriberSet.encode(.loggedIn(account: "")) else { return }
        audience.deliver(frame)
    }

    /// Every session of ours logged in to `account` (a key).
    func sessions(ofAccount account: String) -> [ClientSession] {
        state.withLock { state in state.sessions(state.accountOf.filter { $0.value.key == account }.map(\.key)) }
    }

    /// A linked server's client, as that server names it, logged in to `account` or out (empty).
    func setRemoteAccount(_ account: String, nick: String, serverID: UInt64) -> RemoteFieldChange {
        state.withLock { $0.nicks.setRemote(\.account, to: account, nick: nick, on: serverID) }
    }

    /// The name of the account whoever holds `nick` here or on a linked server is logged in to; empty when none.
    func accountName(of nick: String) -> String {
        state.withLock { state in
            let key = Nick.key(for: nick)
            if let first = state.nicks.localByKey[key] { return state.accountOf[first]?.name ?? "" }
            return state.nicks.remote[key]?.account ?? ""
        }
    }
}

extension ClientManager.State {
    /// `nick` now has `account` (empty: none), with the sessions holding it.
    func accountChange(_ nick: Nick, account: String) -> ClientManager.AccountChange {
        ClientManager.AccountChange(
            nick: nick.name, account: account, holders: sessions(nicks.sessions(holding: nick.key)))
    }
}
