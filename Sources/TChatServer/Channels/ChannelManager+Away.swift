import TChatProtocol

/// AWAY_CHANGED, for the clients whose HELLO asked for it (an IRC client's away-notify): whoever shares a channel
/// with a client that went away or came back hears it once, whichever server of the network that client is on.
extension ChannelManager {
    /// A client of ours went away or came back (in all its channels), or joined `joining` while away: the members
    /// there learn it, after its JOINED for a join, as IRC servers tell away-notify clients; neither it nor the
    /// `companions` sharing its nick do. (A linked server's client joining is told of in `remoteJoin`.)
    func announceAway(
        of session: ClientSession, nick: String, text: String, companions: [ClientSession],
        joining name: ChannelName? = nil
    ) {
        let holders = Set(companions.map(\.id)).union([session.id])
        let channels = name.map { directory.channel($0).map { [$0] } ?? [] } ?? memberships.channels(of: session)
        announceAway(nick: nick, text: text, in: channels, except: holders)
    }

    /// A linked server's client went away or came back.
    func announceRemoteAway(nick: String, text: String) {
        announceAway(nick: nick, text: text, in: memberships.channels(ofRemote: nick), except: [])
    }

    private func announceAway(nick: String, text: String, in channels: [ChatChannel], except holders: Set<UInt64>) {
        var members: [ClientSession] = []
        for channel in channels { members += channel.withState { $0.members.local.sessions } }
        Self.tellAway(nick: nick, text: text, to: members, except: holders)
    }

    /// Sends AWAY_CHANGED once to each of `members` that asked for it, but the `holders` of the nick.
    static func tellAway(nick: String, text: String, to members: [ClientSession], except holders: Set<UInt64>) {
        var audience = SubscriberSet()
        for member in members where member.hello.wantsAwayChanges && !holders.contains(member.id) {
            audience.insert(member)
        }
        guard !audience.isEmpty, let frame = SubscriberSet.encode(.awayChanged(nick: nick, text: text, time: .now()))
        else { return }
        audience.deliver(frame)
    }
}
