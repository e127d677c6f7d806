import Synchronization

/// Bytes held for HISTORY answers, read and not yet written to their clients, against a server-wide bound
/// (`--history-answer-memory`).
///
/// A request reserves what its answer could take at most before anything is read, and keeps what it really took
/// until the last byte is written; one that does not fit waits until answers ahead of it are written. Twenty
/// clients asking for a channel of large messages and not reading took the server from 116 MB to 713 MB before.
/// One request is always let through when nothing is held, however large, so every request is answered in time;
/// and one that has waited long (a large one, which fits only when little is held) goes first: from then on no
/// other request is let in until it is, so a stream of small ones cannot keep it out for ever.
final class HistoryAnswers: Sendable {
    let limit: Int
    private let held = Atomic<Int>(0)
    /// The connection whose request waited longest and now goes first; 0 for none.
    private let first = Atomic<UInt64>(0)

    init(limit: Int) { self.limit = limit }

    var bytes: Int { held.load(ordering: .relaxed) }

    /// Reserves `bytes` for connection `id` if they fit (or nothing is held) and no request that waited long is
    /// ahead; false when it must wait. `waitedLong`: it asks to go first from now on.
    func reserve(_ bytes: Int, for id: UInt64, waitedLong: Bool = false) -> Bool {
        let ahead = first.load(ordering: .relaxed)
        guard ahead == 0 || ahead == id else { return false }
        var current = held.load(ordering: .relaxed)
        while true {
            guard current == 0 || current + bytes <= limit else {
                if waitedLong, ahead == 0 { _ = first.compareExchange(expected: 0, desired: id, ordering: .relaxed) }
                return false
            }
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged {
                if ahead == id { first.store(0, ordering: .relaxed) }
                return true
            }
            current = original
        }
    }

    /// A connection that goes (or gives up its request) stops going first.
    func withdraw(_ id: UInt64) {
        _ = first.compareExchange(expected: id, desired: 0, ordering: .relaxed)
    }

    func release(_ bytes: Int) { held.subtract(bytes, ordering: .relaxed) }
}
