import NIOCore

/// One drain of a loop's mailbox: the frames it hands to its clients' outboxes, flushed once at its end.
///
/// Lives on the mailbox's loop for the length of one drain. Acknowledgements completed during the drain
/// (`SendReply`) add their frames here too, so a sender gets its own copy of a message, SENT and OK in one write.
final class MailboxDrain {
    let mailbox: LoopMailbox
    private var written: [Outbox] = []

    init(mailbox: LoopMailbox) {
        self.mailbox = mailbox
    }

    /// Adds frames for one client of this loop.
    func append(_ frames: ByteBuffer, to session: ClientSession) {
        let outbox = session.outbox.value
        if outbox.append(frames) { written.append(outbox) }
    }

    /// Hands every outbox written to its channel, one write and flush each.
    func flush() {
        for outbox in written { outbox.flush() }
        written.removeAll()
    }
}
