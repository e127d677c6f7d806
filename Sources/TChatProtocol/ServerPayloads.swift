/// The server's answer to a hello: everything a client shows when it connects.
public struct Welcome: Sendable, Hashable {
    public var version: UInt16
    public var serverName: String
    public var serverVersion: String
    /// The nick granted (as the client spelled it, when free).
    public var nick: String
    /// The client's address as the server sees it (`HOST:PORT`).
    public var address: String
    public var connectedAt: Timestamp
    /// The largest length field the server accepts; bodies must fit inside it.
    public var maxFrameLength: UInt32
    /// The welcome text saved for this nick, or empty.
    public var welcomeText: String
    /// The server's message of the day, or empty.
    public var motd: String

    public init(
        version: UInt16, serverName: String, serverVersion: String, nick: String, address: String,
        connectedAt: Timestamp, maxFrameLength: UInt32, welcomeText: String, motd: String
    ) {
        self.version = version
        self.serverName = serverName
        self.serverVersion = serverVersion
        self.nick = nick
        self.address = address
        self.connectedAt = connectedAt
        self.maxFrameLength = maxFrameLength
        self.welcomeText = welcomeText
        self.motd = motd
    }
}

/// A channel message, live or replayed; `id` increases by one per channel message.
public struct ChatMessage: Sendable, Hashable {
    public var channel: String
    public var id: UInt64
    public var time: Timestamp
    public var from: String
    public var body: MessageBody

    public init(channel: String, id: UInt64, time: Timestamp, from: String, body: MessageBody) {
        self.channel = channel
        self.id = id
        self.time = time
        self.from = from
        self.body = body
    }
}

/// A message from one nick to another; direct messages are relayed, not stored.
public struct DirectMessage: Sendable, Hashable {
    public var from: String
    public var to: String
    public var time: Timestamp
    public var body: MessageBody

    public init(from: String, to: String, time: Timestamp, body: MessageBody) {
        self.from = from
        self.to = to
        self.time = time
        self.body = body
    }
}

/// What the server knows of one connected client.
public struct ClientInfo: Sendable, Hashable {
    public var nick: String
    public var address: String
    public var connectedAt: Timestamp
    /// Milliseconds connected, as of the reply.
    public var durationMilliseconds: UInt64
    public var clientName: String
    public var clientVersion: String
    public var host: String
    public var processID: UInt32
    /// The name of the server the client is connected to.
    public var server: String

    public init(
        nick: String, address: String, connectedAt: Timestamp, durationMilliseconds: UInt64, clientName: String,
        clientVersion: String, host: String, processID: UInt32, server: String
    ) {
        self.nick = nick
        self.address = address
        self.connectedAt = connectedAt
        self.durationMilliseconds = durationMilliseconds
        self.clientName = clientName
        self.clientVersion = clientVersion
        self.host = host
        self.processID = processID
        self.server = server
    }
}

/// A channel's name, size, topic and newest message id.
public struct ChannelInfo: Sendable, Hashable {
    public var name: String
    public var members: UInt32
    public var topic: String
    /// Who set the topic; empty when no topic was ever set.
    public var topicSetBy: String
    public var topicSetAt: Timestamp
    /// The id of the channel's newest message, 0 if none: a reconnecting client asks for what it missed.
    public var lastMessageID: UInt64

    public init(
        name: String, members: UInt32, topic: String, topicSetBy: String, topicSetAt: Timestamp,
        lastMessageID: UInt64
    ) {
        self.name = name
        self.members = members
        self.topic = topic
        self.topicSetBy = topicSetBy
        self.topicSetAt = topicSetAt
        self.lastMessageID = lastMessageID
    }
}

/// One server of the network and its load.
public struct ServerInfo: Sendable, Hashable {
    public var name: String
    public var version: String
    /// Where clients connect to it (`HOST:PORT`).
    public var clientAddress: String
    public var clients: UInt32
    /// Its `--max-clients`.
    public var capacity: UInt32
    public var startedAt: Timestamp
    /// Whether this is the server the reply came from.
    public var isThisServer: Bool

    public init(
        name: String, version: String, clientAddress: String, clients: UInt32, capacity: UInt32,
        startedAt: Timestamp, isThisServer: Bool
    ) {
        self.name = name
        self.version = version
        self.clientAddress = clientAddress
        self.clients = clients
        self.capacity = capacity
        self.startedAt = startedAt
        self.isThisServer = isThisServer
    }
}
