import TChatIRC
import TChatProtocol

/// WHO, WHOIS, WHOWAS, AWAY, KILL, TIME and VERSION.
extension IRCConversation {
    mutating func who(_ message: IRCMessage) {
        let mask = message.params.first ?? "*"
        let query = IRCWhoQuery(parameter: message.params.count > 1 ? message.params[1] : nil)
        if mask.hasPrefix("#") {
            request(.listClients(channel: mask), .who(mask: mask, query: query))
        } else if mask == "*" || mask == "0" || mask.isEmpty || mask.contains("*") || mask.contains("?") {
            // Listing every user of a network is not offered: a mask matches nobody.
            numeric(.endOfWho, IRCMessage.word(mask), "End of /WHO list.")
        } else {
            request(.whois(nick: mask), .whoNick(nick: mask, query: query))
        }
    }

    /// One 352 line, or 354 for WHOX.
    mutating func whoReply(_ entry: IRCWhoQuery.Entry, channel: String, prefix: String, query: IRCWhoQuery) {
        let (code, parameters) = query.reply(entry, channel: channel, prefix: prefix)
        numeric(code, parameters: parameters)
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

    /// LUSERS and LINKS come from tchat's LIST_SERVERS: every server of the network with its clients.
    mutating func lusers() {
        request(.listServers, .lusers)
    }

    mutating func links() {
        request(.listServers, .links)
    }

    /// 251, 255, 265 and 266. tchat has no invisible users and no IRC operators to count; channels are not
    /// counted here (LIST shows them), so 252 to 254 are left out, as servers may.
    mutating func sendUserCounts(_ servers: [ServerInfo]) {
        let global = servers.reduce(0) { $0 + Int($1.clients) }
        let globalMax = servers.reduce(0) { $0 + Int($1.capacity) }
        let here = servers.first { $0.isThisServer }
        let local = Int(here?.clients ?? 0)
        let localMax = Int(here?.capacity ?? 0)
        let count = max(servers.count, 1)
        numeric(.luserClient, "There are \(global) users and 0 invisible on \(count) servers")
        numeric(.luserMe, "I have \(local) clients and \(count - 1) servers")
        numeric(.localUsers, String(local), String(localMax), "Current local users \(local), max \(localMax)")
        numeric(.globalUsers, String(global), String(globalMax), "Current global users \(global), max \(globalMax)")
    }

    /// 364 for each server (this one first, the others one hop away: tchat's servers link each to each), 365.
    mutating func sendLinks(_ servers: [ServerInfo]) {
        let here = servers.first { $0.isThisServer }?.name ?? facts.serverName
        for server in servers.sorted(by: { $0.isThisServer && !$1.isThisServer }) {
            numeric(
                .links, server.name, here,
                "\(server.isThisServer ? 0 : 1) tchatd-\(server.version), clients at \(server.clientAddress)")
        }
        numeric(.endOfLinks, "*", "End of /LINKS list")
    }
}
