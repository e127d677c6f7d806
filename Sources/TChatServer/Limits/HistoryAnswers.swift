import Synchronization

/// Bytes held for HISTORY answers, read and not yet written to their clients, against a server-wide bound
/// (`--history-answer-memory`).
///
/// A request reserves what its answer could take at most before anything is read, and keeps what it really took
/// until the last byte is written; one that does not fit waits until answers ahead of it are written. Twenty
/// clients asking for a channel of large messages and not reading took the server from 116 MB to 713 MB before.
/// One request is always let through when nothing is held, however large, so every request is answered in time.
final class HistoryAnswers: Sendable {
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var bytes: Int { held.load(ordering: .relaxed) }

    /// Reserves `bytes` if they fit (or nothing is held); false when the request must wait.
    func reserve(_ bytes: Int) -> Bool {
        var current = held.load(ordering: .relaxed)
        while true {
            guard current == 0 || current + bytes <= limit else { return false }
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ bytes: Int) { held.subtract(bytes, ordering: .relaxed) }
}
