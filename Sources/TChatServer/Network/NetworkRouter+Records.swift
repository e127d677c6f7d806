import TChatProtocol

/// What linked servers say of accounts, server bans, channels' access and operators (`NetworkRecord`), and what
/// their operators do to our clients. Accounts and bans go to the `AccountBook`, which keeps the newer of two
/// copies; channel access to the `ChannelManager`, which does the same.
extension NetworkRouter {
    func handleRecord(_ record: NetworkRecord, from peer: ServerManager.Peer) {
        switch record {
        case .account, .accountDropped, .serverBan, .serverUnban:
            guard let book = clients.accounts else { return }  // this server has no accounts: nothing to keep
            book.hear(record)
        case .channelAccess(let access):
            let book = clients.accounts
            channels.applySharedAccess(access) { book?.wasDropped($0) ?? false }
        case .operators(let names):
            clients.accounts?.setOperators(names, of: peer.id)
        case .kick(let channel, let nick, let by, let reason):
            guard let by = actor(by, of: peer, in: "PEER_KICK"), let name = try? ChannelName(validating: channel)
            else { return }
            let targets = nick == "*" ? nil : clients.sessions(named: nick)
            guard targets?.isEmpty != true else {
                refuse("PEER_KICK", from: peer, "\(nick) is not a client of this server")
                return
            }
            // All out only from a channel closed; one out only by a member of the channel.
            guard targets != nil || channels.isClosed(name) else {
                refuse("PEER_KICK", from: peer, "\(channel) is not closed")
                return
            }
            guard targets == nil || channels.hasRemoteMember(by, in: name) else {
                refuse("PEER_KICK", from: peer, "\(by) is not in \(channel)")
                return
            }
            // Closing: every member here is named, for the network to hear them leave.
            let nicks = Set((channels.members(of: name) ?? []).compactMap { clients.currentNick(of: $0)?.name })
            channels.kickFromNetwork(
                targets, nick: nick, channel: name, by: by, reason: reason, nicks: targets == nil ? nicks.sorted() : [])
        case .invite(let channel, let nick, let by):
            guard let by = actor(by, of: peer, in: "PEER_INVITE"), let name = try? ChannelName(validating: channel)
            else { return }
            let targets = clients.sessions(named: nick)
            guard !targets.isEmpty else {
                refuse("PEER_INVITE", from: peer, "\(nick) is not a client of this server")
                return
            }
            channels.inviteFromNetwork(targets, channel: name, by: by)
        case .kill(let nick, let by, let reason):
            guard let by = actor(by, of: peer, in: "PEER_KILL") else { return }
            let because = reason.isEmpty ? "" : ": \(reason)"
            for session in clients.sessions(named: nick) {
                ConnectionHandler.end(
                    session.channel,
                    ProtocolError(.killed, "disconnected by the server operator \(by) on \(peer.hello.name)\(because)"))
            }
            logger.notice(
                "session ended from the network",
                metadata: ["nick": "\(nick)", "by": "\(by)", "peer": "\(peer.hello.name)"])
        case .away(let nick, let text):
            // Only for one of the sender's own clients, found by the name the sender gives it.
            // Told only when it changes: a peer repeating itself makes no events.
            switch clients.setRemoteAway(text, nick: nick, serverID: peer.id) {
            case .notTheirs: refuse("PEER_AWAY", from: peer, "\(nick) is not one of its clients")
            case .unchanged: break
            case .changed: channels.announceRemoteAway(nick: clients.remoteNick(nick, on: peer.id) ?? nick, text: text)
            }
        case .loggedIn(let nick, let account):
            // As PEER_AWAY: only for one of the sender's own clients, told only when it changes.
            switch clients.setRemoteAccount(account, nick: nick, serverID: peer.id) {
            case .notTheirs: refuse("PEER_LOGGED_IN", from: peer, "\(nick) is not one of its clients")
            case .unchanged: break
            case .changed:
                channels.announceRemoteAccount(nick: clients.remoteNick(nick, on: peer.id) ?? nick, account: account)
            }
        }
    }

    /// Who did it, as named here: one of the sender's clients; nil (refused) otherwise.
    private func actor(_ nick: String, of peer: ServerManager.Peer, in frame: String) -> String? {
        guard let shown = clients.remoteNick(nick, on: peer.id) else {
            refuse(frame, from: peer, "\(nick) is not one of its clients")
            return nil
        }
        return shown
    }

    /// What a newly linked server hears of accounts, bans, operators and channels' access.
    func sharedRecords() -> [PeerFrame] {
        var frames: [PeerFrame] = []
        if let book = clients.accounts {
            frames += book.records.map { .record($0) }
            frames.append(.record(.operators(book.operatorNames)))
        }
        frames += channels.sharedAccess().map { .record(.channelAccess($0)) }
        frames += clients.localAwayRecords().map { .record($0) }
        return frames
    }
}
