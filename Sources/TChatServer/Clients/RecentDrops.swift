/// The accounts dropped lately, numbered, so that a login checked against the account book and then recorded under
/// the client manager's lock can tell whether its account was dropped in between.
///
/// The manager's lock never waits for the book's, so a login reads the book before taking it. A drop landing in
/// that gap has already logged out every session of the account when the login is recorded, and would leave this
/// one logged in to an account that no longer exists. The login notes `mark` before reading the book; under the
/// lock, `dropped(_:since:)` says whether that account went since. Only the last `kept` drops are remembered:
/// older marks than that answer yes, so a login never survives a drop it cannot see (it is refused and tried
/// again, which takes a burst of more than `kept` drops during one login).
struct RecentDrops {
    static let kept = 64
    /// How many drops there have been: a login's mark.
    private(set) var mark: UInt64 = 0
    private var keys: [String] = []

    mutating func record(_ key: String) {
        mark += 1
        keys.append(key)
        if keys.count > Self.kept { keys.removeFirst(keys.count - Self.kept) }
    }

    /// Whether `key` was dropped after `since` was read from `mark`.
    func dropped(_ key: String, since: UInt64) -> Bool {
        let newer = mark &- since
        guard newer > 0 else { return false }
        guard newer <= UInt64(keys.count) else { return true }
        return keys.suffix(Int(newer)).contains(key)
    }
}
