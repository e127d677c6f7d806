public import NIOCore

/// The opening of a session: who is connecting, with what.
public struct Hello: Sendable, Hashable {
    public var version: UInt16
    public var nick: String
    public var clientName: String
    public var clientVersion: String
    public var processID: UInt32
    public var host: String
    /// False when the client has followed enough redirects and wants to stay on this server.
    public var acceptsRedirect: Bool
    /// True when the client wants AWAY_CHANGED for the clients it shares a channel with (flag bit 1): an IRC
    /// client's away-notify. Others never get the frame, so no client meets a type it does not know.
    public var wantsAwayChanges: Bool
    /// True when the client wants ACCOUNT_CHANGED, and JOINED_ACCOUNT in place of JOINED (flag bit 2): an IRC
    /// client's account-notify and extended-join.
    public var wantsAccounts: Bool
    /// True when the client knows notice bodies (content type 3; flag bit 3). Others get a notice as text: an older
    /// client's decoder refuses a type it does not know, and would meet the same message again on reconnecting.
    public var knowsNotices: Bool

    public init(
        version: UInt16 = ProtocolVersion.current, nick: String, clientName: String, clientVersion: String,
        processID: UInt32, host: String, acceptsRedirect: Bool = true, wantsAwayChanges: Bool = false,
        wantsAccounts: Bool = false, knowsNotices: Bool = false
    ) {
        self.version = version
        self.nick = nick
        self.clientName = clientName
        self.clientVersion = clientVersion
        self.processID = processID
        self.host = host
        self.acceptsRedirect = acceptsRedirect
        self.wantsAwayChanges = wantsAwayChanges
        self.wantsAccounts = wantsAccounts
        self.knowsNotices = knowsNotices
    }
}

/// Every frame a client sends, with its fields as read off the wire.
///
/// Fields are only checked as the wire requires (lengths, UTF-8, content type, JSON); what a nick or channel name
/// may be is the server's rule, checked where requests are handled.
public enum ClientFrame: Sendable, Hashable {
    case ping(token: UInt64)
    case pong(token: UInt64)
    case hello(Hello)
    case nick(String)
    case whoami
    /// Join, replaying up to `history` of the channel's latest messages before live ones.
    case join(channel: String, history: UInt16)
    case part(channel: String, reason: String)
    case send(channel: String, body: MessageBody)
    case sendDirect(nick: String, body: MessageBody)
    case listChannels
    case setTopic(channel: String, topic: String)
    /// All clients when `channel` is empty, else that channel's members.
    case listClients(channel: String)
    case whois(nick: String)
    case listServers
    case help
    case reverse(String)
    case setWelcome(String)
    case getWelcome
    /// Up to `limit` messages with ids below `before` (0: the newest), oldest first.
    case history(channel: String, before: UInt64, limit: UInt16)
    case quit(reason: String)
    /// Makes the session's nick an account with this password.
    case register(password: String)
    /// Starts a login: `SCRAM-SHA-256` with the client-first message, or `PLAIN` with `\0account\0password`.
    case login(mechanism: String, data: String)
    /// The client-final message of a SCRAM login.
    case loginContinue(data: String)
    case setPassword(old: String, new: String)
    case dropAccount(password: String)
    /// An empty `change` asks for the modes (answered by CHANNEL_MODES); else one change, as `+i` or `+k key`.
    case channelMode(channel: String, change: String)
    case kick(channel: String, nick: String, reason: String)
    case invite(channel: String, nick: String)
    /// JOIN with the channel's key.
    case joinKeyed(channel: String, key: String, history: UInt16)
    /// Server operators: end a session; ban `account:NAME` or `address:IP` (an empty mask lists the bans); lift a
    /// ban; empty and close a channel.
    case kill(nick: String, reason: String)
    case serverBan(mask: String, reason: String)
    case serverUnban(mask: String)
    case closeChannel(channel: String, reason: String)
    /// Marks the nick away with a reason, or back with an empty one.
    case setAway(String)
    /// SEND with a key of the client's choosing: the store keeps at most one message per channel, sender and key,
    /// and answers a resend with the first one's id, so resending after an unsure answer never doubles a message.
    case sendOnce(channel: String, key: String, body: MessageBody)

    public var type: FrameType {
        switch self {
        case .ping: .ping
        case .pong: .pong
        case .hello: .hello
        case .nick: .nick
        case .whoami: .whoami
        case .join: .join
        case .part: .part
        case .send: .send
        case .sendDirect: .sendDirect
        case .listChannels: .listChannels
        case .setTopic: .setTopic
        case .listClients: .listClients
        case .whois: .whois
        case .listServers: .listServers
        case .help: .help
        case .reverse: .reverse
        case .setWelcome: .setWelcome
        case .getWelcome: .getWelcome
        case .history: .history
        case .quit: .quit
        case .register: .register
        case .login: .login
        case .loginContinue: .loginContinue
        case .setPassword: .setPassword
        case .dropAccount: .dropAccount
        case .channelMode: .channelMode
        case .kick: .kick
        case .invite: .invite
        case .joinKeyed: .joinKeyed
        case .kill: .kill
        case .serverBan: .serverBan
        case .serverUnban: .serverUnban
        case .closeChannel: .closeChannel
        case .setAway: .setAway
        case .sendOnce: .sendOnce
        }
    }

    /// Appends this frame, with its header, to `buffer`.
    public func encode(requestID: UInt32, into buffer: inout ByteBuffer) throws(ProtocolError) {
        try FrameWriter.write(type, requestID: requestID, into: &buffer) { (w) throws(ProtocolError) in
            switch self {
            case .ping(let token), .pong(let token):
                w.u64(token)
            case .hello(let hello):
                w.u16(hello.version)
                try w.str(hello.nick, "nick")
                try w.str(hello.clientName, "client name")
                try w.str(hello.clientVersion, "client version")
                w.u32(hello.processID)
                try w.str(hello.host, "host")
                let flags = [!hello.acceptsRedirect, hello.wantsAwayChanges, hello.wantsAccounts, hello.knowsNotices]
                w.u8(flags.enumerated().reduce(0) { $0 | ($1.element ? 1 << $1.offset : 0) })
            case .nick(let nick), .whois(let nick):
                try w.str(nick, "nick")
            case .whoami, .listChannels, .listServers, .help, .getWelcome:
                break
            case .join(let channel, let history):
                try w.str(channel, "channel")
                w.u16(history)
            case .part(let channel, let reason):
                try w.str(channel, "channel")
                try w.str(reason, "reason")
            case .send(let channel, let body):
                try w.str(channel, "channel")
                try w.body(body, "body")
            case .sendDirect(let nick, let body):
                try w.str(nick, "nick")
                try w.body(body, "body")
            case .setTopic(let channel, let topic):
                try w.str(channel, "channel")
                try w.str(topic, "topic")
            case .listClients(let channel):
                try w.str(channel, "channel")
            case .reverse(let text), .setWelcome(let text):
                try w.text(text, "text")
            case .history(let channel, let before, let limit):
                try w.str(channel, "channel")
                w.u64(before)
                w.u16(limit)
            case .quit(let reason):
                try w.str(reason, "reason")
            case .register(let password), .dropAccount(let password):
                try w.str(password, "password")
            case .login(let mechanism, let data):
                try w.str(mechanism, "mechanism")
                try w.str(data, "data")
            case .loginContinue(let data):
                try w.str(data, "data")
            case .setPassword(let old, let new):
                try w.str(old, "old password")
                try w.str(new, "new password")
            case .channelMode(let channel, let change):
                try w.str(channel, "channel")
                try w.str(change, "change")
            case .kick(let channel, let nick, let reason):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                try w.str(reason, "reason")
            case .invite(let channel, let nick):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
            case .joinKeyed(let channel, let key, let history):
                try w.str(channel, "channel")
                try w.str(key, "key")
                w.u16(history)
            case .kill(let nick, let reason):
                try w.str(nick, "nick")
                try w.str(reason, "reason")
            case .serverBan(let mask, let reason):
                try w.str(mask, "mask")
                try w.str(reason, "reason")
            case .serverUnban(let mask):
                try w.str(mask, "mask")
            case .closeChannel(let channel, let reason):
                try w.str(channel, "channel")
                try w.str(reason, "reason")
            case .setAway(let text):
                try w.str(text, "text")
            case .sendOnce(let channel, let key, let body):
                try w.str(channel, "channel")
                try w.str(key, "key")
                try w.body(body, "body")
            }
        }
    }

    /// Reads a client frame's fields; throws for server-only or unknown types and for any bad field.
    public init(decoding frame: RawFrame) throws(ProtocolError) {
        guard let type = FrameType(rawValue: frame.type), type.isClientFrame else {
            let hex = String(frame.type, radix: 16, uppercase: true)
            throw ProtocolError(.unknownFrameType, "frame type 0x\(hex) is not a client request")
        }
        var r = FieldReader(frame.payload, frameType: type.description)
        switch type {
        case .ping: self = .ping(token: try r.u64("token"))
        case .pong: self = .pong(token: try r.u64("token"))
        case .hello:
            let (version, nick, clientName) = (try r.u16("version"), try r.str("nick"), try r.str("client name"))
            let (clientVersion, processID, host) = (try r.str("client version"), try r.u32("pid"), try r.str("host"))
            let flags = try r.u8("flags")
            self = .hello(
                Hello(
                    version: version, nick: nick, clientName: clientName, clientVersion: clientVersion,
                    processID: processID, host: host, acceptsRedirect: flags & 1 == 0,
                    wantsAwayChanges: flags & 2 != 0, wantsAccounts: flags & 4 != 0, knowsNotices: flags & 8 != 0))
        case .nick: self = .nick(try r.str("nick"))
        case .whoami: self = .whoami
        case .join: self = .join(channel: try r.str("channel"), history: try r.u16("history"))
        case .part: self = .part(channel: try r.str("channel"), reason: try r.str("reason"))
        case .send: self = .send(channel: try r.str("channel"), body: try r.body("body"))
        case .sendDirect: self = .sendDirect(nick: try r.str("nick"), body: try r.body("body"))
        case .listChannels: self = .listChannels
        case .setTopic: self = .setTopic(channel: try r.str("channel"), topic: try r.str("topic"))
        case .listClients: self = .listClients(channel: try r.str("channel"))
        case .whois: self = .whois(nick: try r.str("nick"))
        case .listServers: self = .listServers
        case .help: self = .help
        case .reverse: self = .reverse(try r.text("text"))
        case .setWelcome: self = .setWelcome(try r.text("text"))
        case .getWelcome: self = .getWelcome
        case .history:
            self = .history(channel: try r.str("channel"), before: try r.u64("before"), limit: try r.u16("limit"))
        case .quit: self = .quit(reason: try r.str("reason"))
        case .register: self = .register(password: try r.str("password"))
        case .login: self = .login(mechanism: try r.str("mechanism"), data: try r.str("data"))
        case .loginContinue: self = .loginContinue(data: try r.str("data"))
        case .setPassword: self = .setPassword(old: try r.str("old password"), new: try r.str("new password"))
        case .dropAccount: self = .dropAccount(password: try r.str("password"))
        case .channelMode: self = .channelMode(channel: try r.str("channel"), change: try r.str("change"))
        case .kick: self = .kick(channel: try r.str("channel"), nick: try r.str("nick"), reason: try r.str("reason"))
        case .invite: self = .invite(channel: try r.str("channel"), nick: try r.str("nick"))
        case .joinKeyed:
            self = .joinKeyed(channel: try r.str("channel"), key: try r.str("key"), history: try r.u16("history"))
        case .kill: self = .kill(nick: try r.str("nick"), reason: try r.str("reason"))
        case .serverBan: self = .serverBan(mask: try r.str("mask"), reason: try r.str("reason"))
        case .serverUnban: self = .serverUnban(mask: try r.str("mask"))
        case .closeChannel: self = .closeChannel(channel: try r.str("channel"), reason: try r.str("reason"))
        case .setAway: self = .setAway(try r.str("text"))
        case .sendOnce:
            self = .sendOnce(channel: try r.str("channel"), key: try r.str("key"), body: try r.body("body"))
        default:
            throw ProtocolError(.unknownFrameType, "frame type \(type) is not a client request")
        }
        try r.finish()
    }
}
