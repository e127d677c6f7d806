import Synchronization
import TChatProtocol

/// Running totals an operator watches (exported by `tchatd --metrics-listen`): kept as atomics on the paths that
/// count them, so counting costs one atomic add per message, never a lock or an allocation.
final class ServerCounters: Sendable {
    /// Channel messages this server stored and delivered (its own clients' and linked servers').
    let messages = Atomic<Int>(0)
    /// Channel messages and events handed to this server's clients: one per message per member here.
    let deliveries = Atomic<Int>(0)
    /// Connections accepted, refused before HELLO, and unfinished handshakes ended for room.
    let accepted = Atomic<Int>(0)
    let refusedConnections = Atomic<Int>(0)
    let evictedHandshakes = Atomic<Int>(0)
    /// ERROR answers by code, refusals of requests and of connections alike.
    private let errors = Mutex<[UInt16: Int]>([:])

    func countError(_ code: ErrorCode) {
        errors.withLock { $0[code.rawValue, default: 0] += 1 }
    }

    var errorsByCode: [UInt16: Int] { errors.withLock { $0 } }
}
