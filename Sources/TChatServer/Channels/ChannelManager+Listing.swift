import TChatProtocol

/// Topics set here, and what clients and linked servers are told about channels.
extension ChannelManager {
    /// Sets a topic; returns the time it was set (the latest setting wins across the network).
    @discardableResult
    func setTopic(
        _ session: ClientSession, nick: String, channel name: ChannelName, topic: String,
        member: ChannelAccess.Member? = nil
    ) throws(ProtocolError) -> Timestamp {
        let channel = try existing(name)
        let member = member ?? ChannelAccess.Member(nick: nick, account: nil)
        let time = try channel.withState { (state) throws(ProtocolError) -> Timestamp in
            guard state.members.local.contains(session) else {
                throw state.refusal(toNonMember: name.name, "join \(channel.name.name) to set its topic")
            }
            try state.access.checkTopic(member)
            state.topic = topic
            state.topicSetBy = nick
            state.topicSetAt = .now()
            let event = ServerFrame.topic(channel: channel.name.name, topic: topic, setBy: nick, time: state.topicSetAt)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame, excluding: session.id) }
            feed.emit(.topic(channel: channel.name.name, topic: topic, setBy: nick, time: state.topicSetAt))
            return state.topicSetAt
        }
        store.channelsChanged()
        return time
    }

    /// Every channel's name, newest id and topic, to tell a newly linked server.
    func states() -> [(name: String, lastID: UInt64, topic: String, topicSetBy: String, topicSetAt: Timestamp)] {
        directory.all.map { channel in
            let (lastID, topic, setBy, setAt) = channel.withState {
                ($0.history.lastID, $0.topic, $0.topicSetBy, $0.topicSetAt)
            }
            return (channel.name.name, lastID, topic, setBy, setAt)
        }
    }

    /// Every channel `viewer` may know of, sorted by name: secret ones only to their members (nil: all).
    func list(for viewer: ClientSession? = nil) -> [ChannelInfo] {
        directory.all.compactMap { channel in
            channel.withState { state in
                guard let viewer, state.access.secret, !state.members.local.contains(viewer) else {
                    return channel.info(of: state)
                }
                return nil
            }
        }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    func info(_ name: ChannelName) -> ChannelInfo? { directory.channel(name)?.info }

    /// The sessions in a channel, or nil if there is no such channel.
    func members(of name: ChannelName) -> [ClientSession]? {
        directory.channel(name)?.withState { $0.members.local.sessions }
    }

    /// The channel, when `viewer` is in it: its member list and history are for its members only. A secret
    /// channel is answered for as if it did not exist.
    func channel(_ name: ChannelName, memberOnly viewer: ClientSession, doing action: String) throws(ProtocolError)
        -> ChatChannel
    {
        let channel = try existing(name)
        try channel.withState { (state) throws(ProtocolError) in
            guard state.members.local.contains(viewer) else {
                throw state.refusal(toNonMember: name.name, "join \(name.name) to \(action)")
            }
        }
        return channel
    }

    /// The channels a session is in, sorted by name; with a `viewer`, the secret ones it is not in are left out.
    func channels(of session: ClientSession, visibleTo viewer: ClientSession? = nil) -> [ChannelInfo] {
        memberships.channels(of: session).compactMap { channel in
            channel.withState { state in
                guard let viewer, viewer.id != session.id, state.access.secret,
                    !state.members.local.contains(viewer)
                else { return channel.info(of: state) }
                return nil
            }
        }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }
}
