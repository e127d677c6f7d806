import TChatIRC
import TChatProtocol

/// What the tchat server pushes (request id 0), told as IRC sees it happen.
extension IRCConversation {
    mutating func event(_ frame: ServerFrame) {
        switch frame {
        case .ping:
            send(IRCMessage("PING", [facts.serverName]))
        case .message(let message):
            deliver(
                from: message.from, to: message.channel, body: message.body, time: message.time,
                messageID: Self.messageID(channel: message.channel, id: message.id), id: message.id)
        case .direct(let message):
            deliver(from: message.from, to: message.to, body: message.body, time: message.time, messageID: nil)
        case .joined(let channel, let nick, let time):
            // Only a session sharing our nick comes as a plain JOINED to a HELLO that asked for accounts: ours.
            let account = Nick.key(for: nick) == Nick.key(for: currentNick) ? self.account ?? "" : ""
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(nick), "JOIN",
                    joinParameters(channel, account: account)))
        case .joinedAccount(let channel, let nick, let account, let time):
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(nick), "JOIN",
                    joinParameters(channel, account: account)))
        case .loggedIn(let name) where name.isEmpty:
            // Our account was dropped (here, by another of its sessions, or by an operator): logged out.
            guard account != nil else { return }
            account = nil
            numeric(.loggedOut, Self.mask(currentNick), "You are now logged out")
        case .accountChanged(let nick, let account, let time):
            // The HELLO always asks for these, as for AWAY_CHANGED; without account-notify, none.
            guard capabilities.contains(.accountNotify) else { return }
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(nick), "ACCOUNT",
                    [account.isEmpty ? "*" : account]))
        case .parted(let channel, let nick, let reason, let time):
            if Nick.key(for: nick) == Nick.key(for: currentNick) { channels[channel.lowercased()] = nil }
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(nick), "PART",
                    reason.isEmpty ? [channel] : [channel, reason]))
        case .nickChanged(let old, let new, let time):
            if Nick.key(for: old) == Nick.key(for: currentNick) { nick = new }
            send(IRCMessage(tags: messageTags(time: time, messageID: nil), source: Self.mask(old), "NICK", [new]))
        case .quitted(let nick, let reason, let time):
            send(IRCMessage(tags: messageTags(time: time, messageID: nil), source: Self.mask(nick), "QUIT", [reason]))
        case .topic(let channel, let topic, let setBy, let time):
            let key = channel.lowercased()
            channels[key]?.topic = topic
            channels[key]?.topicSetBy = setBy
            channels[key]?.topicSetAt = time
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(setBy), "TOPIC", [channel, topic]))
        case .modeChanged(let channel, let by, let change, let time):
            channels[channel.lowercased()]?.apply(change)
            let words = change.split(separator: " ").map(String.init)
            let arguments = words.count > 1 && words[0].hasSuffix("b") ? [ircBan(words[1])] : Array(words.dropFirst())
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(by), "MODE",
                    [channel] + words.prefix(1) + arguments))
        case .kicked(let channel, let nick, let by, let reason, let time):
            if Nick.key(for: nick) == Nick.key(for: currentNick) { channels[channel.lowercased()] = nil }
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(by), "KICK",
                    [channel, nick, reason]))
        case .awayChanged(let nick, let text, let time):
            // The HELLO always asks for these, so a client may take away-notify at any time; without it, none.
            guard capabilities.contains(.awayNotify) else { return }
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(nick), "AWAY",
                    text.isEmpty ? [] : [text]))
        case .invited(let channel, let by, let time):
            send(
                IRCMessage(
                    tags: messageTags(time: time, messageID: nil), source: Self.mask(by), "INVITE",
                    [currentNick, channel]))
        case .channelInfo(let info):
            // A session come to share its account's nick is in that nick's channels.
            joinedChannel(info)
        case .notice(let text), .text(let text):
            notice(text)
        case .error(let error):
            closeLink(error.message)
        default:
            break
        }
    }

    /// JOIN's parameters: with extended-join, the account (`*`: none) and a real name, which tchat does not pass
    /// between servers, so every joiner's is `tchat`.
    func joinParameters(_ channel: String, account: String) -> [String] {
        guard capabilities.contains(.extendedJoin) else { return [channel] }
        return [channel, account.isEmpty ? "*" : account, "tchat"]
    }

    /// A tchat ban as an IRC mask: `account:NAME` as the extban `$a:NAME`, a nick pattern as `pattern!*@*`.
    func ircBan(_ ban: String) -> String {
        ban.hasPrefix("account:") ? "$a:" + ban.dropFirst("account:".count) : ban + "!*@*"
    }
}
