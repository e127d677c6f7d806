public import Foundation
import Synchronization

/// Where log lines go: a bounded queue drained by a thread of its own, so that logging never blocks an event loop.
///
/// Writing to standard error from the thread that logs froze the whole server once a pipe nobody read was full
/// (after 64 KB). Now a line is handed to a serial dispatch queue and the caller goes on; when `bound` lines are
/// waiting, new ones are dropped and counted, and the count is written (as a warning line of its own) before the
/// next line that gets through.
public final class LogOutput: Sendable {
    /// Standard error, shared by every logger of the process, so lines keep their order.
    public static let standardError = LogOutput(FileHandle.standardError)

    private let handle: FileHandle
    private let queue = DispatchQueue(label: "tchat.log")
    private let bound: Int
    private let waiting = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)

    public init(_ handle: FileHandle, bound: Int = 10_000) {
        self.handle = handle
        self.bound = bound
    }

    /// Queues a finished line; drops it (counted) when `bound` lines wait already.
    func write(_ line: String) {
        guard waiting.add(1, ordering: .relaxed).newValue <= bound else {
            waiting.subtract(1, ordering: .relaxed)
            dropped.add(1, ordering: .relaxed)
            return
        }
        queue.async { [self] in
            let lost = dropped.exchange(0, ordering: .relaxed)
            if lost > 0 {
                let note = LineLogHandler.line(
                    level: "warning", message: "log lines dropped: the log output was not being read fast enough",
                    metadata: ["count": "\(lost)"])
                try? handle.write(contentsOf: Data(note.utf8))
            }
            try? handle.write(contentsOf: Data(line.utf8))
            waiting.subtract(1, ordering: .relaxed)
        }
    }

    /// Lines dropped since the last report of them (for tests and metrics).
    var droppedSinceReport: Int { dropped.load(ordering: .relaxed) }

    /// Waits until every queued line is written: before the process exits, so its last words are not lost.
    public func flush() {
        queue.sync {}
    }
}
