import NIOCore

/// The peer addresses a server keeps a link to, and how dialling each one goes: back-off after a failure, one
/// attempt at a time, and bounds, so that neither configuration mistakes nor gossip can make it dial without end.
///
/// Addresses come from `--peer` and the discovery registry (kept for good) and from linked servers' PEERS (given
/// up after `gossipAttempts` failures in a row, and at most `maxGossiped` of them). A value: `ServerManager` keeps
/// it behind its lock.
struct DialPlan {
    struct Dial: Sendable {
        var inFlight = false
        var nextAttempt = NIODeadline.uptimeNanoseconds(0)
        var backoff = DialBackoff()
        var gossiped = false
        var failures = 0
    }

    /// Addresses kept at most, however learnt.
    static let maxTargets = 256
    /// Gossiped addresses kept at most.
    static let maxGossiped = 64
    /// Failed attempts in a row after which a gossiped address is forgotten.
    static let gossipAttempts = 5

    private(set) var targets: [String: Dial] = [:]

    /// Adds an address to keep a link to, unless it is known already or a bound is reached; true if added.
    @discardableResult
    mutating func add(_ address: String, gossiped: Bool = false) -> Bool {
        guard targets[address] == nil, targets.count < Self.maxTargets else { return false }
        if gossiped, targets.values.filter(\.gossiped).count >= Self.maxGossiped { return false }
        var dial = Dial()
        dial.gossiped = gossiped
        targets[address] = dial
        return true
    }

    /// The addresses to dial now: not linked, not ours, no attempt under way, back-off passed. Marks them in flight.
    mutating func due(at now: NIODeadline, linked: Set<String>, own: String) -> [String] {
        var due: [String] = []
        for (address, dial) in targets
        where !dial.inFlight && now >= dial.nextAttempt && !linked.contains(address) && address != own {
            targets[address]?.inFlight = true
            due.append(address)
        }
        return due
    }

    /// The connection attempt to `address` is over (connected, or not).
    mutating func attemptEnded(_ address: String) {
        targets[address]?.inFlight = false
    }

    /// An attempt to link to `address` failed (no connection, or refused in the handshake): wait longer before
    /// the next, and forget a gossiped address that keeps failing.
    mutating func failed(_ address: String, at now: NIODeadline) {
        guard var dial = targets[address] else { return }
        dial.failures += 1
        if dial.gossiped && dial.failures >= Self.gossipAttempts {
            targets[address] = nil
            return
        }
        dial.nextAttempt = now + TimeAmount(dial.backoff.next())
        targets[address] = dial
    }

    /// A link to `address` is up: the next loss starts the back-off afresh.
    mutating func linked(_ address: String) {
        targets[address]?.backoff = DialBackoff()
        targets[address]?.failures = 0
    }

    /// A link to `address` went down: wait a little before dialling it again.
    mutating func lost(_ address: String, at now: NIODeadline) {
        guard var dial = targets[address] else { return }
        dial.nextAttempt = now + TimeAmount(dial.backoff.next())
        targets[address] = dial
    }
}

/// Delays between attempts to link to an address: 0.5 s doubling to 10 s.
struct DialBackoff: Sendable {
    private var attempt = 0

    mutating func next() -> Duration {
        defer { attempt += 1 }
        return min(.milliseconds(500) * (1 << min(attempt, 5)), .seconds(10))
    }
}
