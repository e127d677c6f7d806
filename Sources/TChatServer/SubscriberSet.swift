import NIOCore
import TChatProtocol

/// A set of sessions grouped by event loop, so that one broadcast costs one task per loop, not one per member.
///
/// The frame is encoded once by the caller; every member is handed the same `ByteBuffer` (shared storage, no
/// copy), and each member is flushed once after all writes of the task.
struct SubscriberSet {
    private struct LoopGroup {
        let loop: any EventLoop
        var sessions: [ClientSession]
    }

    private var groups: [LoopGroup] = []
    private(set) var ids: Set<UInt64> = []

    var count: Int { ids.count }
    var isEmpty: Bool { ids.isEmpty }

    func contains(_ session: ClientSession) -> Bool { ids.contains(session.id) }

    /// Every member, in no particular order.
    var sessions: [ClientSession] { groups.flatMap(\.sessions) }

    /// Returns false if the session was already a member.
    @discardableResult
    mutating func insert(_ session: ClientSession) -> Bool {
        guard ids.insert(session.id).inserted else { return false }
        let loopID = ObjectIdentifier(session.eventLoop)
        if let index = groups.firstIndex(where: { ObjectIdentifier($0.loop) == loopID }) {
            groups[index].sessions.append(session)
        } else {
            groups.append(LoopGroup(loop: session.eventLoop, sessions: [session]))
        }
        return true
    }

    /// Returns false if the session was not a member.
    @discardableResult
    mutating func remove(_ session: ClientSession) -> Bool {
        guard ids.remove(session.id) != nil else { return false }
        let loopID = ObjectIdentifier(session.eventLoop)
        if let index = groups.firstIndex(where: { ObjectIdentifier($0.loop) == loopID }) {
            groups[index].sessions.removeAll { $0.id == session.id }
            if groups[index].sessions.isEmpty { groups.remove(at: index) }
        }
        return true
    }

    /// Writes `frame` to every member but `excluded`, then flushes each once.
    ///
    /// Delivery is always a task on the member's loop, even from that loop: tasks run in the order they were
    /// queued, so frames queued under the channel lock reach every member in the order of their message ids.
    func deliver(_ frame: ByteBuffer, excluding excluded: UInt64? = nil) {
        for group in groups {
            let sessions = group.sessions
            group.loop.execute {
                for session in sessions where session.id != excluded {
                    session.channel.write(frame, promise: nil)
                }
                for session in sessions where session.id != excluded {
                    session.channel.flush()
                }
            }
        }
    }

    /// Encodes an event once; nil only if a field is too long for the wire, which validated input never is.
    static func encode(_ event: ServerFrame) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        do {
            try event.encode(requestID: 0, into: &buffer)
            return buffer
        } catch {
            return nil
        }
    }
}
