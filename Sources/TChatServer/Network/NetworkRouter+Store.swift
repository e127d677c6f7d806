import Logging
import NIOCore
import TChatProtocol

/// The network when the store numbers messages (`--store postgres://`, `CommitLog`): no sequencer. Each channel is
/// numbered by the server holding its lease in the store; a message sent elsewhere is forwarded there over the
/// link and answered when the numbered message comes back. Committed messages are pushed over the links to the
/// servers with members in their channel (`committed`), and taken only from the channel's owner; anything else a
/// server lacks (a link down, a push refused, a restart, a channel it had nobody in) is read from the store when
/// its doorbell rings (`ChannelCatchUp`).
extension NetworkRouter {
    /// The events a `CommitLog` reports to.
    func commitLogEvents() -> CommitLogEvents {
        CommitLogEvents(
            delivered: { [weak self] batch in self?.committed(batch) },
            heldElsewhere: { [weak self] submission, owner, name in
                self?.heldElsewhere(submission, owner: owner, ownerName: name)
            },
            grown: { [weak self] server, grown in self?.grown(by: server, grown) },
            duplicate: { [weak self] submission, stored in self?.answerResend(submission, with: stored) })
    }

    /// A batch this server committed: delivered here, and pushed to the linked servers with members in each
    /// message's channel and to the one whose forward it answers, in one write per server. (Forwards are never
    /// resent in this mode, so none is remembered: a number a restarted server uses again must not be answered
    /// with an old message's id.)
    func committed(_ batch: [CommittedMessage]) {
        let (behind, pushes) = channels.deliverCommitted(batch)
        for (name, id) in behind { catchUp.need(name, upTo: id, maySkip: true) }
        let me = servers.serverID
        servers.send(
            pushes.map { push in
                var to = push.servers
                if push.origin != me && !to.contains(push.origin) { to.append(push.origin) }
                return (PeerFrame.message(origin: push.origin, seq: push.seq, push.message), to)
            })
    }

    /// The store says another server numbers the channel now: a client's message of ours is forwarded to it if
    /// it is linked, else refused with a retryable error. A linked server's forward that reached us after the
    /// lease moved is not answered: that server gives up on it after `forwardPatience`.
    func heldElsewhere(_ submission: MessageSubmission, owner: UInt64, ownerName: String) {
        let key = submission.channel.key
        state.withLock { $0.owners[key] = owner }
        guard submission.origin == servers.serverID else {
            logger.notice(
                "a forwarded message reached this server after its channel moved on; not numbered",
                metadata: ["channel": "\(submission.channel.name)", "owner": "\(ownerName)"])
            return
        }
        guard case .client(let reply)? = submission.ack else { return }
        guard servers.peer(owner) != nil else {
            reply.fail(
                ProtocolError(
                    .storageFailure,
                    "\(submission.channel.name) is numbered by server \(ownerName), which this server cannot reach "
                        + "now; not sent, try again"))
            return
        }
        var forward = Forward(
            channel: submission.channel, from: submission.from, body: submission.body, reply: reply, since: .now())
        forward.owner = owner
        guard let seq = waitFor(forward) else {
            reply.fail(ProtocolError(.storageFailure, "too many messages wait for other servers; not sent, try again"))
            return
        }
        let channel = submission.channel.name
        if let key = submission.key {
            servers.send(
                .forwardOnce(seq: seq, channel: channel, from: submission.from, key: key, body: submission.body),
                to: owner)
        } else {
            servers.send(.forward(seq: seq, channel: channel, from: submission.from, body: submission.body), to: owner)
        }
    }

    /// A linked server's client's message for a channel it believes we number: committed here if we still do.
    func commitForward(
        seq: UInt64, channel name: ChannelName, from nick: String, body: MessageBody, key: String?,
        peer: ServerManager.Peer
    ) {
        guard let log = channels.store.commitLog else { return }
        guard let author = clients.remoteNick(nick, on: peer.id) else {
            refuse("FORWARD", from: peer, "\(nick) is not one of its clients")
            return
        }
        channels.ensure(name)
        let submission = MessageSubmission(
            channel: name, from: author, body: body, origin: peer.id, seq: seq, key: key, ack: nil)
        if !log.submit(submission) {
            logger.warning(
                "a forwarded message was not taken: the store is not taking messages",
                metadata: ["channel": "\(name.name)", "from": "\(peer.hello.name)"])
        }
    }

    /// A resend of a keyed message the store holds already: our client hears the stored message's id and time; a
    /// linked server's forward is answered to that server alone, as a push of the stored message, which it takes
    /// as the answer to its forward (and as nothing new when it has it). Nobody gets it delivered twice.
    func answerResend(_ submission: MessageSubmission, with stored: ChatMessage) {
        if submission.origin == servers.serverID {
            if case .client(let reply)? = submission.ack { reply.succeed(stored) }
            return
        }
        servers.send(.message(origin: submission.origin, seq: submission.seq, stored), to: submission.origin)
    }

    /// Another server committed messages: each channel behind is caught up from the store.
    func grown(by server: UInt64, _ grown: [(name: String, lastID: UInt64)]) {
        for (spelled, lastID) in grown {
            guard let name = try? ChannelName(validating: spelled) else { continue }
            if server != 0 { state.withLock { $0.owners[name.key] = server } }
            channels.ensure(name)
            catchUp.need(name, upTo: lastID, maySkip: true)
        }
    }

    /// A committed message pushed over a link. Taken as it comes only from the server that numbers its channel
    /// (and one answering our forward must be what we forwarded); from anyone else, or after a gap, it is only a
    /// sign that the channel has moved on, and what it lacks is read from the store.
    func handleCommitted(origin: UInt64, seq: UInt64, _ message: ChatMessage, from peer: ServerManager.Peer) {
        guard let name = try? ChannelName(validating: message.channel) else { return }
        let (owner, forwardedTo) = state.withLock { state in
            (state.owners[name.key], origin == servers.serverID ? state.forwards[seq]?.owner : nil)
        }
        // From the channel's owner, or from the server our forward went to: anything else only rings the bell,
        // and only for a channel this server knows (a stranger's names must not grow what it keeps).
        guard owner == peer.id || forwardedTo == peer.id else {
            if channels.exists(name) { catchUp.need(name, upTo: message.id) }
            return
        }
        if let problem = authorProblem(origin: origin, seq: seq, message, channel: name) {
            // Not taken as pushed; whatever the store really holds is read from it.
            refuse("PEER_MESSAGE", from: peer, problem)
            catchUp.need(name, upTo: message.id)
            return
        }
        let mine = origin == servers.serverID ? state.withLock { $0.forwards.removeValue(forKey: seq) } : nil
        if let mine, !Self.answers(mine, with: message) {
            state.withLock { $0.forwards[seq] = mine }
            refuse("PEER_MESSAGE", from: peer, "message \(message.id) is not what was forwarded")
            return
        }
        switch channels.apply(message, ack: mine.map { .client($0.reply) }) {
        case .applied, .failed:
            break
        case .duplicate:
            mine?.reply.succeed(message)
        case .gap:
            // Committed (an owner pushes only after COMMIT): answered now, delivered here once caught up.
            mine?.reply.succeed(message)
            catchUp.need(name, upTo: message.id)
        case .implausible:
            if let mine { state.withLock { $0.forwards[seq] = mine } }
            refuse("PEER_MESSAGE", from: peer, "message \(message.id) in \(message.channel) is implausibly far on")
        }
    }

    /// A link to an owner is gone: what was forwarded to it and not answered may or may not have been committed.
    func forwardsLost(to peer: ServerManager.Peer) {
        let lost: [Forward] = state.withLock { state in
            let lost = state.forwards.filter { $0.value.owner == peer.id }
            for key in lost.keys { state.forwards[key] = nil }
            return Array(lost.values)
        }
        guard !lost.isEmpty else { return }
        let error = ProtocolError(
            .storageFailure,
            "the link to \(peer.hello.name), which numbers the channel, was lost; the message may or may not have "
                + "been delivered")
        for forward in lost { forward.reply.fail(error) }
    }
}
