import Synchronization

/// Bytes held for HISTORY answers, read and not yet written to their clients, against a server-wide bound
/// (`--history-answer-memory`).
///
/// A request reserves what its answer could take at most before anything is read, and keeps what it really took
/// until the last byte is written; one that does not fit waits until answers ahead of it are written. Twenty
/// clients asking for a channel of large messages and not reading took the server from 116 MB to 713 MB before.
/// One request is always let through when nothing is held, however large, so every request is answered in time;
/// and one that has waited long (a large one, which fits only when little is held) goes first: from then on no
/// other request is let in until it is (for 5 s at most, so that one large request behind a slow reader cannot
/// stop everyone's), so a stream of small ones cannot keep it out for ever.
final class HistoryAnswers: Sendable {
    let limit: Int
    private let held = Atomic<Int>(0)
    /// The connection whose request waited longest and now goes first, and since when; 0 for none.
    private let first = Mutex<Priority>(Priority())
    private struct Priority {
        var id: UInt64 = 0
        var since = ContinuousClock.now
        /// A connection whose turn ran out waits this long before it may go first again.
        var resting: (id: UInt64, until: ContinuousClock.Instant)?
    }
    static let firstFor = Duration.seconds(5)

    init(limit: Int) { self.limit = limit }

    var bytes: Int { held.load(ordering: .relaxed) }

    /// Reserves `bytes` for connection `id` if they fit (or nothing is held) and no request that waited long is
    /// ahead; false when it must wait. `waitedLong`: it asks to go first from now on.
    func reserve(
        _ bytes: Int, for id: UInt64, waitedLong: Bool = false, now: ContinuousClock.Instant = .now
    ) -> Bool {
        let ahead = first.withLock { first in
            if first.id != 0, now - first.since > Self.firstFor {
                first.resting = (first.id, now + Self.firstFor)
                first.id = 0
            }
            return first.id
        }
        guard ahead == 0 || ahead == id else { return false }
        var current = held.load(ordering: .relaxed)
        while true {
            guard current == 0 || current + bytes <= limit else {
                if waitedLong, ahead == 0 {
                    first.withLock { first in
                        guard first.id == 0 else { return }
                        if let resting = first.resting, resting.id == id, now < resting.until { return }
                        first.id = id
                        first.since = now
                    }
                }
                return false
            }
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged {
                if ahead == id { withdraw(id) }
                return true
            }
            current = original
        }
    }

    /// A connection that goes (or gives up its request) stops going first.
    func withdraw(_ id: UInt64) {
        first.withLock { if $0.id == id { $0.id = 0 } }
    }

    func release(_ bytes: Int) { held.subtract(bytes, ordering: .relaxed) }
}
