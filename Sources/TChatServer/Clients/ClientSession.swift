import NIOCore
import TChatProtocol

/// One connected client as the shared managers see it: who it is and where its bytes go.
///
/// It is immutable, hence safely shared across event loops (the rule of NIO's chat example: share `Channel`s, never
/// `ChannelHandlerContext`s). Everything sent to the client goes through its loop's `LoopMailbox`.
final class ClientSession: Sendable, Hashable {
    /// Unique for the life of the process; channels and the client table key members by it.
    let id: UInt64
    let channel: any Channel
    /// Where the client connects from, as `HOST:PORT`.
    let address: String
    let connectedAt: Timestamp
    let hello: Hello
    /// Whether it came over TLS: it is sent only to servers whose client port speaks TLS as well.
    let overTLS: Bool
    let outbox: NIOLoopBound<Outbox>
    /// Where channel deliveries for this client's loop gather (one per loop, shared by its clients).
    let mailbox: LoopMailbox

    /// Call on the channel's event loop. Without a `mailbox` the session gets one of its own (unit tests).
    init(
        id: UInt64, channel: any Channel, address: String, connectedAt: Timestamp, hello: Hello,
        overTLS: Bool = false, mailbox: LoopMailbox? = nil
    ) {
        self.id = id
        self.channel = channel
        self.address = address
        self.connectedAt = connectedAt
        self.hello = hello
        self.overTLS = overTLS
        self.outbox = NIOLoopBound(Outbox(channel: channel), eventLoop: channel.eventLoop)
        self.mailbox = mailbox ?? LoopMailbox(loop: channel.eventLoop)
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Queues encoded frames for the client, behind everything already sent to it.
    func send(_ frames: ByteBuffer) {
        mailbox.post(frames, to: [self])
    }

    /// Encodes replies to one request; a frame too large for the wire becomes an ERROR in its place.
    func encode(_ frames: [ServerFrame], requestID: UInt32, capacity: Int = 256) -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: capacity)
        for frame in frames { Self.encode(frame, requestID: requestID, into: &buffer) }
        return buffer
    }

    /// Appends one reply; one too large for the wire becomes an ERROR in its place.
    static func encode(_ frame: ServerFrame, requestID: UInt32, into buffer: inout ByteBuffer) {
        do {
            try frame.encode(requestID: requestID, into: &buffer)
        } catch {
            try? ServerFrame.error(error).encode(requestID: requestID, into: &buffer)
        }
    }

    static func == (lhs: ClientSession, rhs: ClientSession) -> Bool { lhs.id == rhs.id }
    func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

extension ClientSession {
    /// This client as linked servers are told of it.
    func remoteClient(nick: Nick) -> RemoteClient {
        RemoteClient(
            nick: nick.name, address: address, connectedAt: connectedAt, clientName: hello.clientName,
            clientVersion: hello.clientVersion, host: hello.host, processID: hello.processID)
    }
}
