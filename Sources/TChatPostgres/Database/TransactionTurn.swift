import Dispatch
import Synchronization

/// A transaction that stops halfway for a blocking caller: the database work (in a task) reads under a lock and
/// offers what it read; the caller works out, on its own thread, what to write (code that cannot cross into a task,
/// such as the storage seam's non-escaping `change`) and hands that back; the task writes it and commits. Only
/// `Sendable` values cross, each once.
final class TransactionTurn<Read: Sendable, Write: Sendable>: Sendable {
    enum Decision: Sendable {
        case write(Write)
        /// Nothing to write: the task rolls back.
        case abandon
    }

    private struct State {
        var read: Result<Read, any Error>?
        var decision: Decision?
        var waiting: CheckedContinuation<Decision, Never>?
    }

    private let state = Mutex(State())
    private let readReady = DispatchSemaphore(value: 0)

    // MARK: The task's side

    /// Offers what was read (or why nothing could be); only the first offer counts, so the task's wrapper may
    /// offer its failure after the fact without knowing whether the work got that far.
    func offer(_ read: Result<Read, any Error>) {
        let first = state.withLock { state in
            guard state.read == nil else { return false }
            state.read = read
            return true
        }
        if first { readReady.signal() }
    }

    /// What the caller decided, once it has.
    func decision() async -> Decision {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Decision? in
                if let decision = state.decision { return decision }
                state.waiting = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    // MARK: The caller's side

    /// Blocks until the task has read (or failed).
    func read() -> Result<Read, any Error> {
        readReady.wait()
        return state.withLock { $0.read! }
    }

    /// Tells the task what to write; called once on every way out after `read`, a failed read included (the task
    /// may read after all, past a deadline that gave up on it, and must not wait for ever).
    func decide(_ decision: Decision) {
        let waiting = state.withLock { state -> CheckedContinuation<Decision, Never>? in
            state.decision = decision
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume(returning: decision)
    }
}
