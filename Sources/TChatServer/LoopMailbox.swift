import NIOCore
import NIOPosix
import Synchronization

/// Everything sent to the clients of one event loop, in the order it was sent, taken in batches by that loop.
///
/// Channel messages are delivered under the channel lock, on whichever loop the sender is on; replies come from
/// the client's own loop. All of them are posted here, and one drain task appends everything posted since the
/// last drain to the clients' outboxes and writes each client once: the busier the server, the bigger the batch,
/// as an IRC server's send queues fill between two iterations of its loop. Since every frame for a client passes
/// through its loop's mailbox, a client receives frames in the order they were posted: messages in id order,
/// and a reply after the messages that were delivered before it.
///
/// A drain that finds more posted while it ran does not run again at once but a moment later, after the loop
/// has read its sockets: SwiftNIO runs queued tasks until none is left, so a drain that immediately re-queued
/// itself while another loop kept posting would starve this loop's clients of reads.
final class LoopMailbox: Sendable {
    /// One list of members, as a `SubscriberSet` had it when posting: same group, same generation, same list.
    struct Audience: Sendable, Equatable {
        final class Group: Sendable {}
        let group: Group
        let generation: UInt64

        static func == (lhs: Audience, rhs: Audience) -> Bool {
            lhs.group === rhs.group && lhs.generation == rhs.generation
        }
    }

    /// A report for a receipt of one of this loop's clients, made by another party (the history writer).
    typealias Report = (receipt: DeliveryReceipt, error: (any Error)?)

    private struct Delivery {
        var frames: ByteBuffer
        var sessions: [ClientSession]
        var excluded: UInt64?
        var audience: Audience?
        /// Told once the frames are handed to every session's channel.
        var receipt: DeliveryReceipt?
        /// Made during the drain that reaches them; no frames go with them.
        var reports: [Report]? = nil
    }

    private struct State {
        var deliveries: [Delivery] = []
        /// The array the last drain emptied, kept for its capacity: a drain swaps it in rather than copying out
        /// everything posted (which retained and released every delivery once more).
        var spare: [Delivery] = []
        /// A drain is queued or running; posts need not queue another.
        var drainPending = false
    }

    /// How long a busy mailbox waits before its next drain, letting the loop read in between.
    static let busyDelay = TimeAmount.microseconds(100)

    let loop: any EventLoop
    private let state = Mutex(State())

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Queues frames for `sessions` (all on this loop) except `excluded`.
    func post(
        _ frames: ByteBuffer, to sessions: [ClientSession], excluding excluded: UInt64? = nil,
        audience: Audience? = nil, receipt: DeliveryReceipt? = nil
    ) {
        post(Delivery(frames: frames, sessions: sessions, excluded: excluded, audience: audience, receipt: receipt))
    }

    private func post(_ delivery: Delivery) {
        let queueDrain = state.withLock { state in
            state.deliveries.append(delivery)
            defer { state.drainPending = true }
            return !state.drainPending
        }
        guard queueDrain else { return }
        if !loop.inEventLoop, let current = MultiThreadedEventLoopGroup.currentEventLoop, current !== loop {
            // Posted from another loop, most likely while it handles a burst of SENDs: wake this loop once that
            // burst is done (the poster's tasks run after its reads), so one drain carries the whole burst
            // instead of the first message alone, and the other loop is woken once, not per message.
            let loop = self.loop
            current.execute { loop.execute { self.drain() } }
        } else {
            loop.execute { self.drain() }
        }
    }

    /// Queues reports for receipts whose waiters are clients of this loop. Made in the drain, an answer they
    /// complete (SENT and OK) joins the client's outbox there, behind everything posted to it before, in the same
    /// write as the drain's messages: no task, buffer list or write of its own per answer.
    func post(reports: [Report]) {
        post(Delivery(frames: ByteBuffer(), sessions: [], reports: reports))
    }

    /// Writes everything posted so far, now; on the loop only (before closing a connection, so nothing is lost).
    func drainNow() {
        loop.preconditionInEventLoop()
        var deliveries = take()
        write(deliveries)
        deliveries.removeAll(keepingCapacity: true)
        state.withLock { $0.spare = deliveries }
    }

    private func drain() {
        var deliveries = take()
        write(deliveries)
        deliveries.removeAll(keepingCapacity: true)
        let busy = state.withLock { state in
            state.spare = deliveries
            if state.deliveries.isEmpty { state.drainPending = false }
            return !state.deliveries.isEmpty
        }
        if busy { loop.scheduleTask(in: Self.busyDelay) { self.drain() } }
    }

    /// Everything posted so far; the list left behind is the spare one, empty.
    private func take() -> [Delivery] {
        state.withLock { state in
            var taken: [Delivery] = []
            swap(&taken, &state.spare)
            swap(&taken, &state.deliveries)
            return taken
        }
    }

    /// Consecutive deliveries to the same audience (a busy channel's messages) are joined into one buffer first,
    /// so each member costs one append per run of messages rather than one per message. A member some of the run
    /// leaves out (the sender of a message it takes no copy of, `OwnCopies`) gets the rest, gathered for it.
    private func write(_ deliveries: [Delivery]) {
        let drain = MailboxDrain(mailbox: self)
        // Fields are read in place: copying a whole `Delivery` out retained and released each of its references.
        deliveries.withUnsafeBufferPointer { deliveries in
            var start = 0
            while start < deliveries.count {
                var end = start + 1
                var frames = deliveries[start].frames
                // Who the run leaves out somewhere: the first delivery's, then any others (an empty array costs
                // nothing, and most runs have none).
                let excluded = deliveries[start].excluded
                var alsoExcluded: [UInt64] = []
                if let audience = deliveries[start].audience {
                    while end < deliveries.count {
                        // The writer's reports carry no frames and are made after every run: they must not split
                        // one (in a busy channel that cost an append per member per write batch).
                        if deliveries[end].reports != nil {
                            end += 1
                            continue
                        }
                        guard deliveries[end].audience == audience else { break }
                        frames.writeImmutableBuffer(deliveries[end].frames)
                        if let left = deliveries[end].excluded, left != excluded, !alsoExcluded.contains(left) {
                            alsoExcluded.append(left)
                        }
                        end += 1
                    }
                }
                let sessions = deliveries[start].sessions
                var left: [Int] = []
                for index in sessions.indices {
                    let id = sessions[index].id
                    guard id == excluded || alsoExcluded.contains(id) else {
                        drain.append(frames, to: sessions[index])
                        continue
                    }
                    left.append(index)
                }
                // After every member handed the run whole, so those stay one after another (an IRC bridge renders
                // a run once for all of them, `IRCRenderedBatch`). A run of one message leaves its sender nothing.
                for index in left where end - start > 1 {
                    let id = sessions[index].id
                    var rest = ByteBuffer()
                    for other in start..<end where deliveries[other].excluded != id {
                        rest.writeImmutableBuffer(deliveries[other].frames)
                    }
                    if rest.readableBytes > 0 { drain.append(rest, to: sessions[index]) }
                }
                start = end
            }
        }
        // Before the flush: a sender whose acknowledgement completes here gets SENT and OK in the same write.
        deliveries.withUnsafeBufferPointer { deliveries in
            for index in deliveries.indices {
                deliveries[index].receipt?.report(in: drain)
                for report in deliveries[index].reports ?? [] { report.receipt.report(report.error, in: drain) }
            }
        }
        drain.flush()
    }
}
