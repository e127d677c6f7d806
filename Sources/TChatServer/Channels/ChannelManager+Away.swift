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

    /// A client who is away joined `name` (ours, leaving out its `holders`, or a linked server's): the members
    /// there learn it after its JOINED, as IRC servers tell away-notify clients.
    func announceAway(nick: String, text: String, joining name: ChannelName, except holders: Set<UInt64> = []) {
        guard let channel = directory.channel(name) else { return }
        announceAway(nick: nick, text: text, in: [channel], except: holders)
    }

    private func announceAway(nick: String, text: String, in channels: [ChatChannel], except holders: Set<UInt64>) {
        var audience = SubscriberSet()
        for channel in channels {
            for member in channel.withState({ $0.members.local.sessions })
            where member.hello.wantsAwayChanges && !holders.contains(member.id) {
                audience.insert(member)
            }
        }
        guard !audience.isEmpty, let frame = SubscriberSet.encode(.awayChanged(nick: nick, text: text, time: .now()))
        else { return }
        audience.deliver(frame)
    }
}
