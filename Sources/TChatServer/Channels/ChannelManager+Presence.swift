import NIOCore
import TChatProtocol

/// What channel-mates learn of each other for the clients whose HELLO asked (an IRC client's away-notify,
/// account-notify and extended-join): AWAY_CHANGED when a client goes away or comes back, ACCOUNT_CHANGED when it
/// logs in or out, JOINED_ACCOUNT in place of JOINED. Whoever shares a channel with that client hears it once,
/// whichever server of the network the client is on.
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
        announce(.awayChanged(nick: nick, text: text, time: .now()), in: channels, except: holders)
    }

    /// A linked server's client went away or came back.
    func announceRemoteAway(nick: String, text: String) {
        announce(.awayChanged(nick: nick, text: text, time: .now()), in: memberships.channels(ofRemote: nick))
    }

    /// A nick of ours logged in or out: the members of its channels (or of `joining`, which it joined with another
    /// account than it has now) learn it, but the sessions holding it.
    func announceAccount(_ change: ClientManager.AccountChange, joining name: ChannelName? = nil) {
        guard let first = change.holders.first else { return }
        let channels = name.map { directory.channel($0).map { [$0] } ?? [] } ?? memberships.channels(of: first)
        announce(
            .accountChanged(nick: change.nick, account: change.account, time: .now()), in: channels,
            except: Set(change.holders.map(\.id)))
    }

    /// A linked server's client logged in or out.
    func announceRemoteAccount(nick: String, account: String) {
        announce(
            .accountChanged(nick: nick, account: account, time: .now()), in: memberships.channels(ofRemote: nick))
    }

    private func announce(_ event: ServerFrame, in channels: [ChatChannel], except holders: Set<UInt64> = []) {
        var members: [ClientSession] = []
        for channel in channels { members += channel.withState { $0.members.local.sessions } }
        Self.tell(event, to: members, except: holders)
    }

    /// Sends a presence event (AWAY_CHANGED, ACCOUNT_CHANGED) once to each of `members` that asked for it, but the
    /// `holders` of the nick.
    static func tell(_ event: ServerFrame, to members: [ClientSession], except holders: Set<UInt64> = []) {
        var audience = SubscriberSet()
        for member in members where wants(event, member.hello) && !holders.contains(member.id) {
            audience.insert(member)
        }
        guard !audience.isEmpty, let frame = SubscriberSet.encode(event) else { return }
        audience.deliver(frame)
    }

    private static func wants(_ event: ServerFrame, _ hello: Hello) -> Bool {
        if case .awayChanged = event { return hello.wantsAwayChanges }
        return hello.wantsAccounts
    }

    /// Tells `members` (but `excluded`) that `nick` joined: JOINED_ACCOUNT, with the joiner's account, to those
    /// who asked, JOINED to the others. A channel where nobody asked costs what JOINED alone did.
    static func tellJoined(
        channel: String, nick: String, account: String, time: Timestamp, to members: SubscriberSet,
        excluding excluded: UInt64? = nil
    ) {
        let plain = SubscriberSet.encode(.joined(channel: channel, nick: nick, time: time))
        let sessions = members.sessions
        guard sessions.contains(where: { $0.hello.wantsAccounts && $0.id != excluded }) else {
            if let plain { members.deliver(plain, excluding: excluded) }
            return
        }
        var asked = SubscriberSet()
        var others = SubscriberSet()
        for session in sessions where session.id != excluded {
            if session.hello.wantsAccounts { asked.insert(session) } else { others.insert(session) }
        }
        if let plain { others.deliver(plain) }
        let extended = ServerFrame.joinedAccount(channel: channel, nick: nick, account: account, time: time)
        if let frame = SubscriberSet.encode(extended) { asked.deliver(frame) }
    }
}
