import NIOCore

/// The open connections, counted per address group, with the limits a new one must pass: the per-address cap
/// (`--max-per-ip`), the per-address connection rate (`--connect-rate`), and a bound of its own on handshakes not
/// yet finished (`--max-handshakes`).
///
/// Unfinished handshakes are bounded apart from admitted clients so that connections which never say HELLO cannot
/// take the places of clients that do. When the bound is reached a newcomer is still let in, and the oldest
/// unfinished handshake of the address group holding the most of them is ended instead: an attacker holding many
/// loses its own, while a client that arrives alone and says HELLO at once is never the one chosen. Pure and
/// generic over what a connection is, so it is tested without sockets.
struct ConnectionTable<Connection> {
    struct Limits {
        var maxPerGroup: Int
        var maxHandshakes: Int
        var connectRate: Double
        var connectBurst: Int
    }

    enum Admission {
        /// Admitted; `evicted` is an unfinished handshake ended to make room.
        case admitted(evicted: Connection?)
        case tooManyFromAddress
        case connectingTooFast
        case full
    }

    private struct Entry {
        let connection: Connection
        let ip: String
        let group: AddressGroup
        /// When it connected, while it has not finished its handshake.
        var handshakeSince: NIODeadline?
    }

    private(set) var limits: Limits
    /// A hard bound on all open connections: admitted clients and unfinished handshakes together.
    private(set) var maxOpen: Int
    private var entries: [UInt64: Entry] = [:]
    private var perGroup: [AddressGroup: Int] = [:]
    /// Unfinished handshakes per group (ids with their start).
    private var handshakes: [AddressGroup: [UInt64: NIODeadline]] = [:]
    private(set) var handshakeCount = 0
    private var throttle: ConnectionThrottle

    init(limits: Limits, maxOpen: Int) {
        self.limits = limits
        self.maxOpen = maxOpen
        throttle = ConnectionThrottle(rate: limits.connectRate, burst: limits.connectBurst)
    }

    var count: Int { entries.count }

    /// New limits (a reload) for the connections to come; those open stay.
    mutating func update(limits: Limits, maxOpen: Int) {
        if limits.connectRate != self.limits.connectRate || limits.connectBurst != self.limits.connectBurst {
            throttle = ConnectionThrottle(rate: limits.connectRate, burst: limits.connectBurst)
        }
        self.limits = limits
        self.maxOpen = maxOpen
    }

    mutating func admit(
        _ id: UInt64, _ connection: Connection, ip: String, group: AddressGroup, now: NIODeadline = .now()
    ) -> Admission {
        let fromGroup = perGroup[group, default: 0]
        if limits.maxPerGroup > 0, fromGroup >= limits.maxPerGroup { return .tooManyFromAddress }
        guard throttle.allow(group, now: now) else { return .connectingTooFast }
        var evicted: Connection?
        if handshakeCount >= max(limits.maxHandshakes, 1) {
            guard let victim = oldestHandshakeOfBusiestGroup() else { return .full }
            evicted = entries[victim]?.connection
            remove(victim)
        } else {
            // Checked only here: past the handshake bound, the one ended makes the room.
            guard entries.count < maxOpen else { return .full }
        }
        entries[id] = Entry(connection: connection, ip: ip, group: group, handshakeSince: now)
        perGroup[group] = fromGroup + 1
        handshakes[group, default: [:]][id] = now
        handshakeCount += 1
        return .admitted(evicted: evicted)
    }

    /// The connection said HELLO and was answered: it no longer counts as a handshake.
    mutating func finishHandshake(_ id: UInt64) {
        guard let entry = entries[id], entry.handshakeSince != nil else { return }
        entries[id]?.handshakeSince = nil
        forgetHandshake(id, group: entry.group)
    }

    mutating func remove(_ id: UInt64) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        let left = perGroup[entry.group, default: 1] - 1
        perGroup[entry.group] = left > 0 ? left : nil
        if entry.handshakeSince != nil { forgetHandshake(id, group: entry.group) }
    }

    func connection(_ id: UInt64) -> Connection? { entries[id]?.connection }

    var connections: [Connection] { entries.values.map(\.connection) }

    func connections(from ip: String) -> [Connection] {
        entries.values.filter { $0.ip == ip }.map(\.connection)
    }

    private mutating func forgetHandshake(_ id: UInt64, group: AddressGroup) {
        guard handshakes[group]?.removeValue(forKey: id) != nil else { return }
        if handshakes[group]?.isEmpty == true { handshakes[group] = nil }
        handshakeCount -= 1
    }

    /// Ties go to the group seen first in the scan; within the group, the oldest handshake.
    private func oldestHandshakeOfBusiestGroup() -> UInt64? {
        guard let busiest = handshakes.max(by: { $0.value.count < $1.value.count }) else { return nil }
        return busiest.value.min(by: { $0.value < $1.value })?.key
    }
}

/// New connections per address group: a token bucket per group (`--connect-rate` a second, `--connect-burst` at
/// once). Full buckets are forgotten, so the table holds only groups that connected recently.
struct ConnectionThrottle {
    let rate: Double
    let burst: Double
    private var buckets: [AddressGroup: (tokens: Double, at: NIODeadline)] = [:]
    private var prunedAt: NIODeadline?

    /// `rate` 0 means no limit.
    init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
    }

    mutating func allow(_ group: AddressGroup, now: NIODeadline) -> Bool {
        guard rate > 0 else { return true }
        // At most once a second, so that many busy groups cannot make every connection pay for a pass.
        if buckets.count > 4096, prunedAt.map({ now - $0 >= .seconds(1) }) ?? true {
            prunedAt = now
            forgetFull(now: now)
        }
        var bucket = buckets[group] ?? (burst, now)
        bucket.tokens = min(burst, bucket.tokens + Double((now - bucket.at).nanoseconds) / 1e9 * rate)
        bucket.at = now
        guard bucket.tokens >= 1 else {
            buckets[group] = bucket
            return false
        }
        bucket.tokens -= 1
        buckets[group] = bucket
        return true
    }

    private mutating func forgetFull(now: NIODeadline) {
        let rate = rate
        let burst = burst
        buckets = buckets.filter { $0.value.tokens + Double((now - $0.value.at).nanoseconds) / 1e9 * rate < burst }
    }
}
