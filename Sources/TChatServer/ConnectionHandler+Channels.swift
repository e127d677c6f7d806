import NIOCore
import TChatProtocol

/// Channel operators' requests, and who a client is to a channel's rules.
extension ConnectionHandler {
    /// Who `session` is, for a channel's rules.
    func member(_ session: ClientSession, _ nick: Nick) -> ChannelAccess.Member {
        // The name as the login found it: one lookup, and never the key shown for a name.
        let account = server.clients.loggedIn(session)
        var member = ChannelAccess.Member(nick: nick.name, account: account?.key, accountName: account?.name)
        member.isServerOperator = viewerIsOperator
        member.session = session.id
        return member
    }

    /// CHANNEL_MODE, KICK and INVITE: the one they name is connected here, or is a member from a linked server (whose
    /// server carries out the kick or invitation), or, for `+o`/`-o`, an account.
    func handleChannelRequest(
        _ frame: ClientFrame, session: ClientSession, nick: Nick, requestID id: UInt32
    ) throws {
        let me = member(session, nick)
        switch frame {
        case .channelMode(let channel, let change):
            let name = try ChannelName(validating: channel)
            guard !change.isEmpty else {
                reply(try server.channels.modes(of: name, viewer: session), to: id)
                return
            }
            let named = change.split(separator: " ").dropFirst().first.map(String.init)
            try server.channels.changeMode(
                change, channel: name, by: me, session: session, target: named.flatMap { target(named: $0) },
                absent: named.flatMap { account(named: $0) })
        case .kick(let channel, let nickText, let reason):
            let name = try ChannelName(validating: channel)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            if let target = target(named: nickText) {
                try server.channels.kick(
                    target, channel: name, by: me, session: session, reason: reason,
                    late: { [clients = server.clients] in clients.companions(of: target.session) })
            } else {
                let (serverID, known) = try remote(nickText)
                try server.channels.checkRemoteAction(by: me, session: session, channel: name, member: known)
                server.clients.feed.emit(
                    .record(.kick(channel: name.name, nick: known, by: nick.name, reason: reason), serverID: serverID))
            }
        case .invite(let channel, let nickText):
            let name = try ChannelName(validating: channel)
            if let target = target(named: nickText) {
                try server.channels.invite(target, channel: name, by: me, session: session)
            } else {
                let (serverID, known) = try remote(nickText)
                try server.channels.checkRemoteAction(by: me, session: session, channel: name, member: nil)
                server.clients.feed.emit(
                    .record(.invite(channel: name.name, nick: known, by: nick.name), serverID: serverID))
            }
        default:
            break
        }
    }

    /// A client of a linked server: its server, and its nick as that server names it.
    private func remote(_ nick: String) throws(ProtocolError) -> (UInt64, String) {
        guard case .remote(let serverID, let known)? = server.clients.locate(nick) else {
            throw ProtocolError(.noSuchNick, "no client is connected as \(nick)")
        }
        return (serverID, known)
    }

    /// The account `nick` names, for `+o`/`-o` on someone not here (on another server, or away).
    private func account(named nick: String) -> ChannelAccess.Member? {
        guard let account = server.clients.accounts?.account(forKey: Nick.key(for: nick)) else { return nil }
        return ChannelAccess.Member(nick: nick, account: account.key, accountName: account.name)
    }

    private func target(named nick: String) -> ChannelManager.Target? {
        guard let session = server.clients.session(named: nick), let current = server.clients.currentNick(of: session)
        else { return nil }
        return ChannelManager.Target(
            session: session, member: member(session, current), companions: server.clients.companions(of: session))
    }
}
