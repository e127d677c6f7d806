import TChatProtocol

/// Members on linked servers, and topics set there.
extension ChannelManager {
    /// `away`, the joiner's away text, is told after the JOINED to the members who asked (`AWAY_CHANGED`);
    /// `account`, the account it is logged in to (empty: none), to those who asked for JOINED_ACCOUNT.
    func remoteJoin(
        channel text: String, nick: String, on serverID: UInt64, time: Timestamp, away: String? = nil,
        account: String = ""
    ) {
        guard let name = try? ChannelName(validating: text) else { return }
        let channel = channel(creating: name)
        let memberships = self.memberships
        channel.withState { state in
            guard state.members.addRemote(nick, on: serverID) else { return }
            // Under the channel's lock, so a rename or quit arriving from another link's loop finds the index and
            // the channel in step (it takes the index first, then each channel).
            memberships.add(remote: nick, to: channel)
            Self.tellJoined(
                channel: channel.name.name, nick: nick, account: account, time: time, to: state.members.local)
            if let away {
                Self.tell(.awayChanged(nick: nick, text: away, time: .now()), to: state.members.local.sessions)
            }
        }
    }

    func remotePart(channel text: String, nick: String, reason: String, time: Timestamp) {
        guard let name = try? ChannelName(validating: text), let channel = directory.channel(name) else { return }
        let memberships = self.memberships
        channel.withState { state in
            guard state.members.removeRemote(nick) else { return }
            memberships.remove(remote: nick, from: channel)
            let event = ServerFrame.parted(channel: channel.name.name, nick: nick, reason: reason, time: time)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
        }
    }

    /// Takes remote nicks out of every channel they are in, telling the local members who shared one with each,
    /// once. Costs the channels those nicks are in, not all channels.
    func remoteQuit(_ nicks: [String], reason: String) {
        for nick in nicks {
            var audience = SubscriberSet()
            for channel in memberships.removeAll(ofRemote: nick) {
                let others = channel.withState { state in
                    state.members.removeRemote(nick) ? state.members.local.sessions : []
                }
                for member in others { audience.insert(member) }
            }
            if let frame = SubscriberSet.encode(.quitted(nick: nick, reason: reason, time: .now())) {
                audience.deliver(frame)
            }
        }
    }

    /// A remote member changed nick: renamed in every channel it is in, and the local members who share one told
    /// once.
    func remoteRename(from old: String, to new: String) {
        var audience = SubscriberSet()
        for channel in memberships.rename(remote: old, to: new) {
            let others = channel.withState { state in
                state.members.renameRemote(from: old, to: new) ? state.members.local.sessions : []
            }
            for member in others { audience.insert(member) }
        }
        if let frame = SubscriberSet.encode(.nickChanged(old: old, new: new, time: .now())) {
            audience.deliver(frame)
        }
    }

    /// The remote members of a channel.
    func remoteMembers(of name: ChannelName) -> [String] {
        directory.channel(name)?.withState { $0.members.remote.values.map(\.nick) } ?? []
    }

    /// The channels a remote nick is in, sorted by name.
    /// The channels a linked server's client is in; with a `viewer`, the secret ones it is not in are left out.
    func channels(ofRemote nick: String, visibleTo viewer: ClientSession? = nil) -> [ChannelInfo] {
        memberships.channels(ofRemote: nick).compactMap { channel in
            channel.withState { state in
                guard let viewer, state.access.secret, !state.members.local.contains(viewer) else {
                    return channel.info(of: state)
                }
                return nil
            }
        }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    /// A topic set on a linked server; the latest setting wins, the same on every server.
    func applyTopic(channel text: String, topic: String, setBy: String, time: Timestamp) {
        guard let name = try? ChannelName(validating: text) else { return }
        let channel = channel(creating: name)
        let changed = channel.withState { state in
            guard state.takeTopic(topic, setBy: setBy, at: time) else { return false }
            let event = ServerFrame.topic(channel: channel.name.name, topic: topic, setBy: setBy, time: time)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
            return true
        }
        if changed { store.channelsChanged() }
    }
}
