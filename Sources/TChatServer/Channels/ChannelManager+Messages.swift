import NIOCore
import TChatProtocol

/// Numbering, storing and delivering channel messages, and serving them to linked servers.
extension ChannelManager {
    /// What applying a message numbered elsewhere did.
    enum ApplyOutcome: Equatable {
        case applied
        /// Already held (its id is not newer than the channel's last).
        case duplicate
        /// Messages are missing before it: the channel's next id is `expected`.
        case gap(expected: UInt64)
        /// It could not be stored (the history writer is overloaded); `ack` has failed.
        case failed
        /// Its id is further on than any sequencer could have numbered since the channel's last message
        /// (`IDGrowth`): refused.
        case implausible
    }

    /// Numbers, stores and delivers a message, creating the channel if needed (senders need not be members, so
    /// scripts can notify without joining). Only the network's sequencer does this. `ack` hears once the history
    /// writer has it as `--fsync` asks and every loop with members here has handed it over; if this throws, `ack`
    /// has heard nothing and the caller tells it.
    ///
    /// The numbered message goes to the feed while the channel's lock is held, so the network hears the channel's
    /// messages in id order and in order with its joins, parts and topics. `origin` and `seq` name the forward it
    /// answers (`LocalChange.message`).
    func sequence(
        channel name: ChannelName, from nick: String, body: MessageBody, origin: UInt64, seq: UInt64,
        ack: DeliveryReceipt.Waiter?, sender: Sender? = nil
    ) throws(ProtocolError) -> ChatMessage {
        let channel = channel(creating: name)
        return try channel.withState { (state) throws(ProtocolError) -> ChatMessage in
            if let sender, state.access.restrictsSending {
                try state.access.checkSend(
                    sender.member, isMember: state.members.local.contains(sender.session), channel: name.name)
            }
            guard let id = state.history.nextID else {
                throw ProtocolError(.storageFailure, "\(channel.name.name) has used up its message ids")
            }
            let message = ChatMessage(channel: channel.name.name, id: id, time: .now(), from: nick, body: body)
            try keep(message, in: channel, &state, ack: ack)
            feed.emit(.message(origin: origin, seq: seq, message))
            return message
        }
    }

    /// Stores and delivers a message the sequencer numbered, if it is the channel's next one. With `allowGap`
    /// (history sent to fill a gap, which may start after messages compacted away) an id further on is taken too.
    func apply(_ message: ChatMessage, allowGap: Bool = false, ack: DeliveryReceipt.Waiter?) -> ApplyOutcome {
        guard let name = try? ChannelName(validating: message.channel) else { return .duplicate }
        let channel = channel(creating: name)
        return channel.withState { state in
            let lastID = state.history.lastID
            guard message.id > lastID else { return .duplicate }
            guard IDGrowth.isPlausible(message, after: lastID, at: state.history.lastTime) else {
                return .implausible
            }
            if message.id > lastID + 1 && !allowGap { return .gap(expected: lastID + 1) }
            var stored = message
            stored.channel = channel.name.name
            do {
                try keep(stored, in: channel, &state, ack: ack)
            } catch {
                ack?.fail(error)
                return .failed
            }
            return .applied
        }
    }

    /// Delivers messages a `CommitLog` numbered and committed (in id order per channel, one batch at a time),
    /// answering their senders here, and returns what is sent on to the network. One already held (a repeat) is
    /// only answered. One after a gap (another server numbered the ids between, and this server has not caught up
    /// yet) is answered and sent on but not delivered here: its channel is returned in `behind`, to be caught up
    /// from the store, which brings it in order.
    func deliverCommitted(_ batch: [CommittedMessage]) -> (behind: [(ChannelName, UInt64)], pushes: [CommittedPush]) {
        var behind: [(ChannelName, UInt64)] = []
        var pushes: [CommittedPush] = []
        pushes.reserveCapacity(batch.count)
        for committed in batch {
            let message = committed.message
            let submission = committed.submission
            let channel = channel(creating: submission.channel)
            channel.withState { state in
                let push = CommittedPush(
                    origin: submission.origin, seq: submission.seq, message: message,
                    servers: Array(state.members.remoteServers.keys))
                let lastID = state.history.lastID
                guard message.id == lastID + 1 else {
                    // Held already (caught up from the store before this batch was handed over), or after a gap:
                    // answered and sent on either way, so a linked server's forward is answered too.
                    if let ack = submission.ack { _ = DeliveryReceipt(parties: 0, waiter: ack, message: message) }
                    if message.id > lastID { behind.append((submission.channel, message.id)) }
                    pushes.append(push)
                    return
                }
                do {
                    try keep(message, in: channel, &state, ack: submission.ack)
                } catch {
                    submission.ack?.fail(error)
                }
                pushes.append(push)
            }
        }
        return (behind, pushes)
    }

    /// Queues a numbered message for the disk, adds it to the channel's history window and delivers it to the
    /// members here; called with the channel's lock held, so ids, file order and delivery order agree.
    private func keep(
        _ message: ChatMessage, in channel: ChatChannel, _ state: inout ChatChannel.State,
        ack: DeliveryReceipt.Waiter?
    ) throws(ProtocolError) {
        // The sender's acknowledgement waits for the disk and for every loop's hand-off (`DeliveryReceipt`).
        // The fixed fields (lengths, id, time, content type) take well under 64 bytes.
        let size = 64 + message.channel.utf8.count + message.from.utf8.count + message.body.text.utf8.count
        let frame = SubscriberSet.encode(.message(message), capacity: size)
        let receipt = ack.map {
            DeliveryReceipt(
                parties: 1 + (frame == nil ? 0 : state.members.local.loopCount), waiter: $0, message: message)
        }
        guard store.append(message, file: channel.file, receipt: receipt) else {
            throw ProtocolError(.storageFailure, "the history writer is overloaded; message not sent, try again")
        }
        state.history.append(message)
        // A sender that shows its own messages without their copy (IRC without echo-message) is left out.
        var excludedSender: ClientSession?
        if case .client(let reply)? = ack, !reply.ownCopy { excludedSender = reply.session }
        if let frame {
            let excluded = excludedSender?.id
            if message.body.contentType == .notice,
                let text = SubscriberSet.encode(.message(NoticeFallback.asText(message)), capacity: size)
            {
                state.members.local.deliver(
                    frame, else: text, to: { $0.hello.knowsNotices }, excluding: excluded, receipt: receipt)
            } else {
                state.members.local.deliver(frame, excluding: excluded, receipt: receipt)
            }
        }
        counters.messages.add(1, ordering: .relaxed)
        let senderLeftOut = excludedSender.map { state.members.local.contains($0) } ?? false
        counters.deliveries.add(state.members.local.count - (senderLeftOut ? 1 : 0), ordering: .relaxed)
    }

    /// A client of ours sending to a channel, for the checks of a restricted channel (`ChannelAccess.checkSend`).
    struct Sender: Sendable {
        let session: ClientSession
        let member: ChannelAccess.Member
    }

    /// The checks `sequence` makes, for a message this server forwards to the sequencer instead.
    func checkSend(_ sender: Sender, to name: ChannelName) throws(ProtocolError) {
        guard let channel = directory.channel(name) else { return }
        try channel.withState { (state) throws(ProtocolError) in
            if state.access.restrictsSending {
                try state.access.checkSend(
                    sender.member, isMember: state.members.local.contains(sender.session), channel: name.name)
            }
        }
    }

    /// Messages with ids after `after`, oldest first, for a linked server catching up. Returns on `eventLoop`.
    func messages(
        channel name: ChannelName, after: UInt64, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[ChatMessage]> {
        guard let channel = directory.channel(name) else { return eventLoop.makeSucceededFuture([]) }
        let plan = channel.withState { $0.history.since(after) }
        guard let disk = plan.disk else { return eventLoop.makeSucceededFuture(plan.inMemory) }
        return read(disk, from: channel, on: eventLoop).map { older in older + plan.inMemory }
    }

    /// Up to `limit` messages with ids below `before` (0: the newest), oldest first, from memory and, where
    /// needed, from disk. Returns on `eventLoop`.
    func history(
        channel name: ChannelName, before: UInt64, limit: Int, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[ChatMessage]> {
        guard let channel = directory.channel(name) else {
            return eventLoop.makeFailedFuture(ProtocolError(.noSuchChannel, "there is no channel \(name.name)"))
        }
        let plan = channel.withState { $0.history.page(before: before, count: limit) }
        guard let disk = plan.disk else { return eventLoop.makeSucceededFuture(plan.inMemory) }
        return read(disk, from: channel, on: eventLoop).map { older in older + plan.inMemory }
    }

    /// A channel nobody here is in moves on to `lastID` without reading what lies between (`HistoryWindow.skip`);
    /// false when someone is in it (or it does not exist) and the messages must be read.
    func skipIfNobodyHere(_ name: ChannelName, to lastID: UInt64) -> Bool {
        guard let channel = directory.channel(name) else { return false }
        return channel.withState { state in
            guard state.members.local.count == 0, state.joinsReading == 0 else { return false }
            state.history.skip(to: lastID, time: .now())
            return true
        }
    }

    /// The newest id of a channel, 0 if it has none or does not exist.
    func lastID(of name: ChannelName) -> UInt64 {
        directory.channel(name)?.withState { $0.history.lastID } ?? 0
    }

    /// Creates a channel a linked server told of, so it is listed here too.
    func ensure(_ name: ChannelName) {
        _ = channel(creating: name)
    }
}

/// A message this server committed, for the linked servers with members in its channel: only those get it
/// pushed (with the server whose forward it answers, `NetworkRouter.committed`), as an IRC server sends a channel's
/// messages only over links with members behind them. A server with nobody in the channel lets its doorbell move
/// it on, and reads what a join wants from the store.
struct CommittedPush {
    let origin: UInt64
    let seq: UInt64
    let message: ChatMessage
    let servers: [UInt64]
}
