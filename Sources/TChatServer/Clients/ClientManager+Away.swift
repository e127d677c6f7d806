import TChatProtocol

/// Away texts (`SET_AWAY`, PEER_AWAY): one per nick, shown in WHOIS and told to whoever sends that nick a direct
/// message, as IRC's RPL_AWAY is.
extension ClientManager {
    /// Marks a nick of ours away, or back with an empty text, and tells the network.
    func setAway(_ text: String, for nick: Nick) {
        state.withLock { state in
            state.away[nick.key] = text.isEmpty ? nil : text
            feed.emit(.record(.away(nick: nick.name, text: text)))
        }
    }

    /// A linked server's client is away, or back.
    func setRemoteAway(_ text: String, nick: String) {
        state.withLock { state in
            guard state.nicks.remote[Nick.key(for: nick)] != nil else { return }
            state.away[Nick.key(for: nick)] = text.isEmpty ? nil : text
        }
    }

    func awayText(of nick: String) -> String? {
        state.withLock { $0.away[Nick.key(for: nick)] }
    }

    /// Our clients that are away, for a newly linked server.
    func localAwayRecords() -> [NetworkRecord] {
        state.withLock { state in
            state.nicks.localByKey.compactMap { key, id in
                guard let text = state.away[key], let nick = state.nicks.locals[id]?.nick else { return nil }
                return .away(nick: nick.name, text: text)
            }
        }
    }
}
