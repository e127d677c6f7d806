import NIOCore
import TChatProtocol

/// Channel operators' requests, and who a client is to a channel's rules.
extension ConnectionHandler {
    /// Who `session` is, for a channel's rules.
    func member(_ session: ClientSession, _ nick: Nick) -> ChannelAccess.Member {
        let account = server.clients.account(of: session)
        var member = ChannelAccess.Member(
            nick: nick.name, account: account,
            accountName: account.flatMap { server.clients.accounts?.account(forKey: $0)?.name })
        member.isServerOperator = viewerIsOperator
        member.session = session.id
        return member
    }

    /// CHANNEL_MODE, KICK and INVITE: the one they name must be connected here.
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
            guard server.servers.peers.isEmpty else {
                throw ProtocolError(
                    .invalidArgument,
                    "channel modes are not shared between linked servers yet: they cannot be changed on a network")
            }
            let named = change.split(separator: " ").dropFirst().first.map(String.init)
            try server.channels.changeMode(
                change, channel: name, by: me, session: session, target: named.flatMap { target(named: $0) })
        case .kick(let channel, let nickText, let reason):
            let name = try ChannelName(validating: channel)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            guard let target = target(named: nickText) else {
                throw ProtocolError(.noSuchNick, "no client is connected here as \(nickText)")
            }
            try server.channels.kick(target, channel: name, by: me, session: session, reason: reason)
        case .invite(let channel, let nickText):
            let name = try ChannelName(validating: channel)
            guard let target = target(named: nickText) else {
                throw ProtocolError(.noSuchNick, "no client is connected here as \(nickText)")
            }
            try server.channels.invite(target, channel: name, by: me, session: session)
        default:
            break
        }
    }

    private func target(named nick: String) -> ChannelManager.Target? {
        guard let session = server.clients.session(named: nick), let current = server.clients.currentNick(of: session)
        else { return nil }
        return ChannelManager.Target(
            session: session, member: member(session, current), companions: server.clients.companions(of: session))
    }
}
