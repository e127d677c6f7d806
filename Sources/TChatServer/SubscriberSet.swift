import NIOCore
import TChatProtocol

/// A set of sessions grouped by event loop, so that one broadcast costs one post per loop, not one per member.
///
/// The frame is encoded once by the caller and posted once per loop; the loop's `LoopMailbox` copies it into each
/// member's `Outbox` and writes every member once per batch, however many messages the batch holds.
struct SubscriberSet {
    private struct LoopGroup {
        let mailbox: LoopMailbox
        var sessions: [ClientSession] {
            didSet { audience = LoopMailbox.Audience(group: audience.group, generation: audience.generation + 1) }
        }
        /// Names this exact list of sessions, so a mailbox can tell consecutive posts to the same members.
        private(set) var audience = LoopMailbox.Audience(group: LoopMailbox.Audience.Group(), generation: 0)

        init(mailbox: LoopMailbox, sessions: [ClientSession]) {
            self.mailbox = mailbox
            self.sessions = sessions
        }
    }

    private var groups: [LoopGroup] = []
    private(set) var ids: Set<UInt64> = []

    var count: Int { ids.count }
    var isEmpty: Bool { ids.isEmpty }

    func contains(_ session: ClientSession) -> Bool { ids.contains(session.id) }

    /// Sends `frame` to the members `takes` accepts and `fallback` to the others (a notice, as text to a client that
    /// does not know notices). Each loop's `receipt` goes with its last post, so it still hears once per loop, once
    /// both are written.
    func deliver(
        _ frame: ByteBuffer, else fallback: ByteBuffer, to takes: (ClientSession) -> Bool,
        excluding excluded: UInt64? = nil, receipt: DeliveryReceipt?
    ) {
        for group in groups {
            let taking = group.sessions.filter(takes)
            if taking.count == group.sessions.count || taking.isEmpty {
                let whole = taking.isEmpty ? fallback : frame
                group.mailbox.post(
                    whole, to: group.sessions, excluding: excluded, audience: group.audience, receipt: receipt)
                continue
            }
            group.mailbox.post(fallback, to: group.sessions.filter { !takes($0) }, excluding: excluded)
            group.mailbox.post(frame, to: taking, excluding: excluded, receipt: receipt)
        }
    }

    /// Every member, in no particular order.
    var sessions: [ClientSession] { groups.flatMap(\.sessions) }

    /// How many loops a delivery goes to: the reports a `DeliveryReceipt` for it waits for.
    var loopCount: Int { groups.count }

    /// Returns false if the session was already a member.
    @discardableResult
    mutating func insert(_ session: ClientSession) -> Bool {
        guard ids.insert(session.id).inserted else { return false }
        if let index = groups.firstIndex(where: { $0.mailbox === session.mailbox }) {
            groups[index].sessions.append(session)
        } else {
            groups.append(LoopGroup(mailbox: session.mailbox, sessions: [session]))
        }
        return true
    }

    /// Returns false if the session was not a member.
    @discardableResult
    mutating func remove(_ session: ClientSession) -> Bool {
        guard ids.remove(session.id) != nil else { return false }
        if let index = groups.firstIndex(where: { $0.mailbox === session.mailbox }) {
            groups[index].sessions.removeAll { $0.id == session.id }
            if groups[index].sessions.isEmpty { groups.remove(at: index) }
        }
        return true
    }

    /// Sends `frame` to every member but `excluded`; `receipt`, if given, hears once per loop when it is written.
    ///
    /// Delivery always goes through the member loop's mailbox, even from that loop, and mailboxes keep the order
    /// of posting, so frames posted under the channel lock reach every member in the order of their message ids.
    func deliver(_ frame: ByteBuffer, excluding excluded: UInt64? = nil, receipt: DeliveryReceipt? = nil) {
        for group in groups {
            group.mailbox.post(
                frame, to: group.sessions, excluding: excluded, audience: group.audience, receipt: receipt)
        }
    }

    /// Encodes an event once; nil only if a field is too long for the wire, which validated input never is.
    /// `capacity`: the frame's size, when the caller can tell, so the buffer is made once and not grown.
    static func encode(_ event: ServerFrame, capacity: Int = 128) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: capacity)
        do {
            try event.encode(requestID: 0, into: &buffer)
            return buffer
        } catch {
            return nil
        }
    }
}
