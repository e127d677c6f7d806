public import NIOCore

/// Every frame a server sends.
///
/// A request is answered by zero or more result frames carrying its request id, then exactly one `ok` or `error`
/// with the same id (keep-alive aside: a `ping` is answered by a `pong`). Events carry request id 0.
public enum ServerFrame: Sendable, Hashable {
    case ping(token: UInt64)
    case pong(token: UInt64)
    case ok
    case error(ProtocolError)
    case welcome(Welcome)
    case sent(id: UInt64, time: Timestamp)
    case message(ChatMessage)
    case direct(DirectMessage)
    case joined(channel: String, nick: String, time: Timestamp)
    case parted(channel: String, nick: String, reason: String, time: Timestamp)
    case nickChanged(old: String, new: String, time: Timestamp)
    case quitted(nick: String, reason: String, time: Timestamp)
    case topic(channel: String, topic: String, setBy: String, time: Timestamp)
    case notice(String)
    case clientInfo(ClientInfo)
    case channelInfo(ChannelInfo)
    case serverInfo(ServerInfo)
    case helpEntry(name: String, arguments: String, summary: String)
    case text(String)
    /// In the answer to HELLO: connect to this server instead (`HOST:PORT` and its name); error 208 follows.
    case redirect(address: String, server: String)
    /// A step of a SCRAM login: the server-first message, then the server-final one.
    case authData(String)
    /// The session is logged in to this account (after LOGIN, LOGIN_CONTINUE or REGISTER); as an event with no
    /// account, logged out because its account was dropped.
    case loggedIn(account: String)
    /// A channel's modes (`+iks`, the key shown to members only), operators, voiced members and bans, each list
    /// space-separated.
    case channelModes(channel: String, modes: String, operators: String, voiced: String, bans: String)
    /// A channel operator changed a mode (`+i`, `+o ann`, `-b bad*`); to every member.
    case modeChanged(channel: String, by: String, change: String, time: Timestamp)
    /// `nick` was put out of `channel` by `by`; to every member, the kicked one included.
    case kicked(channel: String, nick: String, by: String, reason: String, time: Timestamp)
    /// `by` invites you to `channel`.
    case invited(channel: String, by: String, time: Timestamp)
    /// A client sharing a channel went away (`text`) or came back (empty); only to a HELLO that asked for it.
    case awayChanged(nick: String, text: String, time: Timestamp)
    /// A client sharing a channel logged in to `account`, or out (empty); only to a HELLO that asked (flag bit 2).
    case accountChanged(nick: String, account: String, time: Timestamp)
    /// JOINED with the joiner's account (empty when not logged in), in its place for a HELLO that asked (flag
    /// bit 2), as IRC's extended-join tells it.
    case joinedAccount(channel: String, nick: String, account: String, time: Timestamp)

    public var type: FrameType {
        switch self {
        case .ping: .ping
        case .pong: .pong
        case .ok: .ok
        case .error: .error
        case .welcome: .welcome
        case .sent: .sent
        case .message: .message
        case .direct: .direct
        case .joined: .joined
        case .parted: .parted
        case .nickChanged: .nickChanged
        case .quitted: .quitted
        case .topic: .topic
        case .notice: .notice
        case .clientInfo: .clientInfo
        case .channelInfo: .channelInfo
        case .serverInfo: .serverInfo
        case .helpEntry: .helpEntry
        case .text: .text
        case .redirect: .redirect
        case .authData: .authData
        case .loggedIn: .loggedIn
        case .channelModes: .channelModes
        case .modeChanged: .modeChanged
        case .kicked: .kicked
        case .invited: .invited
        case .awayChanged: .awayChanged
        case .accountChanged: .accountChanged
        case .joinedAccount: .joinedAccount
        }
    }

    /// Appends this frame, with its header, to `buffer`.
    public func encode(requestID: UInt32, into buffer: inout ByteBuffer) throws(ProtocolError) {
        try FrameWriter.write(type, requestID: requestID, into: &buffer) { (w) throws(ProtocolError) in
            switch self {
            case .ping(let token), .pong(let token):
                w.u64(token)
            case .ok:
                break
            case .error(let error):
                w.u16(error.code.rawValue)
                try w.str(error.message, "message")
            case .welcome(let welcome):
                w.u16(welcome.version)
                try w.str(welcome.serverName, "server name")
                try w.str(welcome.serverVersion, "server version")
                try w.str(welcome.nick, "nick")
                try w.str(welcome.address, "address")
                w.time(welcome.connectedAt)
                w.u32(welcome.maxFrameLength)
                try w.text(welcome.welcomeText, "welcome text")
                try w.text(welcome.motd, "motd")
            case .sent(let id, let time):
                w.u64(id)
                w.time(time)
            case .message(let message):
                try w.chatMessage(message)
            case .direct(let message):
                try w.directMessage(message)
            case .joined(let channel, let nick, let time):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                w.time(time)
            case .parted(let channel, let nick, let reason, let time):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                try w.str(reason, "reason")
                w.time(time)
            case .nickChanged(let old, let new, let time):
                try w.str(old, "old nick")
                try w.str(new, "new nick")
                w.time(time)
            case .quitted(let nick, let reason, let time):
                try w.str(nick, "nick")
                try w.str(reason, "reason")
                w.time(time)
            case .awayChanged(let nick, let text, let time):
                try w.str(nick, "nick")
                try w.str(text, "text")
                w.time(time)
            case .accountChanged(let nick, let account, let time):
                try w.str(nick, "nick")
                try w.str(account, "account")
                w.time(time)
            case .joinedAccount(let channel, let nick, let account, let time):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                try w.str(account, "account")
                w.time(time)
            case .topic(let channel, let topic, let setBy, let time):
                try w.str(channel, "channel")
                try w.str(topic, "topic")
                try w.str(setBy, "set by")
                w.time(time)
            case .notice(let text), .text(let text):
                try w.text(text, "text")
            case .clientInfo(let info):
                try w.str(info.nick, "nick")
                try w.str(info.address, "address")
                w.time(info.connectedAt)
                w.u64(info.durationMilliseconds)
                try w.str(info.clientName, "client name")
                try w.str(info.clientVersion, "client version")
                try w.str(info.host, "host")
                w.u32(info.processID)
                try w.str(info.server, "server")
            case .channelInfo(let info):
                try w.str(info.name, "name")
                w.u32(info.members)
                try w.str(info.topic, "topic")
                try w.str(info.topicSetBy, "topic set by")
                w.time(info.topicSetAt)
                w.u64(info.lastMessageID)
            case .serverInfo(let info):
                try w.str(info.name, "name")
                try w.str(info.version, "version")
                try w.str(info.clientAddress, "client address")
                w.u32(info.clients)
                w.u32(info.capacity)
                w.time(info.startedAt)
                w.u8(info.isThisServer ? 1 : 0)
            case .helpEntry(let name, let arguments, let summary):
                try w.str(name, "name")
                try w.str(arguments, "arguments")
                try w.str(summary, "summary")
            case .redirect(let address, let server):
                try w.str(address, "address")
                try w.str(server, "server")
            case .authData(let data):
                try w.str(data, "data")
            case .loggedIn(let account):
                try w.str(account, "account")
            case .channelModes(let channel, let modes, let operators, let voiced, let bans):
                try w.str(channel, "channel")
                try w.str(modes, "modes")
                try w.str(operators, "operators")
                try w.str(voiced, "voiced")
                try w.str(bans, "bans")
            case .modeChanged(let channel, let by, let change, let time):
                try w.str(channel, "channel")
                try w.str(by, "by")
                try w.str(change, "change")
                w.time(time)
            case .kicked(let channel, let nick, let by, let reason, let time):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                try w.str(by, "by")
                try w.str(reason, "reason")
                w.time(time)
            case .invited(let channel, let by, let time):
                try w.str(channel, "channel")
                try w.str(by, "by")
                w.time(time)
            }
        }
    }

    /// Reads a server frame's fields; throws for client-only or unknown types and for any bad field.
    public init(decoding frame: RawFrame) throws(ProtocolError) {
        guard let type = FrameType(rawValue: frame.type), !type.isClientFrame || frame.type <= 0x0F else {
            let hex = String(frame.type, radix: 16, uppercase: true)
            throw ProtocolError(.unknownFrameType, "frame type 0x\(hex) is not a server frame")
        }
        var r = FieldReader(frame.payload, frameType: type.description)
        switch type {
        case .ping: self = .ping(token: try r.u64("token"))
        case .pong: self = .pong(token: try r.u64("token"))
        case .ok: self = .ok
        case .error:
            let raw = try r.u16("code")
            let message = try r.str("message")
            if let code = ErrorCode(rawValue: raw) {
                self = .error(ProtocolError(code, message))
            } else {
                // A newer server's code: keep the text, and the number for whoever reads it.
                self = .error(ProtocolError(.internalError, "\(message) (error code \(raw))"))
            }
        case .welcome:
            self = .welcome(
                Welcome(
                    version: try r.u16("version"), serverName: try r.str("server name"),
                    serverVersion: try r.str("server version"), nick: try r.str("nick"),
                    address: try r.str("address"), connectedAt: try r.time("connected at"),
                    maxFrameLength: try r.u32("max frame"), welcomeText: try r.text("welcome text"),
                    motd: try r.text("motd")))
        case .sent: self = .sent(id: try r.u64("id"), time: try r.time("time"))
        case .message: self = .message(try r.chatMessage())
        case .direct: self = .direct(try r.directMessage())
        case .joined:
            self = .joined(channel: try r.str("channel"), nick: try r.str("nick"), time: try r.time("time"))
        case .parted:
            self = .parted(
                channel: try r.str("channel"), nick: try r.str("nick"), reason: try r.str("reason"),
                time: try r.time("time"))
        case .nickChanged:
            self = .nickChanged(old: try r.str("old nick"), new: try r.str("new nick"), time: try r.time("time"))
        case .quitted:
            self = .quitted(nick: try r.str("nick"), reason: try r.str("reason"), time: try r.time("time"))
        case .topic:
            self = .topic(
                channel: try r.str("channel"), topic: try r.str("topic"), setBy: try r.str("set by"),
                time: try r.time("time"))
        case .notice: self = .notice(try r.text("text"))
        case .clientInfo:
            self = .clientInfo(
                ClientInfo(
                    nick: try r.str("nick"), address: try r.str("address"), connectedAt: try r.time("connected at"),
                    durationMilliseconds: try r.u64("duration"), clientName: try r.str("client name"),
                    clientVersion: try r.str("client version"), host: try r.str("host"),
                    processID: try r.u32("pid"), server: try r.str("server")))
        case .channelInfo:
            self = .channelInfo(
                ChannelInfo(
                    name: try r.str("name"), members: try r.u32("members"), topic: try r.str("topic"),
                    topicSetBy: try r.str("topic set by"), topicSetAt: try r.time("topic set at"),
                    lastMessageID: try r.u64("last message id")))
        case .serverInfo:
            self = .serverInfo(
                ServerInfo(
                    name: try r.str("name"), version: try r.str("version"),
                    clientAddress: try r.str("client address"), clients: try r.u32("clients"),
                    capacity: try r.u32("capacity"), startedAt: try r.time("started at"),
                    isThisServer: try r.u8("flags") & 1 == 1))
        case .helpEntry:
            self = .helpEntry(name: try r.str("name"), arguments: try r.str("arguments"), summary: try r.str("summary"))
        case .text: self = .text(try r.text("text"))
        case .redirect: self = .redirect(address: try r.str("address"), server: try r.str("server"))
        case .authData: self = .authData(try r.str("data"))
        case .loggedIn: self = .loggedIn(account: try r.str("account"))
        case .channelModes:
            self = .channelModes(
                channel: try r.str("channel"), modes: try r.str("modes"), operators: try r.str("operators"),
                voiced: try r.str("voiced"), bans: try r.str("bans"))
        case .modeChanged:
            self = .modeChanged(
                channel: try r.str("channel"), by: try r.str("by"), change: try r.str("change"),
                time: try r.time("time"))
        case .kicked:
            self = .kicked(
                channel: try r.str("channel"), nick: try r.str("nick"), by: try r.str("by"),
                reason: try r.str("reason"), time: try r.time("time"))
        case .invited: self = .invited(channel: try r.str("channel"), by: try r.str("by"), time: try r.time("time"))
        case .awayChanged:
            self = .awayChanged(nick: try r.str("nick"), text: try r.str("text"), time: try r.time("time"))
        case .accountChanged:
            self = .accountChanged(nick: try r.str("nick"), account: try r.str("account"), time: try r.time("time"))
        case .joinedAccount:
            self = .joinedAccount(
                channel: try r.str("channel"), nick: try r.str("nick"), account: try r.str("account"),
                time: try r.time("time"))
        default:
            throw ProtocolError(.unknownFrameType, "frame type \(type) is not a server frame")
        }
        try r.finish()
    }
}
