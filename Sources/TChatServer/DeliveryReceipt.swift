import NIOCore
import Synchronization

/// Acknowledges a channel message once it is stored and handed to every member's connection on this server.
///
/// Waiting for the hand-off as well as for the disk gives senders flow control: a sender can be at most its own
/// window of messages ahead of what the server has written out, so a server short of CPU slows its senders down
/// instead of queueing without bound, and latency stays proportional to the window. Each party (the history
/// writer, and the mailbox of every loop with members) reports once, from its own thread; the last one
/// completes the promise.
final class DeliveryReceipt: Sendable {
    private let remaining: Atomic<Int>
    private let failure = Mutex<(any Error)?>(nil)
    private let promise: EventLoopPromise<Void>
    /// Where the promise completes, and where reports are best made from.
    var eventLoop: any EventLoop { promise.futureResult.eventLoop }

    /// `parties`: how many reports complete it.
    init(parties: Int, promise: EventLoopPromise<Void>) {
        remaining = Atomic(parties)
        self.promise = promise
        if parties == 0 { promise.succeed() }
    }

    /// One party is done; `error` fails the receipt once every party has reported.
    func report(_ error: (any Error)? = nil) {
        if let error { failure.withLock { $0 = $0 ?? error } }
        guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        if let error = failure.withLock({ $0 }) { promise.fail(error) } else { promise.succeed() }
    }
}
