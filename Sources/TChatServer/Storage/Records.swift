import TChatProtocol

/// One line of a channel's history file.
///
/// The body is always kept as a JSON string, even for JSON bodies, so the exact bytes a client sent come back
/// unchanged; `jq '.body | fromjson'` opens a JSON body.
struct MessageRecord: Codable, Sendable, Equatable {
    var id: UInt64
    var time: String
    var from: String
    var type: String
    var body: String

    init(_ message: ChatMessage) {
        id = message.id
        time = message.time.iso8601
        from = message.from
        type = message.body.contentType.description
        body = message.body.text
    }

    /// Appends the line as written to disk, newline included (same keys and order as the `Codable` form), to a
    /// batch's bytes, with no array of its own.
    static func appendLine(for message: ChatMessage, to bytes: inout [UInt8]) {
        var taken: [UInt8] = []
        swap(&taken, &bytes)
        var writer = JSONLineWriter(continuing: consume taken)
        writer.field("id", message.id)
        writer.field("time", message.time)
        writer.field("from", message.from)
        writer.field("type", message.body.contentType.description)
        writer.field("body", message.body.text)
        bytes = writer.finish()
    }

    /// The message this line records, or nil when a field holds something no server writes.
    func message(channel: String) -> ChatMessage? {
        guard let time = Timestamp(iso8601: time) else { return nil }
        let contentType: ContentType
        switch type {
        case "text": contentType = .text
        case "json": contentType = .json
        case "action": contentType = .action
        case "notice": contentType = .notice
        default: return nil
        }
        return ChatMessage(channel: channel, id: id, time: time, from: from, body: MessageBody(contentType, body))
    }
}

/// One line of `clients.jsonl`: a finished connection.
package struct ConnectionRecord: Codable, Sendable, Equatable {
    var nick: String
    var address: String
    var connected: String
    var disconnected: String
    var durationMs: UInt64
    var client: String
    var clientVersion: String
    var host: String
    var pid: UInt32
    var reason: String
}

/// What `nicks.json` keeps of a nick across connections.
///
/// The times are held as numbers and written as ISO 8601 text: one record lives for every nick ever seen, and two
/// times as text cost about 130 bytes of heap each.
package struct NickRecord: Codable, Sendable, Equatable {
    /// The nick as last spelled.
    var nick: String
    var welcome: String
    var firstSeen: Timestamp
    var lastSeen: Timestamp
    var connections: UInt64
    var connectedMs: UInt64

    init(
        nick: String, welcome: String, firstSeen: Timestamp, lastSeen: Timestamp, connections: UInt64,
        connectedMs: UInt64
    ) {
        self.nick = nick
        self.welcome = welcome
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.connections = connections
        self.connectedMs = connectedMs
    }

    private enum CodingKeys: String, CodingKey {
        case nick, welcome, firstSeen, lastSeen, connections, connectedMs
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nick = try container.decode(String.self, forKey: .nick)
        welcome = try container.decode(String.self, forKey: .welcome)
        firstSeen = try Self.time(.firstSeen, in: container)
        lastSeen = try Self.time(.lastSeen, in: container)
        connections = try container.decode(UInt64.self, forKey: .connections)
        connectedMs = try container.decode(UInt64.self, forKey: .connectedMs)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(nick, forKey: .nick)
        try container.encode(welcome, forKey: .welcome)
        try container.encode(firstSeen.iso8601, forKey: .firstSeen)
        try container.encode(lastSeen.iso8601, forKey: .lastSeen)
        try container.encode(connections, forKey: .connections)
        try container.encode(connectedMs, forKey: .connectedMs)
    }

    private static func time(_ key: CodingKeys, in container: KeyedDecodingContainer<CodingKeys>) throws -> Timestamp {
        let text = try container.decode(String.self, forKey: key)
        guard let time = Timestamp(iso8601: text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "\"\(text)\" is not a time like 2026-01-31T12:00:00.000Z")
        }
        return time
    }
}

/// The whole of `nicks.json`.
package struct NicksFile: Codable, Sendable {
    var version: Int
    var nicks: [NickRecord]
    /// The number of the last journal line this file holds (`MetadataJournal`); absent before the journal.
    var journal: UInt64?
}

/// What `channels.json` keeps of a channel; its messages are in `channels/<file>`.
package struct ChannelRecord: Codable, Sendable, Equatable {
    package var name: String
    package var file: String
    package var created: String
    package var topic: String
    package var topicBy: String
    package var topicTime: String
    /// The channel's access, absent for an open channel nobody operates (and in files from before accounts).
    package var modes: String?
    package var key: String?
    /// Account names (a voiced member without an account: its nick).
    package var operators: [String]?
    package var voiced: [String]?
    package var bans: [String]?
    /// Its operators' accounts are gone: only a server operator gives it a new one.
    package var orphaned: Bool?
    /// When the access above last changed (ISO 8601), to keep the newer of two linked servers' copies.
    package var accessTime: String?
    /// When the channel whose rules these are was made, when not this one (`ChannelAccess.origin`).
    package var accessOrigin: String?

    package init(
        name: String, file: String, created: String, topic: String = "", topicBy: String = "", topicTime: String = "",
        modes: String? = nil, key: String? = nil, operators: [String]? = nil, voiced: [String]? = nil,
        bans: [String]? = nil, orphaned: Bool? = nil, accessTime: String? = nil, accessOrigin: String? = nil
    ) {
        self.name = name
        self.file = file
        self.created = created
        self.topic = topic
        self.topicBy = topicBy
        self.topicTime = topicTime
        self.modes = modes
        self.key = key
        self.operators = operators
        self.voiced = voiced
        self.bans = bans
        self.orphaned = orphaned
        self.accessTime = accessTime
        self.accessOrigin = accessOrigin
    }
}

/// The whole of `channels.json`.
package struct ChannelsFile: Codable, Sendable {
    var version: Int
    package var channels: [ChannelRecord]
    /// The number of the last journal line this file holds (`MetadataJournal`); absent before the journal.
    var journal: UInt64?
}
