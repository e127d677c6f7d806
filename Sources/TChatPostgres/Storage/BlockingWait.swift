import Dispatch
import Synchronization

/// Runs async database work from a thread that may block: the storage seam's loads and history reads are called
/// on a thread pool (or before the server accepts anyone), never on an event loop.
enum BlockingWait {
    static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        try start(work).wait()
    }

    /// Starts `work` and returns at once: the caller may do something of its own (`TransactionTurn`) before it
    /// waits for the result.
    static func start<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Pending<T> {
        let pending = Pending<T>()
        Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await work())
            } catch {
                result = .failure(error)
            }
            pending.finish(result)
        }
        return pending
    }

    /// The result of work started by `start`.
    final class Pending<T: Sendable>: Sendable {
        private let outcome = Mutex<Result<T, any Error>?>(nil)
        private let done = DispatchSemaphore(value: 0)

        fileprivate func finish(_ result: Result<T, any Error>) {
            outcome.withLock { $0 = result }
            done.signal()
        }

        /// Whether the work has finished (or been given up on its deadline).
        var isFinished: Bool { outcome.withLock { $0 != nil } }

        /// Blocks until the work has finished; its result. Called once.
        func wait() throws -> T {
            done.wait()
            return try outcome.withLock { $0! }.get()
        }
    }
}

/// Work given up on after a deadline: a database that does not answer must not hold a message, a read or a
/// shutdown for ever.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "the database did not answer within \(seconds) s" }
}

/// `work`'s result, or `DeadlineExceeded` once `seconds` have passed, whichever comes first. The work is cancelled
/// then but not waited for: a query postgres-nio cannot cancel (one waiting on a connection that went silent) must
/// not hold the caller past the deadline. The server's own timeouts (`PostgresDatabase.sessionLimits`) end it.
func withDeadline<T: Sendable>(
    seconds: Double, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.begin(continuation)
        race.worker(
            Task {
                do {
                    race.finish(.success(try await work()))
                } catch {
                    race.finish(.failure(error))
                }
            })
        race.timer(
            Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                guard !Task.isCancelled else { return }
                race.finish(.failure(DeadlineExceeded(seconds: seconds)))
            })
    }
}

/// The one answer of `withDeadline`: whichever of the work and the timer finishes first resumes the caller and
/// cancels the other.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var worker: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func worker(_ task: Task<Void, Never>) {
        let finished = state.withLock { state in
            state.worker = task
            return state.finished
        }
        if finished { task.cancel() }
    }

    func timer(_ task: Task<Void, Never>) {
        let finished = state.withLock { state in
            state.timer = task
            return state.finished
        }
        if finished { task.cancel() }
    }

    func finish(_ result: Result<T, any Error>) {
        let taken = state.withLock { state -> (CheckedContinuation<T, any Error>, [Task<Void, Never>])? in
            guard !state.finished, let continuation = state.continuation else { return nil }
            state.finished = true
            state.continuation = nil
            return (continuation, [state.worker, state.timer].compactMap { $0 })
        }
        guard let (continuation, tasks) = taken else { return }
        continuation.resume(with: result)
        for task in tasks { task.cancel() }
    }
}
