import TChatProtocol

/// AWAY_CHANGED, for the clients whose HELLO asked for it (an IRC client's away-notify): whoever shares a channel
/// with a client that went away or came back hears it once, whichever server of the network that client is on.
extension ChannelManager {
    /// A client of ours went away or came back; neither it nor the `companions` sharing its nick hear of it.
    func announceAway(of session: ClientSession, nick: String, text: String, companions: [ClientSession]) {
        let holders = Set(companions.map(\.id)).union([session.id])
        announceAway(nick: nick, text: text, in: memberships.channels(of: session), except: holders)
    }

    /// A linked server's client went away or came back.
    func announceRemoteAway(nick: String, text: String) {
        announceAway(nick: nick, text: text, in: memberships.channels(ofRemote: nick), except: [])
    }

    /// A client of ours who is away joined `name`: the members there, but its `holders`, learn it after its JOINED,
    /// as IRC servers tell away-notify clients. (A linked server's client is told of in `remoteJoin`.)
    func announceAway(nick: String, text: String, joining name: ChannelName, except holders: Set<UInt64>) {
        guard let channel = directory.channel(name) else { return }
        announceAway(nick: nick, text: text, in: [channel], except: holders)
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
