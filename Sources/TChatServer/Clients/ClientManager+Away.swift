import TChatProtocol

/// Away texts (`SET_AWAY`, PEER_AWAY), shown in WHOIS and told to whoever sends the nick a direct message, as IRC's
/// RPL_AWAY is. Ours are kept per session, a linked server's clients' in their directory entries: each goes with
/// the client, whatever renames and collisions do to its nick.
extension ClientManager {
    /// Marks `session` and every session sharing its nick away, or back with an empty text, and tells the network
    /// under the nick it has now (looked up under the same lock, so a collision cannot slip in between). Returns
    /// false when nothing changed, and then nothing is sent.
    @discardableResult
    func setAway(_ text: String, for session: ClientSession) -> Bool {
        state.withLock { state in
            guard let nick = state.nicks.localNick(session.id) else { return false }
            let holders = state.nicks.sessions(holding: nick.key)
            guard holders.contains(where: { (state.awayOfSession[$0] ?? "") != text }) else { return false }
            for holder in holders { state.awayOfSession[holder] = text.isEmpty ? nil : text }
            feed.emit(.record(.away(nick: nick.name, text: text)))
            return true
        }
    }

    /// A linked server's client, as that server names it, is away or back.
    func setRemoteAway(_ text: String, nick: String, serverID: UInt64) -> RemoteFieldChange {
        state.withLock { $0.nicks.setRemote(\.away, to: text, nick: nick, on: serverID) }
    }

    /// `session`'s nick and away text, read together; nil when it is not away.
    func away(of session: ClientSession) -> (nick: String, text: String)? {
        state.withLock { state in
            guard let text = state.awayOfSession[session.id], let nick = state.nicks.localNick(session.id) else {
                return nil
            }
            return (nick.name, text)
        }
    }

    /// The away text of whoever holds `nick` here or on a linked server; nil when not away.
    func awayText(of nick: String) -> String? {
        state.withLock { state in
            let key = Nick.key(for: nick)
            if let first = state.nicks.localByKey[key] { return state.awayOfSession[first] }
            return state.nicks.remote[key].flatMap { $0.away.isEmpty ? nil : $0.away }
        }
    }

    /// Our clients that are away, for a newly linked server.
    func localAwayRecords() -> [NetworkRecord] {
        state.withLock { state in
            state.nicks.localByKey.values.compactMap { id in
                guard let text = state.awayOfSession[id], let nick = state.nicks.locals[id]?.nick else { return nil }
                return .away(nick: nick.name, text: text)
            }
        }
    }
}
