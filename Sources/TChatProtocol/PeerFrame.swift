public import NIOCore

/// What a server says of itself when it links to another.
public struct PeerHello: Sendable, Hashable {
    public var version: UInt16
    /// Random, chosen on a server's first start and kept in its data directory.
    public var serverID: UInt64
    public var name: String
    public var softwareVersion: String
    public var processID: UInt32
    public var host: String
    /// Where clients connect to it.
    public var clientAddress: String
    /// Where other servers connect to it.
    public var peerAddress: String
    public var clients: UInt32
    public var capacity: UInt32
    public var startedAt: Timestamp
    /// Which store it keeps channels and messages in: empty for its own files, else the shared database's
    /// identity. Servers link only when theirs match.
    public var store: String

    public init(
        version: UInt16 = ProtocolVersion.current, serverID: UInt64, name: String, softwareVersion: String,
        processID: UInt32, host: String, clientAddress: String, peerAddress: String, clients: UInt32,
        capacity: UInt32, startedAt: Timestamp, store: String = ""
    ) {
        self.version = version
        self.serverID = serverID
        self.name = name
        self.softwareVersion = softwareVersion
        self.processID = processID
        self.host = host
        self.clientAddress = clientAddress
        self.peerAddress = peerAddress
        self.clients = clients
        self.capacity = capacity
        self.startedAt = startedAt
        self.store = store
    }
}

/// The first frame on a link, from both sides: who the sender says it is and a fresh random nonce, which the other
/// side must answer with a proof that it knows the link secret (LINK_PROOF).
public struct LinkChallenge: Sendable, Hashable {
    /// Bytes in a nonce and in a proof (an HMAC-SHA-256).
    public static let byteCount = 32

    public var version: UInt16
    public var serverID: UInt64
    public var nonce: [UInt8]

    public init(version: UInt16 = ProtocolVersion.current, serverID: UInt64, nonce: [UInt8]) {
        self.version = version
        self.serverID = serverID
        self.nonce = nonce
    }
}

/// A client connected to another server, as that server describes it.
public struct RemoteClient: Sendable, Hashable {
    public var nick: String
    public var address: String
    public var connectedAt: Timestamp
    public var clientName: String
    public var clientVersion: String
    public var host: String
    public var processID: UInt32

    public init(
        nick: String, address: String, connectedAt: Timestamp, clientName: String, clientVersion: String,
        host: String, processID: UInt32
    ) {
        self.nick = nick
        self.address = address
        self.connectedAt = connectedAt
        self.clientName = clientName
        self.clientVersion = clientVersion
        self.host = host
        self.processID = processID
    }
}

/// A server another server knows of: how to link to it.
public struct KnownPeer: Sendable, Hashable {
    public var serverID: UInt64
    public var peerAddress: String

    public init(serverID: UInt64, peerAddress: String) {
        self.serverID = serverID
        self.peerAddress = peerAddress
    }
}

/// The type byte of the peer protocol's frames; they travel on the peer port only.
public enum PeerFrameType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 0x40
    case load = 0x41
    case goodbye = 0x42
    case peers = 0x43
    case clientAdded = 0x44
    case clientRemoved = 0x45
    case clientRenamed = 0x46
    case joined = 0x47
    case parted = 0x48
    case forward = 0x49
    case message = 0x4A
    case direct = 0x4B
    case topic = 0x4C
    case channelState = 0x4D
    case syncRequest = 0x4E
    case linkChallenge = 0x50
    case linkProof = 0x51
    case account = 0x52
    case accountDropped = 0x53
    case serverBan = 0x54
    case serverUnban = 0x55
    case channelAccess = 0x56
    case operators = 0x57
    case kick = 0x58
    case invite = 0x59
    case kill = 0x5A
    case away = 0x5B
    case forwardOnce = 0x5C
    case loggedIn = 0x5D
    /// The client protocol's ERROR frame, which refuses a link (and tells a client that dialled the peer port
    /// by mistake what it reached).
    case error = 0x81

    public var description: String {
        switch self {
        case .hello: "SERVER_HELLO"
        case .load: "LOAD"
        case .goodbye: "GOODBYE"
        case .peers: "PEERS"
        case .clientAdded: "CLIENT_ADDED"
        case .clientRemoved: "CLIENT_REMOVED"
        case .clientRenamed: "CLIENT_RENAMED"
        case .joined: "PEER_JOINED"
        case .parted: "PEER_PARTED"
        case .forward: "FORWARD"
        case .message: "PEER_MESSAGE"
        case .direct: "PEER_DIRECT"
        case .topic: "PEER_TOPIC"
        case .channelState: "CHANNEL_STATE"
        case .syncRequest: "SYNC_REQUEST"
        case .linkChallenge: "LINK_CHALLENGE"
        case .linkProof: "LINK_PROOF"
        case .account: "ACCOUNT"
        case .accountDropped: "ACCOUNT_DROPPED"
        case .serverBan: "PEER_SERVER_BAN"
        case .serverUnban: "PEER_SERVER_UNBAN"
        case .channelAccess: "CHANNEL_ACCESS"
        case .operators: "OPERATORS"
        case .kick: "PEER_KICK"
        case .invite: "PEER_INVITE"
        case .kill: "PEER_KILL"
        case .away: "PEER_AWAY"
        case .forwardOnce: "FORWARD_ONCE"
        case .loggedIn: "PEER_LOGGED_IN"
        case .error: "ERROR"
        }
    }
}

/// Every frame servers send each other. All carry request id 0: the peer protocol has no replies, only
/// announcements, each side acting on what it is told.
public enum PeerFrame: Sendable, Hashable {
    /// The first frame on a link, from both sides.
    case challenge(LinkChallenge)
    /// The answer to the other side's challenge: HMAC-SHA-256 over the handshake (`docs/protocol.md`).
    case proof([UInt8])
    /// The link is refused, and why; the sender closes it.
    case error(ProtocolError)
    /// Once both proofs are checked, from both sides.
    case hello(PeerHello)
    /// The heartbeat, every `--heartbeat` seconds: the sender's current load.
    case load(clients: UInt32, capacity: UInt32)
    /// The link is being closed on purpose.
    case goodbye(reason: String)
    /// Other servers the sender knows: their ids and peer addresses, so that every server links to every other.
    case peers([KnownPeer])
    /// A client of the sender's.
    case clientAdded(RemoteClient)
    case clientRemoved(nick: String, reason: String)
    case clientRenamed(old: String, new: String)
    /// A client of the sender's joined or left a channel.
    case joined(channel: String, nick: String, time: Timestamp)
    case parted(channel: String, nick: String, reason: String, time: Timestamp)
    /// A channel message for the sequencer to number: `seq` counts the sender's forwards, for matching the
    /// numbered message when it comes back and for never numbering one twice.
    case forward(seq: UInt64, channel: String, from: String, body: MessageBody)
    /// FORWARD of a SEND_ONCE, with the sender's key (only with `--store`, whose owner keeps one message per key).
    case forwardOnce(seq: UInt64, channel: String, from: String, key: String, body: MessageBody)
    /// A numbered channel message, from the sequencer to everyone (`origin` and `seq` say whose forward it
    /// answers; 0 and 0 when it is history sent to fill a gap).
    case message(origin: UInt64, seq: UInt64, ChatMessage)
    /// A direct message for a client of the receiver's.
    case direct(DirectMessage)
    case topic(channel: String, topic: String, setBy: String, time: Timestamp)
    /// On linking: the newest message id the sender holds for a channel, so the receiver can ask for what it
    /// lacks (or learn of the channel).
    case channelState(channel: String, lastID: UInt64)
    /// Asks for a channel's messages after `after`, up to `limit`; answered by `.message` frames.
    case syncRequest(channel: String, after: UInt64, limit: UInt32)
    /// Accounts, bans, channel access, operators, and operators' actions across servers (`NetworkRecord`).
    case record(NetworkRecord)

    public var type: PeerFrameType {
        switch self {
        case .challenge: .linkChallenge
        case .proof: .linkProof
        case .error: .error
        case .hello: .hello
        case .load: .load
        case .goodbye: .goodbye
        case .peers: .peers
        case .clientAdded: .clientAdded
        case .clientRemoved: .clientRemoved
        case .clientRenamed: .clientRenamed
        case .joined: .joined
        case .parted: .parted
        case .forward: .forward
        case .forwardOnce: .forwardOnce
        case .message: .message
        case .direct: .direct
        case .topic: .topic
        case .channelState: .channelState
        case .syncRequest: .syncRequest
        case .record(let record): record.type
        }
    }

    /// Appends this frame, with its header (request id 0), to `buffer`.
    public func encode(into buffer: inout ByteBuffer) throws(ProtocolError) {
        try FrameWriter.write(rawType: type.rawValue, requestID: 0, into: &buffer) { (w) throws(ProtocolError) in
            switch self {
            case .challenge(let challenge):
                w.u16(challenge.version)
                w.u64(challenge.serverID)
                guard challenge.nonce.count == LinkChallenge.byteCount else {
                    throw ProtocolError(.malformedFrame, "a nonce is \(LinkChallenge.byteCount) bytes")
                }
                w.bytes(challenge.nonce)
            case .proof(let proof):
                guard proof.count == LinkChallenge.byteCount else {
                    throw ProtocolError(.malformedFrame, "a proof is \(LinkChallenge.byteCount) bytes")
                }
                w.bytes(proof)
            case .error(let error):
                w.u16(error.code.rawValue)
                try w.str(error.message, "message")
            case .hello(let hello):
                w.u16(hello.version)
                w.u64(hello.serverID)
                try w.str(hello.name, "name")
                try w.str(hello.softwareVersion, "software version")
                w.u32(hello.processID)
                try w.str(hello.host, "host")
                try w.str(hello.clientAddress, "client address")
                try w.str(hello.peerAddress, "peer address")
                w.u32(hello.clients)
                w.u32(hello.capacity)
                w.time(hello.startedAt)
                try w.str(hello.store, "store")
            case .load(let clients, let capacity):
                w.u32(clients)
                w.u32(capacity)
            case .goodbye(let reason):
                try w.str(reason, "reason")
            case .peers(let peers):
                w.u16(UInt16(clamping: peers.count))
                for peer in peers.prefix(Int(UInt16.max)) {
                    w.u64(peer.serverID)
                    try w.str(peer.peerAddress, "peer address")
                }
            case .clientAdded(let client):
                try w.str(client.nick, "nick")
                try w.str(client.address, "address")
                w.time(client.connectedAt)
                try w.str(client.clientName, "client name")
                try w.str(client.clientVersion, "client version")
                try w.str(client.host, "host")
                w.u32(client.processID)
            case .clientRemoved(let nick, let reason):
                try w.str(nick, "nick")
                try w.str(reason, "reason")
            case .clientRenamed(let old, let new):
                try w.str(old, "old nick")
                try w.str(new, "new nick")
            case .joined(let channel, let nick, let time):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                w.time(time)
            case .parted(let channel, let nick, let reason, let time):
                try w.str(channel, "channel")
                try w.str(nick, "nick")
                try w.str(reason, "reason")
                w.time(time)
            case .forward(let seq, let channel, let from, let body):
                w.u64(seq)
                try w.str(channel, "channel")
                try w.str(from, "from")
                try w.body(body, "body")
            case .forwardOnce(let seq, let channel, let from, let key, let body):
                w.u64(seq)
                try w.str(channel, "channel")
                try w.str(from, "from")
                try w.str(key, "key")
                try w.body(body, "body")
            case .message(let origin, let seq, let message):
                w.u64(origin)
                w.u64(seq)
                try w.chatMessage(message)
            case .direct(let message):
                try w.directMessage(message)
            case .topic(let channel, let topic, let setBy, let time):
                try w.str(channel, "channel")
                try w.str(topic, "topic")
                try w.str(setBy, "set by")
                w.time(time)
            case .channelState(let channel, let lastID):
                try w.str(channel, "channel")
                w.u64(lastID)
            case .syncRequest(let channel, let after, let limit):
                try w.str(channel, "channel")
                w.u64(after)
                w.u32(limit)
            case .record(let record):
                try record.encode(into: &w)
            }
        }
    }

    /// Reads a peer frame; throws for any other type and for any bad field.
    public init(decoding frame: RawFrame) throws(ProtocolError) {
        guard let type = PeerFrameType(rawValue: frame.type) else {
            let hex = String(frame.type, radix: 16, uppercase: true)
            throw ProtocolError(.unknownFrameType, "frame type 0x\(hex) is not a peer frame")
        }
        var r = FieldReader(frame.payload, frameType: type.description)
        switch type {
        case .linkChallenge:
            self = .challenge(
                LinkChallenge(
                    version: try r.u16("version"), serverID: try r.u64("server id"),
                    nonce: try r.bytes(LinkChallenge.byteCount, "nonce")))
        case .linkProof: self = .proof(try r.bytes(LinkChallenge.byteCount, "proof"))
        case .error:
            let raw = try r.u16("code")
            let message = try r.str("message")
            // A code this build does not know (a newer server's): keep the text, and the number.
            self = .error(
                ErrorCode(rawValue: raw).map { ProtocolError($0, message) }
                    ?? ProtocolError(.linkRefused, "\(message) (error code \(raw))"))
        case .hello:
            self = .hello(
                PeerHello(
                    version: try r.u16("version"), serverID: try r.u64("server id"), name: try r.str("name"),
                    softwareVersion: try r.str("software version"), processID: try r.u32("pid"),
                    host: try r.str("host"), clientAddress: try r.str("client address"),
                    peerAddress: try r.str("peer address"), clients: try r.u32("clients"),
                    capacity: try r.u32("capacity"), startedAt: try r.time("started at"), store: try r.str("store")))
        case .load: self = .load(clients: try r.u32("clients"), capacity: try r.u32("capacity"))
        case .goodbye: self = .goodbye(reason: try r.str("reason"))
        case .peers:
            let count = Int(try r.u16("count"))
            var peers: [KnownPeer] = []
            for _ in 0..<count {
                peers.append(KnownPeer(serverID: try r.u64("server id"), peerAddress: try r.str("peer address")))
            }
            self = .peers(peers)
        case .clientAdded:
            self = .clientAdded(
                RemoteClient(
                    nick: try r.str("nick"), address: try r.str("address"), connectedAt: try r.time("connected at"),
                    clientName: try r.str("client name"), clientVersion: try r.str("client version"),
                    host: try r.str("host"), processID: try r.u32("pid")))
        case .clientRemoved: self = .clientRemoved(nick: try r.str("nick"), reason: try r.str("reason"))
        case .clientRenamed: self = .clientRenamed(old: try r.str("old nick"), new: try r.str("new nick"))
        case .joined:
            self = .joined(channel: try r.str("channel"), nick: try r.str("nick"), time: try r.time("time"))
        case .parted:
            self = .parted(
                channel: try r.str("channel"), nick: try r.str("nick"), reason: try r.str("reason"),
                time: try r.time("time"))
        case .forward:
            self = .forward(
                seq: try r.u64("seq"), channel: try r.str("channel"), from: try r.str("from"), body: try r.body("body"))
        case .forwardOnce:
            self = .forwardOnce(
                seq: try r.u64("seq"), channel: try r.str("channel"), from: try r.str("from"), key: try r.str("key"),
                body: try r.body("body"))
        case .message:
            let origin = try r.u64("origin")
            let seq = try r.u64("seq")
            self = .message(origin: origin, seq: seq, try r.chatMessage())
        case .direct: self = .direct(try r.directMessage())
        case .topic:
            self = .topic(
                channel: try r.str("channel"), topic: try r.str("topic"), setBy: try r.str("set by"),
                time: try r.time("time"))
        case .channelState: self = .channelState(channel: try r.str("channel"), lastID: try r.u64("last id"))
        case .syncRequest:
            self = .syncRequest(channel: try r.str("channel"), after: try r.u64("after"), limit: try r.u32("limit"))
        case .account, .accountDropped, .serverBan, .serverUnban, .channelAccess, .operators, .kick, .invite, .kill,
            .away, .loggedIn:
            self = .record(try NetworkRecord(decoding: type, from: &r))
        }
        try r.finish()
    }
}
