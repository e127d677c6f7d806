import TChatProtocol

/// A tchat request an IRC command became, waiting for its OK or ERROR, with what its answer has brought so far.
struct IRCPendingRequest {
    enum Kind {
        case hello
        /// A SASL step: LOGIN or LOGIN_CONTINUE.
        case login(final: Bool)
        case join(channel: String)
        /// CHANNEL_MODE's query before LIST_CLIENTS, so that NAMES can show `@` and `+`.
        case namesModes(channel: String, afterJoin: Bool)
        case names(channel: String)
        case part(channel: String, reason: String)
        case message(target: String, text: String, isNotice: Bool)
        case setTopic(channel: String, topic: String)
        case topicQuery(channel: String)
        case list(only: Set<String>?)
        case who(mask: String, query: IRCWhoQuery)
        case whoNick(nick: String, query: IRCWhoQuery)
        case whois(nick: String)
        case modeQuery(channel: String)
        case banList(channel: String)
        case modeChange(channel: String)
        case kick(channel: String, nick: String)
        case invite(nick: String, channel: String)
        case away(text: String)
        case nick(new: String)
        case quit(reason: String)
        case kill(nick: String)
        /// CHATHISTORY: HISTORY's messages, those after `after` kept.
        case history(target: String, after: UInt64, limit: Int)
        /// CHATHISTORY with a timestamp: one message of the search for the ids around it.
        case historySeek(target: String, lookup: IRCHistoryLookup)
        /// A client's PING, passed on so its PONG comes after the answers to what it sent before.
        case ping(token: String)
        /// One nick's WHOIS of an ISON or USERHOST (`IRCLookup`).
        case lookup(group: UInt32, index: Int)
        /// LUSERS and LINKS: the network's servers, with their clients.
        case lusers
        case links
    }

    var kind: Kind
    var welcome: Welcome?
    var channelInfo: ChannelInfo?
    var clientInfo: ClientInfo?
    var awayText: String?
    /// WHOIS's `account: NAME` line.
    var accountName: String?
    var members: [String] = []
    /// WHO's members so far, each with the away text and account that follow its CLIENT_INFO.
    var whoEntries: [IRCWhoQuery.Entry] = []
    var messages: [ChatMessage] = []
    var servers: [ServerInfo] = []
    var found = false
}
