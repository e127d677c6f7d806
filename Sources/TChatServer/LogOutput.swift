public import Foundation
public import Logging
import Synchronization
import TChatProtocol

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
    private let droppedEver = Atomic<Int>(0)
    /// The index of a level in `Logger.Level.allCases`, or -1 when the handlers keep their own.
    private let levelIndex = Atomic<Int>(-1)

    /// The level every handler writing here logs at, when set: a SIGHUP with `--config` changes it at once.
    public var level: Logger.Level? {
        get {
            let index = levelIndex.load(ordering: .relaxed)
            return index >= 0 ? Logger.Level.allCases[index] : nil
        }
        set {
            levelIndex.store(newValue.flatMap { Logger.Level.allCases.firstIndex(of: $0) } ?? -1, ordering: .relaxed)
        }
    }

    public init(_ handle: FileHandle, bound: Int = 10_000) {
        self.handle = handle
        self.bound = bound
    }

    /// Queues a finished line; drops it (counted) when `bound` lines wait already.
    func write(_ line: String) {
        guard waiting.add(1, ordering: .relaxed).newValue <= bound else {
            waiting.subtract(1, ordering: .relaxed)
            dropped.add(1, ordering: .relaxed)
            droppedEver.add(1, ordering: .relaxed)
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

    /// Lines dropped since the process started (for metrics).
    public var droppedLines: Int { droppedEver.load(ordering: .relaxed) }

    /// Waits until every queued line is written, or `timeout` has passed: before the process exits, so its last
    /// words are not lost, but never for ever (a full pipe nobody reads must not keep SIGTERM from ending it).
    public func flush(timeout: Duration = .seconds(2)) {
        let done = DispatchSemaphore(value: 0)
        queue.async { done.signal() }
        _ = done.wait(timeout: .now() + .milliseconds(Int(timeout.inSeconds * 1000)))
    }
}
