import Dispatch
import Synchronization

/// Runs async database work from a thread that may block: the storage seam's loads and history reads are called
/// on a thread pool (or before the server accepts anyone), never on an event loop.
enum BlockingWait {
    static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await work())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}

/// Work given up on after a deadline: a database that does not answer must not hold a message, a read or a
/// shutdown for ever.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "the database did not answer within \(seconds) s" }
}

func withDeadline<T: Sendable>(
    seconds: Double, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded(seconds: seconds) }
        return value
    }
}
