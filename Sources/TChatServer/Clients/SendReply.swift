import NIOCore
import Synchronization
import TChatProtocol

/// The answer a client waits for after a SEND: SENT and OK once its message is stored and handed to every member
/// here, or one ERROR. It has one owner from the SEND to the answer and is answered exactly once, whoever finishes
/// last (the history writer, a loop's mailbox, the sequencer's reply over a link, or a timeout).
///
/// Answered from the drain of the client's own loop's mailbox, SENT and OK join the client's outbox in that drain,
/// behind its own copy of the message, and go out in the same write. From anywhere else they are posted to that
/// mailbox, behind everything already sent to the client.
final class SendReply: Sendable {
    let session: ClientSession
    let requestID: UInt32
    /// Where a refusal is counted, for metrics.
    let counters: ServerCounters?
    /// Whether the sender's own connection gets the message too (`OwnCopies`); its other sessions always do.
    let ownCopy: Bool
    private let answered = Atomic<Bool>(false)

    init(session: ClientSession, requestID: UInt32, counters: ServerCounters? = nil, ownCopy: Bool = true) {
        self.session = session
        self.requestID = requestID
        self.counters = counters
        self.ownCopy = ownCopy
    }

    /// SENT naming the message, then OK.
    func succeed(_ message: ChatMessage?, in drain: MailboxDrain? = nil) {
        guard let message else {
            fail(ProtocolError(.internalError, "the message was stored but its id was lost"))
            return
        }
        answer(.sent(id: message.id, time: message.time), then: .ok, in: drain)
    }

    func fail(_ error: any Error, in drain: MailboxDrain? = nil) {
        let refusal: ProtocolError
        if let error = error as? ProtocolError {
            refusal = error
        } else {
            refusal = ProtocolError(
                .storageFailure, "the message was delivered to those online but could not be stored: \(error)")
        }
        counters?.countError(refusal.code)
        answer(.error(refusal), in: drain)
    }

    /// One answer per SEND, one or two frames (no array of them: this runs once per message).
    private func answer(_ frame: ServerFrame, then second: ServerFrame? = nil, in drain: MailboxDrain?) {
        guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var buffer = session.channel.allocator.buffer(capacity: 48)
        ClientSession.encode(frame, requestID: requestID, into: &buffer)
        if let second { ClientSession.encode(second, requestID: requestID, into: &buffer) }
        if let drain, drain.mailbox === session.mailbox {
            drain.append(buffer, to: session)
        } else {
            session.send(buffer)
        }
    }
}
