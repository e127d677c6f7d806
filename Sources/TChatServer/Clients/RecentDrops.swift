import TChatProtocol

/// The accounts dropped lately, numbered, so that a login checked against the account book and then recorded under
/// the client manager's lock can tell whether its account was dropped in between.
///
/// The manager's lock never waits for the book's, so a login reads the book before taking it. A drop landing in
/// that gap has already logged out every session of the account when the login is recorded, and would leave this
/// one logged in to an account that no longer exists. The login notes `mark` before reading the book; under the
/// lock, `check(_:since:)` refuses it if that account went since. Only the last `kept` drops are remembered: past
/// them a login cannot tell, and is refused as something to try again (a burst of more than `kept` drops during
/// one login, as a network's sync of many removals might bring), never as a wrong password, which would make a
/// client forget good credentials.
struct RecentDrops {
    static let kept = 1024
    /// How many drops there have been: a login's mark.
    private(set) var mark: UInt64 = 0
    private var keys: [String] = []

    mutating func record(_ key: String) {
        mark += 1
        keys.append(key)
        if keys.count > Self.kept { keys.removeFirst(keys.count - Self.kept) }
    }

    /// Whether `key` was dropped after `since` was read from `mark`; nil when more drops came since than are
    /// remembered.
    func dropped(_ key: String, since: UInt64) -> Bool? {
        let newer = mark &- since
        guard newer > 0 else { return false }
        guard newer <= UInt64(keys.count) else { return nil }
        return keys.suffix(Int(newer)).contains(key)
    }

    /// Refuses a login to `key` checked at `since`: error 214 if the account was dropped since, a busy server's
    /// error (500, try again) if that cannot be told.
    func check(_ key: String, since: UInt64) throws(ProtocolError) {
        switch dropped(key, since: since) {
        case false?: return
        case true?: throw ProtocolError(.loginFailed, "the account \(key) was dropped while you logged in")
        case nil:
            throw ProtocolError(
                .storageFailure, "accounts changed too fast to tell whether yours is still there: try again")
        }
    }
}
