import TChatIRC
import TChatProtocol

/// WHO, WHOIS, WHOWAS, AWAY, KILL, TIME and VERSION.
extension IRCConversation {
    mutating func who(_ message: IRCMessage) {
        let mask = message.params.first ?? "*"
        if mask.hasPrefix("#") {
            request(.listClients(channel: mask), .who(mask: mask))
        } else if mask == "*" || mask == "0" || mask.isEmpty || mask.contains("*") || mask.contains("?") {
            // Listing every user of a network is not offered: a mask matches nobody.
            numeric(.endOfWho, IRCMessage.word(mask), "End of /WHO list.")
        } else {
            request(.whois(nick: mask), .whoNick(nick: mask))
        }
    }

    /// One 352 line.
    mutating func whoReply(channel: String, info: ClientInfo, prefix: String) {
        numeric(
            .whoReply, channel, info.nick, Self.userHost, info.server, info.nick, "H" + prefix,
            "0 " + Self.realName(of: info))
    }

    static func realName(of info: ClientInfo) -> String {
        let name = [info.clientName, info.clientVersion].filter { !$0.isEmpty }.joined(separator: " ")
        return name.isEmpty ? "tchat" : name
    }

    mutating func whois(_ message: IRCMessage) {
        // `WHOIS server nick` asks a server by name; every server here knows every nick.
        let target = message.params.count > 1 ? message.params[1] : message.params[0]
        for nick in Self.targets(target).prefix(1) {
            request(.whois(nick: nick), .whois(nick: nick))
        }
    }

    mutating func whowas(_ message: IRCMessage) {
        let nick = IRCMessage.word(message.params[0])
        numeric(.wasNoSuchNick, nick, "There was no such nickname")
        numeric(.endOfWhowas, nick, "End of WHOWAS")
    }

    mutating func away(_ message: IRCMessage) {
        let text = Self.fitted(message.params.first ?? "", maxBytes: ProtocolLimits.maxAwayBytes)
        request(.setAway(text), .away(text: text))
    }

    mutating func kill(_ message: IRCMessage) {
        let nick = message.params[0]
        let reason = Self.fitted(
            message.params.count > 1 ? message.params[1] : "", maxBytes: ProtocolLimits.maxReasonBytes)
        request(.kill(nick: nick, reason: reason), .kill(nick: nick))
    }

    mutating func version() {
        numeric(.version, "tchatd-\(facts.version).", facts.serverName, "tchat with IRC")
        numeric(.isupport, parameters: Array(facts.isupport.prefix(12)) + ["are supported by this server"])
    }

    mutating func time() {
        numeric(.time, facts.serverName, facts.now().iso8601)
    }
}
