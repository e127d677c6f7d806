import NIOCore
import Synchronization

/// One sender's window, kept the same way for every server: a message leaves it once every member who should see
/// it has received it, as the load generator counts, never on a server's acknowledgement or a PONG.
///
/// Counting acknowledgements instead would measure different things on different servers: tchatd acknowledges after
/// the hand-off to its members, an IRC server answers a PING as soon as it has read the line, and the PING/PONG
/// round trips themselves add work only the IRC servers do. Counting deliveries ties every sender to what its
/// slowest member has actually received.
///
/// Receivers report from their own event loops, once per socket read for each sender they heard from; the sender is
/// woken on its loop when room opens and it was waiting for it.
final class DeliveryWindow: Sendable {
    private struct State {
        /// Members still to receive each message, by the sender's sequence number.
        var remaining: [Int32]
    }

    /// Members who should receive each of this sender's messages.
    let audience: Int
    /// Messages every member has received.
    private let completed = Atomic<Int>(0)
    /// Set by a sender that found its window full; the report that makes room clears it and wakes the sender.
    private let senderWaiting = Atomic<Bool>(false)
    private let state: Mutex<State>
    private let wake = Mutex<(@Sendable () -> Void)?>(nil)

    init(messages: Int, audience: Int) {
        self.audience = audience
        state = Mutex(State(remaining: [Int32](repeating: Int32(clamping: audience), count: messages)))
    }

    /// How to wake the sender (on its own loop); set once the sender is connected.
    func onRoom(_ action: @escaping @Sendable () -> Void) {
        wake.withLock { $0 = action }
    }

    /// Messages that have left the window.
    var delivered: Int { completed.load(ordering: .acquiring) }

    /// The sender sent message `seq`; with nobody to receive it, it leaves the window at once.
    func sent(_ seq: Int) {
        if audience == 0 { completed.add(1, ordering: .releasing) }
    }

    /// Called by a sender whose window is full. True if it still is, and the sender will be woken when a message
    /// leaves it; false if room opened meanwhile, so the sender should go on itself.
    func waitIfFull(sent: Int, window: Int) -> Bool {
        senderWaiting.store(true, ordering: .sequentiallyConsistent)
        guard sent - completed.load(ordering: .sequentiallyConsistent) >= window else {
            senderWaiting.store(false, ordering: .relaxed)
            return false
        }
        return true
    }

    /// One member received these of the sender's messages (sequence numbers, each counted once per member).
    func received(_ seqs: [Int]) {
        let finished = state.withLock { state in
            var finished = 0
            for seq in seqs where seq < state.remaining.count {
                state.remaining[seq] -= 1
                if state.remaining[seq] == 0 { finished += 1 }
            }
            return finished
        }
        guard finished > 0 else { return }
        completed.add(finished, ordering: .sequentiallyConsistent)
        if senderWaiting.exchange(false, ordering: .sequentiallyConsistent), let wake = wake.withLock({ $0 }) {
            wake()
        }
    }
}
