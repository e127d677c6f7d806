import TChatIRC
import TChatProtocol

/// A refused request told as the numeric an IRC client expects for that command, or as a notice where IRC has none.
extension IRCConversation {
    mutating func failed(_ request: IRCPendingRequest, _ error: ProtocolError) {
        let word = IRCMessage.word
        switch request.kind {
        case .hello:
            helloSent = false
            let attempted = word(nick ?? "*")
            switch error.code {
            case .nickInUse, .nickRegistered:
                nick = nil
                numeric(.nicknameInUse, attempted, error.message)
            case .invalidNick:
                nick = nil
                numeric(.erroneousNickname, attempted, error.message)
            default:
                closeLink(error.message)  // the tchat side closes the connection after it
            }
            readHeldLines()
        case .login:
            loginFailed(error)
        case .join(let channel):
            joinFailed(channel: word(channel), error)
        case .namesModes(let channel, _):
            if error.code == .noSuchChannel {
                sendNames(of: channel, members: [])
            } else {
                self.request(.listClients(channel: channel), .names(channel: channel))
            }
        case .names(let channel):
            sendNames(of: channel, members: [])
        case .message(let target, _, let isNotice):
            guard !isNotice else { return }
            switch error.code {
            case .noSuchNick: numeric(.noSuchNick, word(target), error.message)
            case .noSuchChannel, .invalidChannel: numeric(.noSuchChannel, word(target), error.message)
            case .notOnChannel, .cannotSend, .banned: numeric(.cannotSendToChannel, word(target), error.message)
            default: notice("\(word(target)): \(error.message)")
            }
        case .list:
            numeric(.listEnd, "End of /LIST")
            notice(error.message)
        case .who(let mask, _), .whoNick(let mask, _):
            numeric(.endOfWho, word(mask), "End of /WHO list.")
        case .whois(let nick):
            if error.code == .noSuchNick {
                numeric(.noSuchNick, word(nick), "No such nick/channel")
            } else {
                notice(error.message)
            }
            numeric(.endOfWhois, word(nick), "End of /WHOIS list.")
        case .banList(let channel):
            channelFailed(channel: word(channel), error)
            numeric(.endOfBanList, word(channel), "End of channel ban list")
        case .part(let channel, _), .setTopic(let channel, _), .topicQuery(let channel), .modeQuery(let channel),
            .modeChange(let channel), .kick(let channel, _), .invite(_, let channel):
            channelFailed(channel: word(channel), error, about: request.kind)
        case .nick(let new):
            switch error.code {
            case .nickInUse, .nickRegistered: numeric(.nicknameInUse, word(new), error.message)
            case .invalidNick: numeric(.erroneousNickname, word(new), error.message)
            default: notice(error.message)
            }
        case .kill(let nick):
            switch error.code {
            case .notServerOperator: numeric(.noPrivileges, error.message)
            case .noSuchNick: numeric(.noSuchNick, word(nick), error.message)
            default: notice(error.message)
            }
        case .away, .quit, .lusers:
            notice(error.message)
        case .links:
            notice(error.message)
            numeric(.endOfLinks, "*", "End of /LINKS list")
        case .lookup(let group, let index):
            // Nobody holds the nick, or the request was refused (the budget): not on, as far as this reply goes.
            lookupAnswered(group: group, index: index, nick: nil, away: false)
        case .ping(let token):
            send(IRCMessage(source: facts.serverName, "PONG", [facts.serverName, token]))
        case .history(let target, _, _), .historySeek(let target, _):
            var subcommand = "*"
            if case .historySeek(_, let lookup) = request.kind {
                subcommand = lookup.subcommand
                seekingHistory = false
            }
            switch error.code {
            case .noSuchChannel, .notOnChannel, .invalidChannel:
                fail("CHATHISTORY", "INVALID_TARGET", [subcommand, word(target)], error.message)
            default:
                fail("CHATHISTORY", "MESSAGE_ERROR", [subcommand, word(target)], error.message)
            }
            if case .historySeek = request.kind { readHeldLines() }
        }
    }

    private mutating func joinFailed(channel: String, _ error: ProtocolError) {
        switch error.code {
        case .banned: numeric(.bannedFromChannel, channel, error.message)
        case .inviteOnly: numeric(.inviteOnlyChannel, channel, error.message)
        case .badChannelKey: numeric(.badChannelKey, channel, error.message)
        case .invalidChannel: numeric(.badChannelName, channel, error.message)
        case .tooManyChannels: numeric(.tooManyChannels, channel, error.message)
        case .noSuchChannel: numeric(.noSuchChannel, channel, error.message)
        default: notice("\(channel): \(error.message)")
        }
    }

    /// The numerics channel commands share: no such channel, not on it, not an operator, no such nick.
    private mutating func channelFailed(
        channel: String, _ error: ProtocolError, about kind: IRCPendingRequest.Kind? = nil
    ) {
        switch (error.code, kind) {
        case (.noSuchChannel, _), (.invalidChannel, _): numeric(.noSuchChannel, channel, error.message)
        case (.notOnChannel, .kick(_, let nick)?):
            numeric(.userNotInChannel, IRCMessage.word(nick), channel, error.message)
        case (.notOnChannel, _): numeric(.notOnChannel, channel, error.message)
        case (.notChannelOperator, _): numeric(.channelOperatorsOnly, channel, error.message)
        case (.notServerOperator, _): numeric(.noPrivileges, error.message)
        case (.noSuchNick, .invite(let nick, _)?), (.noSuchNick, .kick(_, let nick)?):
            numeric(.noSuchNick, IRCMessage.word(nick), error.message)
        default: notice("\(channel): \(error.message)")
        }
    }
}
