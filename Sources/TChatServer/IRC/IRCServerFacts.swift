import TChatIRC
import TChatProtocol

/// What an IRC client is told about the server: its names, its limits (ISUPPORT) and how it may log in.
///
/// Fixed per connection when it arrives, like the other limits (a reload changes them for the connections to come).
struct IRCServerFacts: Sendable {
    var serverName: String
    var network: String
    var version: String = TChatVersion.current
    /// When the server started, for 003.
    var startedAt: Timestamp
    /// SASL mechanisms offered: none when the server has no accounts; PLAIN only over TLS.
    var saslMechanisms: [String]
    var maxChannels: Int
    /// What time it is, for TIME: injected so the conversation stays a pure function of its input.
    var now: @Sendable () -> Timestamp = { .now() }

    /// The ISUPPORT tokens (005), every one true of this server.
    var isupport: [String] {
        [
            "AWAYLEN=\(ProtocolLimits.maxAwayBytes)",
            "CASEMAPPING=ascii",
            "CHANLIMIT=#:\(maxChannels)",
            "CHANMODES=b,k,,imst",
            // Names are counted in characters (50) and bytes (200): an ASCII name of 50 always fits.
            "CHANNELLEN=\(ProtocolLimits.maxChannelNameCharacters + 1)",
            "CHANTYPES=#",
            "CHATHISTORY=\(IRCConversation.maxHistoryMessages)",
            "KICKLEN=\(ProtocolLimits.maxReasonBytes)",
            "MAXLIST=b:\(PeerFrameCheck.maxSharedBans)",
            "MAXTARGETS=\(IRCConversation.maxTargets)",
            "MODES=\(IRCConversation.maxModeChanges)",
            "MSGREFTYPES=msgid,timestamp",
            "NETWORK=\(IRCMessage.word(network))",
            "NICKLEN=\(ProtocolLimits.maxNickLength)",
            "PREFIX=(ov)@+",
            "TARGMAX=JOIN:\(IRCConversation.maxTargets),KICK:\(IRCConversation.maxTargets),NOTICE:\(IRCConversation.maxTargets),PART:\(IRCConversation.maxTargets),PRIVMSG:\(IRCConversation.maxTargets)",
            "TOPICLEN=\(ProtocolLimits.maxTopicBytes)",
            "USERLEN=\(IRCConversation.maxUserLength)",
            "WHOX",
        ]
    }
}

extension IRCServerFacts {
    /// The facts of `server` for a connection that came over TLS or not.
    init(server: ServerContext, overTLS: Bool) {
        let configuration = server.configuration
        let hasAccounts = configuration.registration != .off
        self.init(
            serverName: server.servers.name, network: server.servers.name, startedAt: server.servers.startedAt,
            saslMechanisms: hasAccounts ? (overTLS ? ["PLAIN", "SCRAM-SHA-256"] : ["SCRAM-SHA-256"]) : [],
            maxChannels: configuration.maxChannelsPerClient)
    }
}
