import Logging
import NIOCore
import TChatProtocol

/// Catching up: answering a linked server's SYNC_REQUEST, and asking the sequencer for what this server lacks.
extension NetworkRouter {
    func handleSyncRequest(channel text: String, after: UInt64, limit: UInt32, from peer: ServerManager.Peer) {
        guard let name = try? ChannelName(validating: text) else { return }
        let request = "\(peer.id)/\(name.key)"
        guard state.withLock({ $0.answering.insert(request).inserted }) else {
            logger.debug("a sync request while the last is answered: ignored", metadata: ["channel": "\(name.name)"])
            return
        }
        // `after` is at most the highest id (`PeerFrameCheck`), and what is read is bounded by the history limit.
        channels.messages(channel: name, after: after, on: group.next()).whenComplete { [self] result in
            if case .success(let messages) = result {
                var buffer = peer.channel.allocator.buffer(capacity: 0)
                for message in messages.prefix(Int(limit)) {
                    try? PeerFrame.message(origin: 0, seq: 0, message).encode(into: &buffer)
                }
                if buffer.readableBytes > 0 { peer.channel.writeAndFlush(buffer, promise: nil) }
            }
            state.withLock { _ = $0.answering.remove(request) }
        }
    }

    /// The sequencer has newer messages in a channel than this server: ask it for them, up to the id it announced.
    /// Other servers' CHANNEL_STATE is not acted on: the sequencer is the one whose history every server follows,
    /// and history from anyone else could only disagree with it.
    func handleChannelState(channel text: String, lastID: UInt64, from peer: ServerManager.Peer) {
        // With the store numbering, what channels lack is read from it (`ChannelCatchUp`), not asked of a server.
        guard channels.store.commitLog == nil else { return }
        guard peer.id == servers.leader, lastID > 0, let name = try? ChannelName(validating: text) else { return }
        channels.ensure(name)
        let held = channels.lastID(of: name)
        guard lastID > held else { return }
        let request: Bool = state.withLock { state in
            if let running = state.syncing[name.key], NIODeadline.now() - running.since < Self.syncPatience {
                return false
            }
            state.syncing[name.key] = Sync(peer: peer.id, target: lastID, mayJump: true)
            return true
        }
        if request {
            servers.send(.syncRequest(channel: name.name, after: held, limit: UInt32.max), to: peer.id)
        }
    }

    /// A sync after CHANNEL_STATE is over once the channel holds what was announced.
    func finishSyncIfDone(key: String, lastID: UInt64) {
        state.withLock { state in
            if let target = state.syncing[key]?.target, lastID >= target { state.syncing[key] = nil }
        }
    }
}
