import NIOCore
import Synchronization
import TChatProtocol

/// Acknowledges a channel message once it is stored and handed to every member's connection on this server.
///
/// Waiting for the hand-off as well as for the disk gives senders flow control: a sender can be at most its own
/// window of messages ahead of what the server has written out, so a server short of CPU slows its senders down
/// instead of queueing without bound, and latency stays proportional to the window. Each party (the history
/// writer, and the mailbox of every loop with members) reports once, from its own thread; the last one tells the
/// waiter, once.
package final class DeliveryReceipt: Sendable {
    /// Who hears when every party has reported.
    enum Waiter: Sendable {
        /// A client's SEND: answered straight to the client (`SendReply`), with no promise or task between.
        case client(SendReply)
        /// Anything else that waits for a store (tests, the storage benchmark).
        case promise(EventLoopPromise<Void>)

        /// Fails the wait; from a mailbox's drain, `drain` (see `report`).
        func fail(_ error: any Error, in drain: MailboxDrain? = nil) {
            switch self {
            case .client(let reply): reply.fail(error, in: drain)
            case .promise(let promise): promise.fail(error)
            }
        }

        var eventLoop: any EventLoop {
            switch self {
            case .client(let reply): reply.session.eventLoop
            case .promise(let promise): promise.futureResult.eventLoop
            }
        }

        /// The mailbox of a waiting client's loop.
        var mailbox: LoopMailbox? {
            if case .client(let reply) = self { reply.session.mailbox } else { nil }
        }
    }

    private let remaining: Atomic<Int>
    private let failure = Mutex<(any Error)?>(nil)
    private let waiter: Waiter
    private let message: ChatMessage?
    /// Where the waiter lives, and where reports are best made from.
    var eventLoop: any EventLoop { waiter.eventLoop }
    /// For a client's SEND, its loop's mailbox: reports made from its drain answer in the same write as the
    /// messages (`LoopMailbox.post(reports:)`).
    var mailbox: LoopMailbox? { waiter.mailbox }

    /// `parties`: how many reports complete it; `message`: what a client's SENT names.
    init(parties: Int, waiter: Waiter, message: ChatMessage? = nil) {
        remaining = Atomic(parties)
        self.waiter = waiter
        self.message = message
        if parties == 0 { complete(in: nil) }
    }

    convenience init(parties: Int, promise: EventLoopPromise<Void>) {
        self.init(parties: parties, waiter: .promise(promise))
    }

    /// The store's report: the message is stored (a backend that committed it before anyone saw it says so at
    /// once).
    package func reportStored() { report() }

    /// One party is done; `error` fails the receipt once every party has reported. A mailbox reports from its
    /// drain (`drain`), so that a client's answer completed there goes out in the same write as the messages.
    func report(_ error: (any Error)? = nil, in drain: MailboxDrain? = nil) {
        if let error { failure.withLock { $0 = $0 ?? error } }
        guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        complete(in: drain)
    }

    private func complete(in drain: MailboxDrain?) {
        if let error = failure.withLock({ $0 }) {
            waiter.fail(error, in: drain)
            return
        }
        switch waiter {
        case .client(let reply): reply.succeed(message, in: drain)
        case .promise(let promise): promise.succeed()
        }
    }
}
