import Logging
import NIOCore
import Synchronization
import TChatProtocol

/// Makes linked servers one chat network: numbers channel messages at one place, applies what linked servers say
/// of their clients, memberships, topics and messages, and catches a (re)linked server up. Our own changes leave
/// through `ChangeFeed` (`ChangeReplicator`), not from here.
///
/// One server, the sequencer (`ServerManager.leader`), numbers every channel message, so ids mean the same on
/// every server and a client's history is the same wherever it connects. Another server forwards a client's
/// message to it over their link, in the order the client sent them, and answers the client once the numbered
/// message has come back and is stored. Forwards not yet answered are sent again, in order, to a new sequencer;
/// the sequencer remembers recent forwards by origin and sequence number, so a resent one is never numbered twice.
/// Every server stores every channel, so any of them can take over.
///
/// Linked servers have proved they know the link secret, but what they say is still checked: fields by
/// `PeerFrameCheck` before anything gets here, and here what only the network's state can tell. A numbered message
/// comes from the sequencer, or as history this server asked that server for; one that answers our own forward
/// must be what we forwarded; a forward, join, part or direct message names one of the sending server's own
/// clients. Whatever breaks a rule is refused and logged, and the link goes on.
final class NetworkRouter: PeerEventHandler {
    struct Forward {
        let channel: ChannelName
        let from: String
        let body: MessageBody
        let reply: SendReply
        let since: NIODeadline
        /// With the store numbering (`CommitLog`): the server holding the channel's lease it went to.
        var owner: UInt64 = 0
    }

    /// A SYNC_REQUEST this server sent to the sequencer and whose answer it accepts: from that server, for that
    /// channel, and (after CHANNEL_STATE) no further than the last id it announced. The first message of such an
    /// answer may start after a gap (the sequencer compacted what came before); the rest continue without one.
    /// It ends when the gap is filled (or the announced id reached), or when the link goes.
    struct Sync {
        let peer: UInt64
        /// The highest id the answer may carry; nil when it fills a gap found by a live message.
        var target: UInt64?
        var mayJump: Bool
        let since: NIODeadline

        init(peer: UInt64, target: UInt64? = nil, mayJump: Bool = false) {
            self.peer = peer
            self.target = target
            self.mayJump = mayJump
            since = .now()
        }
    }

    /// A sync that has not filled its gap in this long is asked for again.
    static let syncPatience: TimeAmount = .seconds(10)

    struct State {
        /// Forwards are numbered from the clock in microseconds, so a restarted server (same id, same links) never
        /// reuses a number the sequencer or owner still remembers (`numbered`) and would answer with an old
        /// message's id: forwards are far fewer than a million a second, so the count never overtakes the clock.
        var nextSeq = UInt64(max(1, Timestamp.now().milliseconds)) &* 1000
        /// Our forwards the sequencer has not answered yet, by sequence number (sent again in this order).
        var forwards: [UInt64: Forward] = [:]
        /// Recent forwards numbered here, per origin server: sequence number to message id.
        var numbered: [UInt64: [UInt64: UInt64]] = [:]
        /// Messages that arrived ahead of a gap, per channel key, until history fills it.
        var waiting: [String: [UInt64: (origin: UInt64, seq: UInt64, message: ChatMessage)]] = [:]
        /// Their bytes in all (`maxWaitingBytes`).
        var waitingBytes = 0
        /// Channels whose history a sync request is filling, and from whom.
        var syncing: [String: Sync] = [:]
        /// History being read to answer a linked server's SYNC_REQUEST, by server id and channel key: one at a time
        /// each, so a server that asks again and again does not pile up reads and replies.
        var answering: Set<String> = []
        /// With the store numbering: which server numbers each channel, as the store last said (a lease refused
        /// or a doorbell), by channel key. Only that server's pushed messages are taken as they come.
        var owners: [String: UInt64] = [:]
        /// With the store numbering: since when this server cannot reach it (`watchStore`).
        var storeLostSince: NIODeadline?
        /// The same, by the wall clock sessions are stamped with: one that came after it stays (it came back when
        /// no linked server had room, or does not follow redirects) rather than be sent off again and again.
        var storeLostAt: Timestamp?
    }

    /// Forwards remembered per origin for recognising a resend.
    static let numberedMemory = 10_000
    /// Forwards waiting for the sequencer at most; more are refused at once rather than queued.
    static let maxForwards = 100_000
    /// Messages held ahead of a gap per channel before the oldest are dropped.
    static let waitingLimit = 10_000

    static func size(_ message: ChatMessage) -> Int { message.body.text.utf8.count + 64 }

    let state = Mutex(State())
    let servers: ServerManager
    let channels: ChannelManager
    let clients: ClientManager
    let group: any EventLoopGroup
    let logger: Logger
    /// How long a client waits for the sequencer to number its message before being told it may not have been.
    let forwardPatience: TimeAmount
    /// Bytes of messages held ahead of gaps in all channels (`ServerConfiguration.maxWaitingBytes`).
    let maxWaitingBytes: Int
    /// With the store numbering: reads what channels lack from it.
    let catchUp: ChannelCatchUp

    init(
        servers: ServerManager, channels: ChannelManager, clients: ClientManager, group: any EventLoopGroup,
        forwardTimeout: Duration = .seconds(30), maxWaitingBytes: Int = 64 << 20, logger: Logger
    ) {
        self.forwardPatience = TimeAmount(forwardTimeout)
        self.maxWaitingBytes = maxWaitingBytes
        self.servers = servers
        self.channels = channels
        self.clients = clients
        self.group = group
        self.logger = logger
        catchUp = ChannelCatchUp(channels: channels, logger: logger)
    }

    // MARK: - Channel messages

    /// Numbers (here or at the sequencer), stores and delivers a client's message; `reply` is answered once it is
    /// stored here as `--fsync` asks and handed to every member here, or refused.
    func publish(
        channel name: ChannelName, from nick: String, body: MessageBody, key: String? = nil, reply: SendReply,
        sender: ChannelManager.Sender? = nil
    ) {
        if let log = channels.store.commitLog {
            commit(channel: name, from: nick, body: body, key: key, reply: reply, sender: sender, to: log)
            return
        }
        if servers.isLeader {
            do {
                _ = try channels.sequence(
                    channel: name, from: nick, body: body, origin: servers.serverID, seq: 0, ack: .client(reply),
                    sender: sender)
            } catch {
                reply.fail(error)
            }
            return
        }
        if let sender {
            do {
                try channels.checkSend(sender, to: name)
            } catch {
                reply.fail(error)
                return
            }
        }
        guard let seq = waitFor(Forward(channel: name, from: nick, body: body, reply: reply, since: .now())) else {
            reply.fail(ProtocolError(.storageFailure, "the sequencer is not numbering messages; not sent, try again"))
            return
        }
        servers.send(.forward(seq: seq, channel: name.name, from: nick, body: body), to: servers.leader)
    }

    /// Hands a client's message to the backend that numbers and commits it (`CommitLog`); it is delivered and
    /// answered once committed, or refused with a retryable error.
    private func commit(
        channel name: ChannelName, from nick: String, body: MessageBody, key: String?, reply: SendReply,
        sender: ChannelManager.Sender?, to log: any CommitLog
    ) {
        do {
            if let sender { try channels.checkSend(sender, to: name) }
        } catch {
            reply.fail(error)
            return
        }
        channels.ensure(name)
        let submission = MessageSubmission(
            channel: name, from: nick, body: body, origin: servers.serverID, seq: 0, key: key, ack: .client(reply))
        guard log.submit(submission) else {
            reply.fail(
                ProtocolError(.storageFailure, "the message store cannot take messages now; not sent, try again"))
            return
        }
    }

    /// Keeps a forward until its numbered message comes back; its sequence number, or nil when too many wait.
    func waitFor(_ forward: Forward) -> UInt64? {
        state.withLock { state in
            guard state.forwards.count < Self.maxForwards else { return nil }
            let seq = state.nextSeq
            state.nextSeq += 1
            state.forwards[seq] = forward
            return seq
        }
    }

    /// Numbers a message here (the channel sends it to every linked server); `ack` hears once it is stored and handed
    /// over.
    private func sequenceHere(
        channel name: ChannelName, from nick: String, body: MessageBody, origin: UInt64, seq: UInt64,
        ack: DeliveryReceipt.Waiter?
    ) throws(ProtocolError) -> ChatMessage {
        try channels.sequence(channel: name, from: nick, body: body, origin: origin, seq: seq, ack: ack)
    }

    func handleForward(
        seq: UInt64, channel text: String, from nick: String, body: MessageBody, key: String? = nil,
        peer: ServerManager.Peer
    ) {
        guard let name = try? ChannelName(validating: text) else { return }
        if channels.store.commitLog != nil {
            commitForward(seq: seq, channel: name, from: nick, body: body, key: key, peer: peer)
            return
        }
        guard key == nil else {
            // Only a server with the store sends one; the sequencer keeps no keys.
            refuse("FORWARD_ONCE", from: peer, "this server keeps no message keys")
            return
        }
        guard servers.isLeader else {
            // It thinks we number messages and we do not: it sends its forwards again when it learns who does.
            refuse("FORWARD", from: peer, "this server is not the sequencer")
            return
        }
        guard let author = clients.remoteNick(nick, on: peer.id) else {
            refuse("FORWARD", from: peer, "\(nick) is not one of its clients")
            return
        }
        let origin = peer.id
        let resent: UInt64? = state.withLock { $0.numbered[origin]?[seq] }
        if let id = resent {
            // Numbered before (a resend after a change of sequencer): send the message again, never renumber it.
            let message = ChatMessage(channel: name.name, id: id, time: .now(), from: author, body: body)
            servers.send(.message(origin: origin, seq: seq, message), to: origin)
            return
        }
        do {
            let message = try sequenceHere(channel: name, from: author, body: body, origin: origin, seq: seq, ack: nil)
            remember(origin: origin, seq: seq, id: message.id)
        } catch {
            logger.error("cannot number a forwarded message", metadata: ["error": "\(error)"])
        }
    }

    func remember(origin: UInt64, seq: UInt64, id: UInt64) {
        state.withLock { state in
            var numbered = state.numbered[origin] ?? [:]
            numbered[seq] = id
            if numbered.count > Self.numberedMemory, let oldest = numbered.keys.min() { numbered[oldest] = nil }
            state.numbered[origin] = numbered
        }
    }

    /// Logs a frame a linked server should not have sent; the link goes on.
    func refuse(_ frame: String, from peer: ServerManager.Peer, _ why: String) {
        logger.warning(
            "frame from a linked server refused",
            metadata: ["peer": "\(peer.hello.name)", "frame": "\(frame)", "reason": "\(why)"])
    }

    // MARK: - PeerEventHandler

    /// Every heartbeat: forwards the sequencer has not numbered in `forwardPatience` are given up, and their clients
    /// told; a sequencer that swallows messages cannot leave them waiting for ever.
    func heartbeat() {
        let now = NIODeadline.now()
        watchStore(now: now)
        let patience = forwardPatience
        let expired: [Forward] = state.withLock { state in
            let old = state.forwards.filter { now - $0.value.since >= patience }
            for key in old.keys { state.forwards[key] = nil }
            return Array(old.values)
        }
        guard !expired.isEmpty else { return }
        logger.warning(
            "the sequencer did not number forwarded messages in time", metadata: ["messages": "\(expired.count)"])
        let seconds = forwardPatience.nanoseconds / 1_000_000_000
        let error = ProtocolError(
            .storageFailure, "the message was not numbered within \(seconds) s; it may or may not have been delivered")
        for forward in expired { forward.reply.fail(error) }
    }

    /// A new sequencer: forwards it has not answered are sent to it again, in order (or numbered here).
    func leaderChanged() {
        // With the store numbering there is no sequencer: a forward waits for its channel's owner.
        guard channels.store.commitLog == nil else { return }
        let pending: [(UInt64, Forward)] = state.withLock { state in
            state.forwards.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        guard !pending.isEmpty else { return }
        if servers.isLeader {
            state.withLock { $0.forwards.removeAll() }
            for (_, forward) in pending {
                do {
                    _ = try sequenceHere(
                        channel: forward.channel, from: forward.from, body: forward.body, origin: servers.serverID,
                        seq: 0, ack: .client(forward.reply))
                } catch {
                    forward.reply.fail(error)
                }
            }
        } else {
            for (seq, forward) in pending {
                servers.send(
                    .forward(seq: seq, channel: forward.channel.name, from: forward.from, body: forward.body),
                    to: servers.leader)
            }
        }
    }

    func handle(_ frame: PeerFrame, from peer: ServerManager.Peer) {
        if case .message(let origin, let seq, let message) = frame, channels.store.commitLog != nil {
            handleCommitted(origin: origin, seq: seq, message, from: peer)
            return
        }
        switch frame {
        case .forward(let seq, let channel, let from, let body):
            handleForward(seq: seq, channel: channel, from: from, body: body, peer: peer)
        case .forwardOnce(let seq, let channel, let from, let key, let body):
            handleForward(seq: seq, channel: channel, from: from, body: body, key: key, peer: peer)
        case .message(let origin, let seq, let message):
            handleMessage(origin: origin, seq: seq, message, from: peer)
        case .syncRequest(let channel, let after, let limit):
            handleSyncRequest(channel: channel, after: after, limit: limit, from: peer)
        case .channelState(let channel, let lastID):
            handleChannelState(channel: channel, lastID: lastID, from: peer)
        case .clientAdded, .clientRemoved, .clientRenamed, .joined, .parted, .topic, .direct:
            handleClientFrame(frame, from: peer)
        case .record(let record):
            handleRecord(record, from: peer)
        case .hello, .load, .goodbye, .peers, .challenge, .proof, .error:
            break
        }
    }
}
