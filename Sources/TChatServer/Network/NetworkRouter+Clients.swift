import NIOCore
import TChatProtocol

/// What linked servers say of their clients, memberships, topics and direct messages, and what a new link is told
/// of ours. (Our own clients' changes reach the network through `ChangeFeed` and `ChangeReplicator`.)
extension NetworkRouter {
    // MARK: - From linked servers

    /// What a linked server says of its clients. Each frame names one of that server's own clients (as that server
    /// names it) and is refused otherwise; the name shown here is used from then on.
    func handleClientFrame(_ frame: PeerFrame, from peer: ServerManager.Peer) {
        switch frame {
        case .clientAdded(let client):
            do {
                if let change = try clients.addRemote(client, serverID: peer.id, serverName: peer.hello.name) {
                    apply(change, from: peer)
                }
            } catch {
                refuse("CLIENT_ADDED", from: peer, error.message)
            }
        case .clientRemoved(let nick, let reason):
            guard let known = clients.removeRemote(nick, serverID: peer.id) else {
                refuse("CLIENT_REMOVED", from: peer, "\(nick) is not one of its clients")
                return
            }
            channels.remoteQuit([known], reason: reason)
        case .clientRenamed(let old, let new):
            do {
                if let change = try clients.renameRemote(from: old, to: new, serverID: peer.id) {
                    apply(change, from: peer)
                }
            } catch {
                refuse("CLIENT_RENAMED", from: peer, error.message)
            }
        case .joined(let channel, let nick, let time):
            guard let shown = ownClient(nick, of: peer, in: "PEER_JOINED") else { return }
            channels.remoteJoin(
                channel: channel, nick: shown, on: peer.id, time: time, away: clients.awayText(of: shown),
                account: clients.accountName(of: shown))
        case .parted(let channel, let nick, let reason, let time):
            guard let shown = ownClient(nick, of: peer, in: "PEER_PARTED") else { return }
            channels.remotePart(channel: channel, nick: shown, reason: reason, time: time)
        case .topic(let channel, let topic, let setBy, let time):
            // A topic set before the link came up (the link's first burst) may name anyone, who may have left;
            // one set since names a client of the sender's.
            let shown = clients.remoteNick(setBy, on: peer.id)
            let earlier = time.milliseconds + ProtocolLimits.maxClockSkew < peer.linkedAt.milliseconds
            guard shown != nil || earlier else {
                refuse("PEER_TOPIC", from: peer, "\(setBy) is not one of its clients")
                return
            }
            channels.applyTopic(channel: channel, topic: topic, setBy: shown ?? setBy, time: time)
        case .direct(let message):
            guard let from = ownClient(message.from, of: peer, in: "PEER_DIRECT") else { return }
            guard case .local? = clients.locate(message.to) else {
                refuse("PEER_DIRECT", from: peer, "\(message.to) is not a client of this server")
                return
            }
            var delivered = message
            delivered.from = from
            _ = NoticeFallback.send(delivered, to: clients.sessions(named: message.to))
        default:
            break
        }
    }

    /// The nick shown here of `nick`, one of `peer`'s clients; nil (refused, logged) when it is not one of them.
    private func ownClient(_ nick: String, of peer: ServerManager.Peer, in frame: String) -> String? {
        guard let shown = clients.remoteNick(nick, on: peer.id) else {
            refuse(frame, from: peer, "\(nick) is not one of its clients")
            return nil
        }
        return shown
    }

    /// A linked server's client arrived or changed nick: the local members who share a channel with whoever was
    /// renamed are told, and so are our clients who lost a nick in a collision (and the network, by CLIENT_RENAMED).
    private func apply(_ change: ClientManager.RemoteChange, from peer: ServerManager.Peer) {
        if let from = change.from, from != change.to { channels.remoteRename(from: from, to: change.to) }
        if let other = change.otherRemote { channels.remoteRename(from: other.from, to: other.to) }
        guard let local = change.local,
            let session = clients.localClients().first(where: { $0.session.id == local.session })?.session
        else { return }
        let companions = clients.companions(of: session)
        logger.notice(
            "nick collision: both clients renamed",
            metadata: ["nick": "\(local.old)", "renamed": "\(local.new)", "peer": "\(peer.hello.name)"])
        // On the session's own loop, where its quit runs too: the others hear NICK before QUIT, or no NICK at all.
        let channels = self.channels
        session.eventLoop.execute {
            channels.announceNickChange(session, from: local.old, to: local.new, companions: companions)
        }
        let notice =
            "another \(local.old) is connected to \(peer.hello.name): neither keeps the nick, you are now "
            + "\(local.new) (/nick \(local.old) takes it back once it is free)"
        var buffer = session.channel.allocator.buffer(capacity: 128)
        try? ServerFrame.nickChanged(old: local.old, new: local.new, time: .now()).encode(requestID: 0, into: &buffer)
        try? ServerFrame.notice(notice).encode(requestID: 0, into: &buffer)
        session.send(buffer)
        if !companions.isEmpty, let frame = SubscriberSet.encode(.notice(notice)) {
            for companion in companions { companion.send(frame) }
        }
        servers.broadcast(.clientRenamed(old: local.old, new: local.new))
    }

    // MARK: - Links coming and going

    func linkUp(_ peer: ServerManager.Peer) {
        // Everything the new peer needs to know of us: clients, what they are in, channels and topics.
        var frames: [PeerFrame] = []
        for (session, nick) in clients.localClients() {
            frames.append(.clientAdded(session.remoteClient(nick: nick)))
            // Before its joins, so the new peer's extended-join clients see the account on each; for every client,
            // logged in or not, so a link that replaced another (which kept its clients) hears a logout it missed.
            frames.append(.record(.loggedIn(nick: nick.name, account: clients.loggedIn(session)?.name ?? "")))
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
        // Accounts, operators and channels' rules last: a server keeps rules only of channels it knows.
        frames += sharedRecords()
        var buffer = peer.channel.allocator.buffer(capacity: 1024)
        for frame in frames { try? frame.encode(into: &buffer) }
        peer.channel.writeAndFlush(buffer, promise: nil)
    }

    func linkDown(_ peer: ServerManager.Peer) {
        clients.accounts?.forgetOperators(of: peer.id)
        let nicks = clients.removeRemotes(of: peer.id)
        channels.remoteQuit(nicks, reason: "\(peer.hello.name) left the network")
        state.withLock { state in
            state.syncing = state.syncing.filter { $0.value.peer != peer.id }
        }
        if channels.store.commitLog != nil { forwardsLost(to: peer) }
    }
}
