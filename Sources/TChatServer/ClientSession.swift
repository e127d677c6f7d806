import NIOCore
import TChatProtocol

/// One connected client as the shared managers see it: who it is and where its bytes go.
///
/// It is immutable, hence safely shared across event loops. Writes go to its `Channel`, which is thread-safe (the
/// rule of NIO's chat example: share `Channel`s, never `ChannelHandlerContext`s).
final class ClientSession: Sendable, Hashable {
    /// Unique for the life of the process; channels and the client table key members by it.
    let id: UInt64
    let channel: any Channel
    /// Where the client connects from, as `HOST:PORT`.
    let address: String
    let connectedAt: Timestamp
    let hello: Hello

    init(id: UInt64, channel: any Channel, address: String, connectedAt: Timestamp, hello: Hello) {
        self.id = id
        self.channel = channel
        self.address = address
        self.connectedAt = connectedAt
        self.hello = hello
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    static func == (lhs: ClientSession, rhs: ClientSession) -> Bool { lhs.id == rhs.id }
    func hash(into hasher: inout Hasher) { hasher.combine(id) }
}
