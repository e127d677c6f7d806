import TChatProtocol

/// Channel operators' requests: modes, kicks and invitations. The rules are `ChannelAccess`'s; this applies them
/// under the channel's lock and tells the members.
extension ChannelManager {
    /// Someone a request names, when they are connected here: their session and who they are.
    struct Target: Sendable {
        let session: ClientSession
        let member: ChannelAccess.Member
        /// The sessions sharing its nick: put out with it, invited with it.
        var companions: [ClientSession] = []
    }

    /// CHANNEL_MODES as `viewer` may see it: the key only to members; a secret channel only to its members.
    func modes(of name: ChannelName, viewer: ClientSession) throws(ProtocolError) -> ServerFrame {
        let channel = try existing(name)
        return try channel.withState { (state) throws(ProtocolError) -> ServerFrame in
            let isMember = state.members.local.contains(viewer)
            if state.access.secret, !isMember {
                throw ProtocolError(.noSuchChannel, "there is no channel \(name.name)")
            }
            let access = state.access
            return .channelModes(
                channel: channel.name.name, modes: access.modeString(showKey: isMember),
                operators: access.operators.values.sorted().joined(separator: " "),
                voiced: access.voiced.values.sorted().joined(separator: " "),
                bans: isMember ? access.bans.joined(separator: " ") : "")
        }
    }

    /// Applies one mode change by `member`; every member here hears MODE_CHANGED, and the network the channel's
    /// new access. `absent`: who `+o`/`-o` names when they are not here (an account, perhaps on another server).
    /// Returns the change as announced.
    @discardableResult
    func changeMode(
        _ text: String, channel name: ChannelName, by member: ChannelAccess.Member, session: ClientSession,
        target: Target?, absent: ChannelAccess.Member? = nil
    ) throws(ProtocolError) -> String {
        let change = try ChannelAccess.Change(parsing: text)
        let channel = try existing(name)
        let announced = try channel.withState { (state) throws(ProtocolError) -> String in
            guard state.members.local.contains(session) else {
                throw state.refusal(toNonMember: name.name, "join \(name.name) to change its modes")
            }
            let here = target.flatMap { state.members.local.contains($0.session) ? $0.member : nil }
            let announced = try state.access.apply(change, by: member, target: here ?? absent)
            let event = ServerFrame.modeChanged(
                channel: channel.name.name, by: member.nick, change: announced, time: .now())
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
            shareAccess(of: channel, &state, by: member.nick, change: announced)
            return announced
        }
        store.channelsChanged()
        logger.info(
            "channel mode", metadata: ["channel": "\(name.name)", "by": "\(member.nick)", "change": "\(announced)"])
        return announced
    }

    /// Puts `target` out of the channel; every member, the kicked one included, hears KICKED. `late`, asked once it
    /// is done, names the sessions sharing the target's nick then (one may have come meanwhile).
    func kick(
        _ target: Target, channel name: ChannelName, by member: ChannelAccess.Member, session: ClientSession,
        reason: String, late: (() -> [ClientSession])? = nil
    ) throws(ProtocolError) {
        let channel = try existing(name)
        try channel.withState { (state) throws(ProtocolError) in
            try state.checkOperatorHere(member, session: session, channel: name.name)
            guard state.members.local.contains(target.session) else {
                throw ProtocolError(.notOnChannel, "\(target.member.nick) is not in \(name.name)")
            }
            let time = Timestamp.now()
            let event = ServerFrame.kicked(
                channel: channel.name.name, nick: target.member.nick, by: member.nick, reason: reason, time: time)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
            state.members.local.remove(target.session)
            state.members.removeCompanions(target.companions)
            feed.emit(
                .parted(
                    channel: channel.name.name, nick: target.member.nick, reason: "kicked by \(member.nick)", time: time
                ))
        }
        memberships.remove(target.session, from: channel)
        for companion in target.companions { memberships.remove(companion, from: channel) }
        if let late { leave(late(), channel: channel, nick: target.member.nick, reason: "kicked by \(member.nick)") }
        logger.info(
            "kicked", metadata: ["channel": "\(name.name)", "nick": "\(target.member.nick)", "by": "\(member.nick)"])
    }

    /// Lets `target` into the channel despite `+i`; it hears INVITED.
    func invite(
        _ target: Target, channel name: ChannelName, by member: ChannelAccess.Member, session: ClientSession
    ) throws(ProtocolError) {
        let channel = try existing(name)
        try channel.withState { (state) throws(ProtocolError) in
            try state.checkOperatorHere(member, session: session, channel: name.name)
            guard !state.members.local.contains(target.session) else {
                throw ProtocolError(.invalidArgument, "\(target.member.nick) is in \(name.name) already")
            }
            if state.access.invited.count >= 1000 { state.access.invited.removeAll() }
            for invited in [target.session] + target.companions { state.access.invited.insert(invited.id) }
        }
        if let frame = SubscriberSet.encode(.invited(channel: channel.name.name, by: member.nick, time: .now())) {
            for invited in [target.session] + target.companions { invited.send(frame) }
        }
    }
}

extension ChannelManager {
    /// A server operator closes a channel: every member here is put out (KICKED, by `by`), and the channel becomes
    /// invite-only and secret, its invitations forgotten, until an operator opens it again. Returns how many were
    /// put out.
    func close(
        _ name: ChannelName, by: String, reason: String, nicks: [String] = []
    ) throws(ProtocolError) -> Int {
        let channel = try existing(name)
        let removed = channel.withState { state -> [ClientSession] in
            let members = state.members.local.sessions
            let time = Timestamp.now()
            let event = ServerFrame.kicked(channel: channel.name.name, nick: "*", by: by, reason: reason, time: time)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
            for member in members { state.members.local.remove(member) }
            state.members.sharedSessions = 0
            // Linked servers put out their members (PEER_KICK `*`) and hear ours leave.
            for nick in nicks {
                feed.emit(.parted(channel: channel.name.name, nick: nick, reason: "closed by \(by)", time: time))
            }
            state.access.inviteOnly = true
            state.access.secret = true
            state.access.invited.removeAll()
            // Its operators are out too: only a server operator opens it again, or gives it to someone.
            state.access.operators.removeAll()
            state.access.orphaned = true
            shareAccess(of: channel, &state, by: by, change: "+is")
            // After its rules: a linked server takes a kick of all only from a channel closed there too.
            feed.emit(.record(.kick(channel: channel.name.name, nick: "*", by: by, reason: reason)))
            return members
        }
        for member in removed { memberships.remove(member, from: channel) }
        store.channelsChanged()
        return removed.count
    }
}

extension ChannelManager {
    /// An account is gone: it operates no channel and has no voice any more, so that whoever registers the name
    /// next inherits nothing.
    func forgetAccount(_ key: String) {
        forgetAccounts { $0 == key }
    }

    /// At start-up: operators and voice of accounts dropped while the server was not running.
    func forgetAccounts(notIn keys: Set<String>) {
        forgetAccounts { !keys.contains($0) && !$0.hasPrefix("session:") }
    }

    /// A channel that loses its last operator so is orphaned: the next member to come by cannot claim it.
    private func forgetAccounts(where gone: (String) -> Bool) {
        var changed = false
        for channel in directory.all {
            channel.withState { state in
                for key in state.access.operators.keys where gone(key) {
                    state.access.operators[key] = nil
                    if state.access.operators.isEmpty { state.access.orphaned = true }
                    changed = true
                }
                for key in state.access.voiced.keys where gone(key) {
                    state.access.voiced[key] = nil
                    changed = true
                }
            }
        }
        if changed { store.channelsChanged() }
    }
}
