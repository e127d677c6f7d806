import TChatProtocol

/// Channels' access kept alike on every server of a network: each change an operator makes here goes out whole,
/// stamped with its time (CHANNEL_ACCESS), and of two copies every server keeps the newer, so servers that were
/// apart agree once linked again. Invitations and guests' voices belong to sessions and stay on their server.
extension ChannelManager {
    /// Stamps a change made here and tells the network; call with the channel's lock held, after the change.
    func shareAccess(of channel: ChatChannel, _ state: inout ChatChannel.State, by: String, change: String) {
        state.access.changed = .now(after: state.access.changed)
        feed.emit(
            .record(.channelAccess(Self.shared(state.access, channel: channel.name.name, by: by, change: change))))
    }

    /// Every channel's access that is not the default, for a newly linked server.
    func sharedAccess() -> [SharedChannelAccess] {
        directory.all.compactMap { channel in
            channel.withState { state in
                state.access.changed.milliseconds == 0
                    ? nil : Self.shared(state.access, channel: channel.name.name, by: "", change: "")
            }
        }
    }

    /// Takes a linked server's copy of a channel's rules when it wins over the one here: rules never set here
    /// lose to any; otherwise those of the channel made first win (one made during a split is another's), then
    /// those changed last, then (equal times) the larger content. `dropped` names accounts dropped here, which a
    /// server that missed the drop may still list. Members here hear its change (MODE_CHANGED) when it names one.
    /// Returns whether it was taken; a channel this server does not know is not made for it.
    @discardableResult
    func applySharedAccess(_ incoming: SharedChannelAccess, dropped: (String) -> Bool = { _ in false }) -> Bool {
        guard let name = try? ChannelName(validating: incoming.channel), let channel = directory.channel(name) else {
            return false
        }
        var shared = incoming
        shared.operators = Array(Set(incoming.operators.filter { !dropped(Nick.key(for: $0)) })).sorted()
        shared.voiced = Array(Set(incoming.voiced.filter { !dropped(Nick.key(for: $0)) })).sorted()
        shared.bans = Array(Set(incoming.bans)).sorted()
        let taken = channel.withState { state -> Bool in
            let access = state.access
            let mine = Self.shared(access, channel: channel.name.name, by: "", change: "")
            let wins: Bool =
                if !access.isSet && access.changed.milliseconds == 0 {
                    true
                } else if shared.created != access.origin {
                    shared.created < access.origin
                } else if shared.time != access.changed {
                    shared.time > access.changed
                } else {
                    Self.order(shared) > Self.order(mine)
                }
            guard wins, shared != mine || shared.created != access.origin else { return false }
            state.access.take(shared)
            if !shared.change.isEmpty, !shared.by.isEmpty,
                let frame = SubscriberSet.encode(
                    .modeChanged(channel: channel.name.name, by: shared.by, change: shared.change, time: shared.time))
            {
                state.members.local.deliver(frame)
            }
            return true
        }
        if taken { store.channelsChanged() }
        return taken
    }

    /// Whether a linked server's kick of all (`*`) is for a channel closed (orphaned) here too, as its rules, sent
    /// first, made it.
    func isClosed(_ name: ChannelName) -> Bool {
        directory.channel(name)?.withState { $0.access.orphaned } ?? false
    }

    /// Whether `nick`, a linked server's client, is in the channel (kicking from there needs being in it).
    func hasRemoteMember(_ nick: String, in name: ChannelName) -> Bool {
        directory.channel(name)?.withState { $0.members.remote[Nick.key(for: nick)] != nil } ?? false
    }

    static func shared(_ access: ChannelAccess, channel: String, by: String, change: String) -> SharedChannelAccess {
        var modes = ""
        if access.inviteOnly { modes += "i" }
        if access.secret { modes += "s" }
        if access.topicLock { modes += "t" }
        if access.moderated { modes += "m" }
        return SharedChannelAccess(
            channel: channel, created: access.origin, modes: modes, key: access.key ?? "",
            operators: Array(Set(access.operators.values)).sorted(),
            voiced: Array(Set(access.voiced.filter { !$0.key.hasPrefix("session:") }.values)).sorted(),
            bans: Array(Set(access.bans)).sorted(), orphaned: access.orphaned, time: access.changed, by: by,
            change: change)
    }

    /// A total order on copies with equal times, the same on every server.
    private static func order(_ access: SharedChannelAccess) -> String {
        [
            access.modes, access.key, access.operators.joined(separator: " "), access.voiced.joined(separator: " "),
            access.bans.joined(separator: " "), access.orphaned ? "1" : "0",
        ].joined(separator: "\n")
    }
}

extension ChannelAccess {
    /// Becomes a linked server's copy, keeping what is this server's own: invitations and guests' voices.
    mutating func take(_ shared: SharedChannelAccess) {
        inviteOnly = shared.modes.contains("i")
        secret = shared.modes.contains("s")
        topicLock = shared.modes.contains("t")
        moderated = shared.modes.contains("m")
        key = shared.key.isEmpty ? nil : shared.key
        operators = Dictionary(
            shared.operators.map { (Nick.key(for: $0), $0) }, uniquingKeysWith: { first, _ in first })
        let guests = voiced.filter { $0.key.hasPrefix("session:") }
        voiced = guests.merging(shared.voiced.map { (Nick.key(for: $0), $0) }, uniquingKeysWith: { first, _ in first })
        bans = Array(shared.bans.prefix(Self.maxBans))
        orphaned = shared.orphaned
        changed = shared.time
        origin = shared.created
    }
}

/// Linked servers' operators acting on our clients, and ours on theirs.
extension ChannelManager {
    /// Whether `member` may kick (`member` named: a member of the channel on a linked server) or invite someone of
    /// another server: an operator of the channel, and in it; the other server carries it out.
    func checkRemoteAction(
        by member: ChannelAccess.Member, session: ClientSession, channel name: ChannelName, member target: String?
    ) throws(ProtocolError) {
        let channel = try existing(name)
        try channel.withState { (state) throws(ProtocolError) in
            try state.checkOperatorHere(member, session: session, channel: name.name)
            if let target, !state.members.remote.keys.contains(Nick.key(for: target)) {
                throw ProtocolError(.notOnChannel, "\(target) is not in \(name.name)")
            }
        }
    }

    /// A channel operator on another server put `sessions` (all sessions of one nick; nil: every member here, a
    /// server operator closing the channel, whose `nicks` are given) out of a channel: every member here hears
    /// KICKED, and the network hears them leave.
    func kickFromNetwork(
        _ sessions: [ClientSession]?, nick: String, channel name: ChannelName, by: String, reason: String,
        nicks: [String] = []
    ) {
        guard let channel = directory.channel(name) else { return }
        let removed = channel.withState { state -> [ClientSession] in
            let out = sessions?.filter { state.members.local.contains($0) } ?? state.members.local.sessions
            guard !out.isEmpty else { return [] }
            let time = Timestamp.now()
            let event = ServerFrame.kicked(channel: channel.name.name, nick: nick, by: by, reason: reason, time: time)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
            if sessions == nil {
                for member in out { state.members.local.remove(member) }
                state.members.sharedSessions = 0
                for gone in nicks {
                    feed.emit(.parted(channel: channel.name.name, nick: gone, reason: "closed by \(by)", time: time))
                }
            } else {
                // One nick's sessions: one member, however many sessions.
                state.members.local.remove(out[0])
                state.members.removeCompanions(Array(out.dropFirst()))
                feed.emit(.parted(channel: channel.name.name, nick: nick, reason: "kicked by \(by)", time: time))
            }
            return out
        }
        for session in removed { memberships.remove(session, from: channel) }
    }

    /// A channel operator on another server invited `sessions` (all sessions of one nick).
    func inviteFromNetwork(_ sessions: [ClientSession], channel name: ChannelName, by: String) {
        guard let channel = directory.channel(name) else { return }
        channel.withState { state in
            if state.access.invited.count >= 1000 { state.access.invited.removeAll() }
            for session in sessions { state.access.invited.insert(session.id) }
        }
        if let frame = SubscriberSet.encode(.invited(channel: channel.name.name, by: by, time: .now())) {
            for session in sessions { session.send(frame) }
        }
    }
}
