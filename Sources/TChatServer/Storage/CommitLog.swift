package import TChatProtocol

/// A channel message handed to a `CommitLog` to be numbered and committed.
///
/// It carries who waits for it: the log fails it (a retryable error: nothing was stored) or hands it back numbered
/// after the commit, and the server then delivers it and answers the waiter.
package struct MessageSubmission: Sendable {
    package let channel: ChannelName
    package let from: String
    package let body: MessageBody
    /// The server and forward it answers (`LocalChange.message`): this server's id and 0 for its own clients.
    package let origin: UInt64
    package let seq: UInt64
    /// The sender's own key for it (SEND_ONCE): the store keeps at most one message per channel, sender and key.
    package let key: String?
    let ack: DeliveryReceipt.Waiter?

    init(
        channel: ChannelName, from: String, body: MessageBody, origin: UInt64, seq: UInt64, key: String? = nil,
        ack: DeliveryReceipt.Waiter?
    ) {
        self.channel = channel
        self.from = from
        self.body = body
        self.origin = origin
        self.seq = seq
        self.key = key
        self.ack = ack
    }

    /// About what it costs in a queue and on the wire: its text and its names, plus the fixed fields.
    package var size: Int {
        64 + channel.name.utf8.count + from.utf8.count + body.text.utf8.count + (key?.utf8.count ?? 0)
    }

    /// Nothing was stored: whoever waits hears why (and that trying again is safe).
    package func fail(_ error: ProtocolError) { ack?.fail(error) }
}

/// A submission numbered and committed: the message as every server will see it.
package struct CommittedMessage: Sendable {
    package let submission: MessageSubmission
    package let message: ChatMessage

    package init(submission: MessageSubmission, message: ChatMessage) {
        self.submission = submission
        self.message = message
    }
}

/// What a `CommitLog` tells the server, each from one thread at a time (a batch's from the thread writing it).
package struct CommitLogEvents: Sendable {
    /// A committed batch, in commit order (so in id order per channel).
    package var delivered: @Sendable ([CommittedMessage]) -> Void
    /// A message for a channel another server numbers now (it holds the channel's lease): forward it there, or
    /// refuse it.
    package var heldElsewhere: @Sendable (_ submission: MessageSubmission, _ owner: UInt64, _ ownerName: String) -> Void
    /// Another server committed messages (`server` 0: unknown, after missed notices): channels as spelled, with
    /// their last committed ids.
    package var grown: @Sendable (_ server: UInt64, _ channels: [(name: String, lastID: UInt64)]) -> Void
    /// A keyed message the store holds already (a resend): whoever waits for it is answered with the stored one,
    /// which is not delivered again.
    package var duplicate: @Sendable (_ submission: MessageSubmission, _ stored: ChatMessage) -> Void

    package init(
        delivered: @escaping @Sendable ([CommittedMessage]) -> Void,
        heldElsewhere: @escaping @Sendable (MessageSubmission, UInt64, String) -> Void,
        grown: @escaping @Sendable (UInt64, [(name: String, lastID: UInt64)]) -> Void,
        duplicate: @escaping @Sendable (MessageSubmission, ChatMessage) -> Void
    ) {
        self.delivered = delivered
        self.heldElsewhere = heldElsewhere
        self.grown = grown
        self.duplicate = duplicate
    }
}

/// Where a backend that numbers messages itself takes them: it assigns each channel's ids in its own order, commits
/// them durably, and only then hands them back, in id order per channel, for delivery. So nobody ever sees a
/// message that a crash could lose, and a database's constraints, not a server's memory, keep ids unique.
package protocol CommitLog: Sendable {
    /// Queues a message; false when the log can take no more now (or cannot reach its database) and the message
    /// must be refused with a retryable error.
    func submit(_ submission: MessageSubmission) -> Bool

    /// Starts committing and listening for what other servers commit.
    func start(_ events: CommitLogEvents)

    /// Whether the database answered the last commit or probe: while it does not, messages are refused, and after
    /// a while this server's clients are sent to linked servers that can take them (`NetworkRouter.watchStore`).
    var isReachable: Bool { get }
}
