import TChatProtocol

/// Which account each session of ours is logged in to.
extension ClientManager {
    /// The account key a session is logged in to, if any.
    func account(of session: ClientSession) -> String? {
        state.withLock { $0.accountOf[session.id] }
    }

    /// Logs a session in to `account` (a key), or out with nil.
    func setAccount(_ account: String?, for session: ClientSession) {
        state.withLock { state in
            guard state.nicks.localNick(session.id) != nil else { return }
            state.accountOf[session.id] = account
        }
    }

    /// Logs out every session of a dropped account; returns how many there were.
    @discardableResult
    func forgetAccount(_ account: String) -> Int {
        state.withLock { state in
            let sessions = state.accountOf.filter { $0.value == account }.map(\.key)
            for id in sessions { state.accountOf[id] = nil }
            return sessions.count
        }
    }

    /// Every session of ours logged in to `account` (a key).
    func sessions(ofAccount account: String) -> [ClientSession] {
        state.withLock { state in state.sessions(state.accountOf.filter { $0.value == account }.map(\.key)) }
    }
}
