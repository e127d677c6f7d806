import TChatProtocol

/// Slows password guessing, per address and per account, without slowing anyone else. A value with no clock of its
/// own: callers pass the time, tests pass any.
///
/// A few failures are free (typos). After that, each failure makes the address (or the account) wait before its
/// next attempt: 1 s, then 2, 4, 8 … up to a maximum. An attempt while waiting is refused at once, checks no
/// password and costs the server nothing. The server asks before it starts an attempt and again before it checks
/// the password (`wait`), so exchanges started while the count was low cannot all be finished later.
///
/// An account's own count has a shorter maximum wait (`maxAccountWait`, 15 s) and more free failures: it slows a
/// guesser spread over many addresses (to about 5,800 guesses a day), while someone guessing from a few addresses
/// cannot lock the account's owner out (the owner's address has no failures of its own, so the owner waits at most
/// those 15 s). Registrations are counted per address in a table of their own, so they never slow a login.
struct LoginThrottle {
    struct Limits {
        /// Failures from one address before it must wait.
        var freePerAddress = 5
        /// Failures at one account before it must wait, from all addresses together.
        var freePerAccount = 20
        /// The longest wait of an address, in milliseconds.
        var maxWait: UInt64 = 60_000
        /// The longest wait of an account, in milliseconds.
        var maxAccountWait: UInt64 = 15_000
        /// Registrations from one address before it must wait to register again.
        var freeRegistrations = 5
        /// A count is forgotten this long after its last failure, in milliseconds.
        var forgetAfter: UInt64 = 15 * 60_000
        /// Entries kept per table; past it, forgotten ones go first, then the oldest.
        var maxEntries = 50_000
    }

    private struct Entry {
        var failures: Int
        var lastFailure: Timestamp
        var waitUntil: Timestamp
    }

    let limits: Limits
    private var byAddress: [String: Entry] = [:]
    private var byAccount: [String: Entry] = [:]
    private var registrations: [String: Entry] = [:]

    init(limits: Limits = Limits()) { self.limits = limits }

    /// Milliseconds the attempt must wait, or nil when it may go ahead now.
    func wait(account: String, address: String, at now: Timestamp) -> UInt64? {
        let until = max(
            byAddress[address]?.waitUntil ?? Timestamp(milliseconds: 0),
            byAccount[account]?.waitUntil ?? Timestamp(milliseconds: 0))
        return until > now ? until.milliseconds - now.milliseconds : nil
    }

    mutating func failed(account: String, address: String, at now: Timestamp) {
        Self.count(&byAddress, address, free: limits.freePerAddress, maxWait: limits.maxWait, limits: limits, at: now)
        Self.count(
            &byAccount, account, free: limits.freePerAccount, maxWait: limits.maxAccountWait, limits: limits, at: now)
    }

    /// Milliseconds an address must wait before it registers again, or nil.
    func registrationWait(address: String, at now: Timestamp) -> UInt64? {
        guard let until = registrations[address]?.waitUntil, until > now else { return nil }
        return until.milliseconds - now.milliseconds
    }

    /// Counts a registration from an address (in its own table: it never slows a login).
    mutating func registered(address: String, at now: Timestamp) {
        Self.count(
            &registrations, address, free: limits.freeRegistrations, maxWait: limits.maxWait, limits: limits, at: now)
    }

    /// A login succeeded: the account's count is cleared (not the address's, so an attacker with an account of
    /// their own cannot reset their address between guesses at another's).
    mutating func succeeded(account: String) {
        byAccount[account] = nil
    }

    /// Failures counted against an address now (for tests and the docs' figures).
    func failures(fromAddress address: String, at now: Timestamp) -> Int {
        guard let entry = byAddress[address], !isForgotten(entry, at: now) else { return 0 }
        return entry.failures
    }

    private func isForgotten(_ entry: Entry, at now: Timestamp) -> Bool {
        now.milliseconds(since: entry.lastFailure) >= limits.forgetAfter && entry.waitUntil <= now
    }

    private static func count(
        _ table: inout [String: Entry], _ key: String, free: Int, maxWait: UInt64, limits: Limits, at now: Timestamp
    ) {
        var entry = table[key] ?? Entry(failures: 0, lastFailure: now, waitUntil: now)
        if now.milliseconds(since: entry.lastFailure) >= limits.forgetAfter, entry.waitUntil <= now {
            entry.failures = 0
        }
        entry.failures += 1
        entry.lastFailure = now
        if entry.failures > free {
            let doublings = min(entry.failures - free - 1, 16)
            let wait = min(UInt64(1000) << UInt64(doublings), maxWait)
            entry.waitUntil = Timestamp(milliseconds: now.milliseconds + wait)
        }
        if table[key] == nil, table.count >= limits.maxEntries { prune(&table, limits: limits, at: now) }
        table[key] = entry
    }

    private static func prune(_ table: inout [String: Entry], limits: Limits, at now: Timestamp) {
        table = table.filter {
            now.milliseconds(since: $0.value.lastFailure) < limits.forgetAfter || $0.value.waitUntil > now
        }
        while table.count >= limits.maxEntries,
            let oldest = table.min(by: { $0.value.lastFailure < $1.value.lastFailure })
        {
            table[oldest.key] = nil
        }
    }
}
