import Logging
import NIOCore
import Synchronization
import TChatProtocol

/// Makes linked servers one chat network: numbers channel messages at one place, replicates them and the
/// clients, memberships and topics to every server, and catches a (re)linked server up.
///
/// One server, the sequencer (`ServerManager.leader`), numbers every channel message, so ids mean the same on
/// every server and a client's history is the same wherever it connects. Another server forwards a client's
/// message to it over their link, in the order the client sent them, and answers the client once the numbered
/// message has come back and is stored. Forwards not yet answered are sent again, in order, to a new sequencer;
/// the sequencer remembers recent forwards by origin and sequence number, so a resent one is never numbered twice.
/// Every server stores every channel, so any of them can take over.
final class NetworkRouter: PeerEventHandler {
    private struct Forward {
        let channel: ChannelName
        let from: String
        let body: MessageBody
        let reply: EventLoopPromise<ChatMessage>
    }

    private struct State {
        var nextSeq: UInt64 = 1
        /// Our forwards the sequencer has not answered yet, by sequence number (sent again in this order).
        var forwards: [UInt64: Forward] = [:]
        /// Recent forwards numbered here, per origin server: sequence number to message id.
        var numbered: [UInt64: [UInt64: UInt64]] = [:]
        /// Messages that arrived ahead of a gap, per channel key, until history fills it.
        var waiting: [String: [UInt64: (origin: UInt64, seq: UInt64, message: ChatMessage)]] = [:]
        /// Channels whose gap a sync request is already filling.
        var syncing: Set<String> = []
    }

    /// Forwards remembered per origin for recognising a resend.
    static let numberedMemory = 10_000
    /// Messages held ahead of a gap per channel before the oldest are dropped.
    static let waitingLimit = 10_000

    private let state = Mutex(State())
    let servers: ServerManager
    let channels: ChannelManager
    let clients: ClientManager
    private let group: any EventLoopGroup
    private let logger: Logger

    init(
        servers: ServerManager, channels: ChannelManager, clients: ClientManager, group: any EventLoopGroup,
        logger: Logger
    ) {
        self.servers = servers
        self.channels = channels
        self.clients = clients
        self.group = group
        self.logger = logger
    }

    // MARK: - Channel messages

    /// Numbers (here or at the sequencer), stores and delivers a client's message; completes once it is stored
    /// here as `--fsync` asks.
    func publish(
        channel name: ChannelName, from nick: String, body: MessageBody, on eventLoop: any EventLoop
    ) -> EventLoopFuture<ChatMessage> {
        if servers.isLeader {
            let ack = eventLoop.makePromise(of: Void.self)
            let message: ChatMessage
            do {
                message = try sequenceHere(
                    channel: name, from: nick, body: body, origin: servers.serverID, seq: 0, ack: ack)
            } catch {
                ack.fail(error)
                return eventLoop.makeFailedFuture(error)
            }
            return ack.futureResult.map { message }
        }
        let reply = eventLoop.makePromise(of: ChatMessage.self)
        let seq: UInt64 = state.withLock { state in
            let seq = state.nextSeq
            state.nextSeq += 1
            state.forwards[seq] = Forward(channel: name, from: nick, body: body, reply: reply)
            return seq
        }
        servers.send(.forward(seq: seq, channel: name.name, from: nick, body: body), to: servers.leader)
        return reply.futureResult
    }

    /// Numbers a message here and sends it to every linked server; `ack` completes once it is stored and handed over.
    private func sequenceHere(
        channel name: ChannelName, from nick: String, body: MessageBody, origin: UInt64, seq: UInt64,
        ack: EventLoopPromise<Void>?
    ) throws(ProtocolError) -> ChatMessage {
        try channels.sequence(channel: name, from: nick, body: body, ack: ack) { [servers] message in
            servers.broadcast(.message(origin: origin, seq: seq, message))
        }
    }

    private func handleForward(seq: UInt64, channel text: String, from nick: String, body: MessageBody, origin: UInt64)
    {
        guard let name = try? ChannelName(validating: text) else { return }
        guard servers.isLeader else {
            // Not (or no longer) the sequencer: pass it on, the origin's order kept by our link to it.
            servers.send(.forward(seq: seq, channel: text, from: nick, body: body), to: servers.leader)
            return
        }
        let resent: UInt64? = state.withLock { $0.numbered[origin]?[seq] }
        if let id = resent {
            // Numbered before (a resend after a change of sequencer): send the message again, never renumber it.
            let message = ChatMessage(channel: name.name, id: id, time: .now(), from: nick, body: body)
            servers.send(.message(origin: origin, seq: seq, message), to: origin)
            return
        }
        do {
            let message = try sequenceHere(channel: name, from: nick, body: body, origin: origin, seq: seq, ack: nil)
            remember(origin: origin, seq: seq, id: message.id)
        } catch {
            logger.error("cannot number a forwarded message", metadata: ["error": "\(error)"])
        }
    }

    private func remember(origin: UInt64, seq: UInt64, id: UInt64) {
        state.withLock { state in
            var numbered = state.numbered[origin] ?? [:]
            numbered[seq] = id
            if numbered.count > Self.numberedMemory, let oldest = numbered.keys.min() { numbered[oldest] = nil }
            state.numbered[origin] = numbered
        }
    }

    /// A numbered message from the sequencer (or history filling a gap): stored and delivered here in id order,
    /// then whatever waited for it.
    private func handleMessage(origin: UInt64, seq: UInt64, _ message: ChatMessage, from peer: ServerManager.Peer) {
        guard receive(origin: origin, seq: seq, message, from: peer) == .applied,
            let name = try? ChannelName(validating: message.channel)
        else { return }
        drainWaiting(channel: name)
    }

    /// Applies one numbered message; a gap asks `peer` (the one that sent it) for the history in between.
    private func receive(
        origin: UInt64, seq: UInt64, _ message: ChatMessage, from peer: ServerManager.Peer?
    ) -> ChannelManager.ApplyOutcome {
        let key = message.channel.lowercased()
        let isSync = origin == 0 && seq == 0
        let mine = origin == servers.serverID ? state.withLock { $0.forwards.removeValue(forKey: seq) } : nil
        if origin != servers.serverID && origin != 0 { remember(origin: origin, seq: seq, id: message.id) }
        let ack = mine.map { $0.reply.futureResult.eventLoop.makePromise(of: Void.self) }
        let outcome = channels.apply(message, allowGap: isSync, ack: ack)
        switch outcome {
        case .applied, .failed:
            if let ack, let mine { ack.futureResult.map { message }.cascade(to: mine.reply) }
        case .duplicate:
            // Ours, already stored (it came with history, or a resend was answered twice): still answer the client.
            ack?.succeed(())
            if let mine { mine.reply.succeed(message) }
        case .gap(let expected):
            ack?.succeed(())  // not stored yet: the forward waits again, and the message waits for the gap to close
            if let mine { state.withLock { $0.forwards[seq] = mine } }
            let request: Bool = state.withLock { state in
                var waiting = state.waiting[key] ?? [:]
                waiting[message.id] = (origin, seq, message)
                if waiting.count > Self.waitingLimit, let oldest = waiting.keys.min() { waiting[oldest] = nil }
                state.waiting[key] = waiting
                return state.syncing.insert(key).inserted
            }
            if request, let peer {
                logger.info(
                    "catching up on a channel", metadata: ["channel": "\(message.channel)", "from": "\(expected)"])
                servers.send(
                    .syncRequest(channel: message.channel, after: expected - 1, limit: UInt32.max), to: peer.id)
            }
        }
        return outcome
    }

    /// Applies, in id order, the messages that waited for a gap to close, as far as there is no gap left.
    private func drainWaiting(channel name: ChannelName) {
        let key = name.key
        while true {
            let expected = channels.lastID(of: name) + 1
            let next: (origin: UInt64, seq: UInt64, message: ChatMessage)? = state.withLock { state in
                guard let waiting = state.waiting[key], let lowest = waiting.keys.min() else {
                    state.waiting[key] = nil
                    state.syncing.remove(key)
                    return nil
                }
                guard lowest <= expected else { return nil }  // still a gap: history is on its way
                state.waiting[key]![lowest] = nil
                return waiting[lowest]
            }
            guard let next else { return }
            _ = receive(origin: next.origin, seq: next.seq, next.message, from: servers.peer(servers.leader))
        }
    }

    private func handleSyncRequest(channel text: String, after: UInt64, from peer: ServerManager.Peer) {
        guard let name = try? ChannelName(validating: text) else { return }
        channels.messages(channel: name, after: after, on: group.next()).whenSuccess { [servers] messages in
            for message in messages { servers.send(.message(origin: 0, seq: 0, message), to: peer.channel) }
        }
    }

    // MARK: - Clients, memberships, topics, direct messages

    /// A client of ours said hello, changed nick, joined, left, set a topic or quit: tell the network.
    func clientConnected(_ session: ClientSession, nick: Nick) {
        servers.broadcast(.clientAdded(remoteClient(session, nick: nick)))
    }

    func clientRenamed(from old: String, to new: String) {
        servers.broadcast(.clientRenamed(old: old, new: new))
    }

    func clientJoined(channel: String, nick: String) {
        servers.broadcast(.joined(channel: channel, nick: nick, time: .now()))
    }

    func clientParted(channel: String, nick: String, reason: String) {
        servers.broadcast(.parted(channel: channel, nick: nick, reason: reason, time: .now()))
    }

    func clientQuit(nick: String, reason: String) {
        servers.broadcast(.clientRemoved(nick: nick, reason: reason))
    }

    func topicSet(channel: String, topic: String, setBy: String, time: Timestamp) {
        servers.broadcast(.topic(channel: channel, topic: topic, setBy: setBy, time: time))
    }

    /// Sends a direct message to a client of a linked server.
    func sendDirect(_ message: DirectMessage, to serverID: UInt64) {
        servers.send(.direct(message), to: serverID)
    }

    private func remoteClient(_ session: ClientSession, nick: Nick) -> RemoteClient {
        RemoteClient(
            nick: nick.name, address: session.address, connectedAt: session.connectedAt,
            clientName: session.hello.clientName, clientVersion: session.hello.clientVersion,
            host: session.hello.host, processID: session.hello.processID)
    }

    private func addRemote(_ client: RemoteClient, from peer: ServerManager.Peer) {
        switch clients.addRemote(client, serverID: peer.id, serverName: peer.hello.name) {
        case .none, .remoteRenamed(_, winner: nil):
            break
        case .remoteRenamed(let renamed, winner: let winner?):
            // Our client kept the nick; it is told too.
            let notice = "another \(client.nick) on \(peer.hello.name) connected after you: it is now \(renamed)"
            if let frame = SubscriberSet.encode(.notice(notice)) { winner.send(frame) }
        case .localRenamed(let sessionID, let old, let new):
            // Our client lost the nick to one that connected earlier elsewhere: rename it and say why, to it and
            // to everyone who shares a channel with it.
            guard let session = clients.localClients().first(where: { $0.session.id == sessionID })?.session else {
                return
            }
            logger.notice(
                "nick collision", metadata: ["nick": "\(old)", "renamed": "\(new)", "peer": "\(peer.hello.name)"])
            channels.announceNickChange(session, from: old, to: new)
            let notice = "another \(old) connected earlier to \(peer.hello.name): you are now \(new)"
            var buffer = session.channel.allocator.buffer(capacity: 128)
            try? ServerFrame.nickChanged(old: old, new: new, time: .now()).encode(requestID: 0, into: &buffer)
            try? ServerFrame.notice(notice).encode(requestID: 0, into: &buffer)
            session.send(buffer)
            servers.broadcast(.clientRenamed(old: old, new: new))
        }
    }

    // MARK: - PeerEventHandler

    func linkUp(_ peer: ServerManager.Peer) {
        // Everything the new peer needs to know of us: clients, what they are in, channels and topics.
        var frames: [PeerFrame] = []
        for (session, nick) in clients.localClients() {
            frames.append(.clientAdded(remoteClient(session, nick: nick)))
            for channel in channels.channels(of: session) {
                frames.append(.joined(channel: channel.name, nick: nick.name, time: session.connectedAt))
            }
        }
        for channel in channels.states() {
            frames.append(.channelState(channel: channel.name, lastID: channel.lastID))
            if !channel.topicSetBy.isEmpty {
                frames.append(
                    .topic(
                        channel: channel.name, topic: channel.topic, setBy: channel.topicSetBy, time: channel.topicSetAt
                    ))
            }
        }
        var buffer = peer.channel.allocator.buffer(capacity: 1024)
        for frame in frames { try? frame.encode(into: &buffer) }
        peer.channel.writeAndFlush(buffer, promise: nil)
    }

    func linkDown(_ peer: ServerManager.Peer) {
        let nicks = clients.removeRemotes(of: peer.id)
        channels.remoteQuit(nicks, reason: "\(peer.hello.name) left the network")
        state.withLock { state in
            state.syncing = []
        }
    }

    /// A new sequencer: forwards it has not answered are sent to it again, in order (or numbered here).
    func leaderChanged() {
        let pending: [(UInt64, Forward)] = state.withLock { state in
            state.forwards.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        guard !pending.isEmpty else { return }
        if servers.isLeader {
            state.withLock { $0.forwards.removeAll() }
            for (_, forward) in pending {
                let ack = forward.reply.futureResult.eventLoop.makePromise(of: Void.self)
                do {
                    let message = try sequenceHere(
                        channel: forward.channel, from: forward.from, body: forward.body, origin: servers.serverID,
                        seq: 0, ack: ack)
                    ack.futureResult.map { message }.cascade(to: forward.reply)
                } catch {
                    ack.fail(error)
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
        switch frame {
        case .forward(let seq, let channel, let from, let body):
            handleForward(seq: seq, channel: channel, from: from, body: body, origin: peer.id)
        case .message(let origin, let seq, let message):
            handleMessage(origin: origin, seq: seq, message, from: peer)
        case .syncRequest(let channel, let after, _):
            handleSyncRequest(channel: channel, after: after, from: peer)
        case .channelState(let channel, let lastID):
            guard let name = try? ChannelName(validating: channel) else { return }
            channels.ensure(name)
            if lastID > channels.lastID(of: name) {
                servers.send(
                    .syncRequest(channel: name.name, after: channels.lastID(of: name), limit: UInt32.max), to: peer.id)
            }
        case .clientAdded(let client):
            addRemote(client, from: peer)
        case .clientRemoved(let nick, let reason):
            if let known = clients.removeRemote(nick, serverID: peer.id) {
                channels.remoteQuit([known], reason: reason)
            }
        case .clientRenamed(let old, let new):
            if let known = clients.renameRemote(from: old, to: new, serverID: peer.id) {
                channels.remoteRename(from: known, to: new)
            }
        case .joined(let channel, let nick, let time):
            channels.remoteJoin(channel: channel, nick: nick, time: time)
        case .parted(let channel, let nick, let reason, let time):
            channels.remotePart(channel: channel, nick: nick, reason: reason, time: time)
        case .topic(let channel, let topic, let setBy, let time):
            channels.applyTopic(channel: channel, topic: topic, setBy: setBy, time: time)
        case .direct(let message):
            if case .local(let session)? = clients.locate(message.to),
                let frame = SubscriberSet.encode(.direct(message))
            {
                session.send(frame)
            }
        case .hello, .load, .goodbye, .peers:
            break
        }
    }
}
