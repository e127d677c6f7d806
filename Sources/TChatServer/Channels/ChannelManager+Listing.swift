import TChatProtocol

/// Topics set here, and what clients and linked servers are told about channels.
extension ChannelManager {
    /// Sets a topic; returns the time it was set (the latest setting wins across the network).
    @discardableResult
    func setTopic(
        _ session: ClientSession, nick: String, channel name: ChannelName, topic: String
    ) throws(ProtocolError) -> Timestamp {
        let channel = try existing(name)
        let time = try channel.withState { (state) throws(ProtocolError) -> Timestamp in
            guard state.members.local.contains(session) else {
                throw ProtocolError(.notOnChannel, "join \(channel.name.name) to set its topic")
            }
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

    /// Every channel, sorted by name.
    func list() -> [ChannelInfo] {
        directory.all.map(\.info).sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    func info(_ name: ChannelName) -> ChannelInfo? { directory.channel(name)?.info }

    /// The sessions in a channel, or nil if there is no such channel.
    func members(of name: ChannelName) -> [ClientSession]? {
        directory.channel(name)?.withState { $0.members.local.sessions }
    }

    /// The channels a session is in, sorted by name.
    func channels(of session: ClientSession) -> [ChannelInfo] {
        memberships.channels(of: session).map(\.info).sorted { $0.name.lowercased() < $1.name.lowercased() }
    }
}
