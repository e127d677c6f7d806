/// The type byte of every frame, in both directions.
///
/// `0x01`–`0x0F` travel both ways, `0x10`–`0x7F` are a client's requests, `0x80`–`0xFF` are what a server sends.
/// `docs/protocol.md` gives each one's fields byte by byte.
public enum FrameType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case ping = 0x01
    case pong = 0x02

    case hello = 0x10
    case nick = 0x11
    case whoami = 0x12
    case join = 0x13
    case part = 0x14
    case send = 0x15
    case sendDirect = 0x16
    case listChannels = 0x17
    case setTopic = 0x18
    case listClients = 0x19
    case whois = 0x1A
    case listServers = 0x1B
    case help = 0x1C
    case reverse = 0x1D
    case setWelcome = 0x1E
    case getWelcome = 0x1F
    case history = 0x20
    case quit = 0x21
    case register = 0x22
    case login = 0x23
    case loginContinue = 0x24
    case setPassword = 0x25
    case dropAccount = 0x26
    case channelMode = 0x27
    case kick = 0x28
    case invite = 0x29
    case joinKeyed = 0x2A
    case kill = 0x2B
    case serverBan = 0x2C
    case serverUnban = 0x2D
    case closeChannel = 0x2E
    case setAway = 0x2F
    case sendOnce = 0x30

    case ok = 0x80
    case error = 0x81
    case welcome = 0x82
    case sent = 0x83
    case message = 0x84
    case direct = 0x85
    case joined = 0x86
    case parted = 0x87
    case nickChanged = 0x88
    case quitted = 0x89
    case topic = 0x8A
    case notice = 0x8B
    case clientInfo = 0x90
    case channelInfo = 0x91
    case serverInfo = 0x92
    case helpEntry = 0x93
    case text = 0x94
    case redirect = 0x95
    case authData = 0x96
    case loggedIn = 0x97
    case channelModes = 0x98
    case modeChanged = 0x99
    case kicked = 0x9A
    case invited = 0x9B
    case awayChanged = 0x9C
    case accountChanged = 0x9D
    case joinedAccount = 0x9E

    /// The upper-case name the spec and `help` use.
    public var description: String {
        switch self {
        case .ping: "PING"
        case .pong: "PONG"
        case .hello: "HELLO"
        case .nick: "NICK"
        case .whoami: "WHOAMI"
        case .join: "JOIN"
        case .part: "PART"
        case .send: "SEND"
        case .sendDirect: "SEND_DIRECT"
        case .listChannels: "LIST_CHANNELS"
        case .setTopic: "SET_TOPIC"
        case .listClients: "LIST_CLIENTS"
        case .whois: "WHOIS"
        case .listServers: "LIST_SERVERS"
        case .help: "HELP"
        case .reverse: "REVERSE"
        case .setWelcome: "SET_WELCOME"
        case .getWelcome: "GET_WELCOME"
        case .history: "HISTORY"
        case .quit: "QUIT"
        case .register: "REGISTER"
        case .login: "LOGIN"
        case .loginContinue: "LOGIN_CONTINUE"
        case .setPassword: "SET_PASSWORD"
        case .dropAccount: "DROP_ACCOUNT"
        case .channelMode: "CHANNEL_MODE"
        case .kick: "KICK"
        case .invite: "INVITE"
        case .joinKeyed: "JOIN_KEYED"
        case .kill: "KILL"
        case .serverBan: "SERVER_BAN"
        case .serverUnban: "SERVER_UNBAN"
        case .closeChannel: "CLOSE_CHANNEL"
        case .setAway: "SET_AWAY"
        case .sendOnce: "SEND_ONCE"
        case .ok: "OK"
        case .error: "ERROR"
        case .welcome: "WELCOME"
        case .sent: "SENT"
        case .message: "MESSAGE"
        case .direct: "DIRECT"
        case .joined: "JOINED"
        case .parted: "PARTED"
        case .nickChanged: "NICK_CHANGED"
        case .quitted: "QUITTED"
        case .topic: "TOPIC"
        case .notice: "NOTICE"
        case .clientInfo: "CLIENT_INFO"
        case .channelInfo: "CHANNEL_INFO"
        case .serverInfo: "SERVER_INFO"
        case .helpEntry: "HELP_ENTRY"
        case .text: "TEXT"
        case .redirect: "REDIRECT"
        case .authData: "AUTH_DATA"
        case .loggedIn: "LOGGED_IN"
        case .channelModes: "CHANNEL_MODES"
        case .modeChanged: "MODE_CHANGED"
        case .kicked: "KICKED"
        case .invited: "INVITED"
        case .awayChanged: "AWAY_CHANGED"
        case .accountChanged: "ACCOUNT_CHANGED"
        case .joinedAccount: "JOINED_ACCOUNT"
        }
    }

    /// Whether a client may send this type.
    public var isClientFrame: Bool { rawValue < 0x80 }

    /// The requests a client can make, in the order `help` lists them.
    public static var requests: [FrameType] { allCases.filter { $0.isClientFrame } }

    /// One line per request for the `help` reply: its arguments and what it does.
    public var usage: (arguments: String, summary: String) {
        switch self {
        case .ping: ("token", "check the connection; answered by PONG with the same token")
        case .pong: ("token", "answer a PING from the server")
        case .hello: ("version nick client version pid host flags", "open the session; answered by WELCOME")
        case .nick: ("nick", "change your nick (unique, case-insensitive)")
        case .whoami: ("", "your own nick, address, connect time and duration")
        case .join: ("channel history", "join a channel (created on first join), replaying its last messages")
        case .part: ("channel reason", "leave a channel")
        case .send: ("channel body", "send a text or JSON message to a channel")
        case .sendDirect: ("nick body", "send a text or JSON message to one nick")
        case .listChannels: ("", "every channel with its member count and topic")
        case .setTopic: ("channel topic", "set a channel's topic")
        case .listClients: ("[channel]", "connected clients, all or one channel's")
        case .whois: ("nick", "what the server knows of a connected nick")
        case .listServers: ("", "the servers of this network and their load")
        case .help: ("", "this list")
        case .reverse: ("text", "the text reversed, by user-perceived characters")
        case .setWelcome: ("text", "the welcome text shown in your nick's next welcome")
        case .getWelcome: ("", "your nick's welcome text")
        case .history: ("channel before limit", "older messages of a channel, before a message id")
        case .quit: ("reason", "end the session")
        case .register: ("password", "register your nick as an account (over TLS or on this host only)")
        case .login: ("mechanism data", "log in: SCRAM-SHA-256, or PLAIN over TLS; answered by AUTH_DATA or LOGGED_IN")
        case .loginContinue: ("data", "the next step of a SCRAM-SHA-256 login")
        case .setPassword: ("old new", "change your account's password (over TLS or on this host only)")
        case .dropAccount: ("password", "delete your account; your nick is free again")
        case .channelMode:
            ("channel change", "show a channel's modes (empty change), or change one: +i +k key +s +t +m +o +v +b")
        case .kick: ("channel nick reason", "put a member out of a channel (channel operators)")
        case .invite: ("channel nick", "let a nick into an invite-only channel (channel operators)")
        case .joinKeyed: ("channel key history", "join a channel that has a key")
        case .kill: ("nick reason", "end a client's session (server operators)")
        case .serverBan:
            ("mask reason", "ban account:NAME or address:IP from the server, or list bans (server operators)")
        case .serverUnban: ("mask", "lift a server ban (server operators)")
        case .closeChannel: ("channel reason", "put everyone out of a channel and close it (server operators)")
        case .setAway: ("text", "say you are away (shown in WHOIS and to who writes to you); empty: back")
        case .sendOnce:
            ("channel key body", "SEND, stored once per key: a resend gets the first one's id (servers with --store)")
        default: ("", "")
        }
    }
}
