import Logging
import NIOCore
import TChatProtocol

/// Numbered messages from the sequencer (live) or from a linked server (history asked for): checked, applied in id
/// order, and held ahead of a gap until history fills it.
extension NetworkRouter {
    /// A numbered message: live from the sequencer, or history this server asked `peer` for. Stored and delivered
    /// here in id order, then whatever waited for it.
    func handleMessage(origin: UInt64, seq: UInt64, _ message: ChatMessage, from peer: ServerManager.Peer) {
        guard let name = try? ChannelName(validating: message.channel) else { return }
        if origin == 0 && seq == 0 {
            let sync = state.withLock { $0.syncing[name.key] }
            guard let sync, sync.peer == peer.id else {
                refuse("PEER_MESSAGE", from: peer, "history for \(name.name) that this server did not ask it for")
                return
            }
            if let target = sync.target, message.id > target {
                refuse(
                    "PEER_MESSAGE", from: peer, "history for \(name.name) beyond the last id it announced, \(target)")
                return
            }
        } else if peer.id != servers.leader {
            refuse("PEER_MESSAGE", from: peer, "numbered messages come from the sequencer only")
            return
        } else if let problem = authorProblem(origin: origin, seq: seq, message, channel: name) {
            refuse("PEER_MESSAGE", from: peer, problem)
            return
        }
        guard receive(origin: origin, seq: seq, message, from: peer) == .applied else { return }
        drainWaiting(channel: name)
    }

    /// Why a live numbered message cannot be taken as the sequencer says, if it cannot: its author must be a client
    /// of the server it came through (`origin`): ours when it answers our forward (compared with the forward in
    /// `receive`), the forwarding server's, or the sequencer's own. History (origin 0) is not checked so: its
    /// authors may have left long ago.
    func authorProblem(origin: UInt64, seq: UInt64, _ message: ChatMessage, channel: ChannelName) -> String? {
        if origin == servers.serverID {
            if state.withLock({ $0.forwards[seq] != nil }) { return nil }
            // Not waiting for it: a resend of what is stored already is harmless; anything new is refused.
            guard message.id > channels.lastID(of: channel) else { return nil }
            return "it answers no forward of this server's (seq \(seq))"
        }
        guard case .remote(let serverID, _)? = clients.locate(message.from), serverID == origin else {
            return "\(message.from) is not a client of the server it is numbered for"
        }
        return nil
    }

    /// Applies one numbered message; a gap asks `peer` (the one that sent it) for the history in between.
    func receive(
        origin: UInt64, seq: UInt64, _ message: ChatMessage, from peer: ServerManager.Peer?
    ) -> ChannelManager.ApplyOutcome {
        let key = message.channel.lowercased()
        let isSync = origin == 0 && seq == 0
        let mine = origin == servers.serverID ? state.withLock { $0.forwards.removeValue(forKey: seq) } : nil
        if let mine, !Self.answers(mine, with: message) {
            // The sequencer changed what we forwarded: never acknowledge that to our client as its message.
            state.withLock { $0.forwards[seq] = mine }
            if let peer { refuse("PEER_MESSAGE", from: peer, "message \(message.id) is not what was forwarded") }
            return .failed
        }
        // Only a linked server's forwards are remembered: an origin is a number on the wire, and anything else
        // would grow this table without bound.
        if origin != servers.serverID && origin != 0 && servers.peer(origin) != nil {
            remember(origin: origin, seq: seq, id: message.id)
        }
        let allowGap: Bool =
            isSync
            && state.withLock { state in
                defer { state.syncing[key]?.mayJump = false }
                return state.syncing[key]?.mayJump == true
            }
        let outcome = channels.apply(message, allowGap: allowGap, ack: mine.map { .client($0.reply) })
        if isSync, let name = try? ChannelName(validating: message.channel) {
            finishSyncIfDone(key: key, lastID: channels.lastID(of: name))
        }
        switch outcome {
        case .applied, .failed:
            break  // the client is answered by the receipt, or was told of the failure
        case .duplicate:
            // Ours, already stored (it came with history, or a resend was answered twice): still answer the client.
            if let mine { mine.reply.succeed(message) }
            logger.debug(
                "duplicate message ignored", metadata: ["channel": "\(message.channel)", "id": "\(message.id)"])
        case .implausible:
            if let mine { state.withLock { $0.forwards[seq] = mine } }
            if let peer {
                refuse(
                    "PEER_MESSAGE", from: peer,
                    "message \(message.id) in \(message.channel) is further on than ids can have grown since its last")
            }
        case .gap(let expected):
            // Not stored yet: the forward waits again, and the message waits for the gap to close.
            if let mine { state.withLock { $0.forwards[seq] = mine } }
            if isSync {
                // History that does not continue what this server holds: a jump, not a gap to wait on.
                if let peer {
                    refuse("PEER_MESSAGE", from: peer, "history for \(message.channel) jumps to \(message.id)")
                }
                return .failed
            }
            let maxWaitingBytes = self.maxWaitingBytes
            var full = false
            let request: Bool = state.withLock { state in
                var waiting = state.waiting[key] ?? [:]
                if state.waitingBytes + Self.size(message) <= maxWaitingBytes {
                    if let replaced = waiting.updateValue((origin, seq, message), forKey: message.id) {
                        state.waitingBytes -= Self.size(replaced.message)
                    }
                    state.waitingBytes += Self.size(message)
                } else {
                    full = true
                }
                if waiting.count > Self.waitingLimit, let oldest = waiting.keys.min(),
                    let dropped = waiting.removeValue(forKey: oldest)
                {
                    state.waitingBytes -= Self.size(dropped.message)
                }
                state.waiting[key] = waiting
                guard let peer else { return false }
                if let running = state.syncing[key], NIODeadline.now() - running.since < Self.syncPatience {
                    return false  // already being filled
                }
                state.syncing[key] = Sync(peer: peer.id)
                return true
            }
            if full {
                logger.warning(
                    "messages ahead of a gap are not kept: \(maxWaitingBytes) bytes are held already",
                    metadata: ["channel": "\(message.channel)", "id": "\(message.id)"])
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

    /// Whether a numbered message is the one we forwarded: same channel, author and body.
    static func answers(_ forward: Forward, with message: ChatMessage) -> Bool {
        forward.channel.key == message.channel.lowercased()
            && Nick.key(for: forward.from) == Nick.key(for: message.from)
            && forward.body == message.body
    }

    /// Applies, in id order, the messages that waited for a gap to close, as far as there is no gap left.
    func drainWaiting(channel name: ChannelName) {
        let key = name.key
        while true {
            let expected = channels.lastID(of: name) + 1
            let next: (origin: UInt64, seq: UInt64, message: ChatMessage)? = state.withLock { state in
                guard let waiting = state.waiting[key], let lowest = waiting.keys.min() else {
                    // Nothing waits: a sync that filled a gap is over (one after CHANNEL_STATE ends at its target).
                    state.waiting[key] = nil
                    if state.syncing[key]?.target == nil { state.syncing[key] = nil }
                    return nil
                }
                guard lowest <= expected else { return nil }  // still a gap: history is on its way
                guard let next = state.waiting[key]?.removeValue(forKey: lowest) else { return nil }
                state.waitingBytes -= Self.size(next.message)
                return next
            }
            guard let next else { return }
            _ = receive(origin: next.origin, seq: next.seq, next.message, from: servers.peer(servers.leader))
        }
    }
}
