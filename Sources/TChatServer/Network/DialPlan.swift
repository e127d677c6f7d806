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
    /// How long a gossiped address given up is not taken from gossip again, and how many such are remembered.
    static let givenUpFor: TimeAmount = .minutes(10)
    static let maxGivenUp = 1024

    private(set) var targets: [String: Dial] = [:]
    /// Gossiped addresses given up, and when: gossip naming them again does not start the count afresh.
    private var givenUp: [String: NIODeadline] = [:]

    /// Adds an address to keep a link to, unless it is known already or a bound is reached; true if added.
    @discardableResult
    mutating func add(_ address: String, gossiped: Bool = false, at now: NIODeadline = .now()) -> Bool {
        guard targets[address] == nil, targets.count < Self.maxTargets else { return false }
        if gossiped {
            if let since = givenUp[address], now - since < Self.givenUpFor { return false }
            if targets.values.filter(\.gossiped).count >= Self.maxGossiped { return false }
        } else {
            givenUp[address] = nil
        }
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
    /// the next, and forget a gossiped address that keeps failing. True for the first failure in a row of an
    /// address the operator gave (worth a warning; the next ones are not).
    @discardableResult
    mutating func failed(_ address: String, at now: NIODeadline) -> Bool {
        guard var dial = targets[address] else { return false }
        let first = dial.failures == 0 && !dial.gossiped
        dial.failures += 1
        if dial.gossiped && dial.failures >= Self.gossipAttempts {
            targets[address] = nil
            if givenUp.count >= Self.maxGivenUp, let oldest = givenUp.min(by: { $0.value < $1.value }) {
                givenUp[oldest.key] = nil
            }
            givenUp[address] = now
            return false
        }
        dial.nextAttempt = now + TimeAmount(dial.backoff.next())
        targets[address] = dial
        return first
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
