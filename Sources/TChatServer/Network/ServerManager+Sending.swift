import NIOCore
import TChatProtocol

/// Frames to linked servers: encoded once, queued on each link.
extension ServerManager {
    static func encode(_ frame: PeerFrame) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        do {
            try frame.encode(into: &buffer)
            return buffer
        } catch {
            return nil
        }
    }

    func send(_ frame: PeerFrame, to channel: any Channel) {
        guard let buffer = Self.encode(frame) else { return }
        channel.writeAndFlush(buffer, promise: nil)
    }

    func send(_ frame: PeerFrame, to serverID: UInt64) {
        guard let peer = peer(serverID) else { return }
        send(frame, to: peer.channel)
    }

    /// Queues a frame for one linked server as `broadcast` does, through a task on the link's loop, so it leaves
    /// in order with what was broadcast before it (a direct message after its author's CLIENT_ADDED, say).
    func post(_ frame: PeerFrame, to serverID: UInt64) {
        guard let peer = peer(serverID), let buffer = Self.encode(frame) else { return }
        let channel = peer.channel
        channel.eventLoop.execute { channel.writeAndFlush(buffer, promise: nil) }
    }

    /// Frames each for some of the linked servers, each encoded once: every server gets its own in order, in one
    /// task on its link's loop with one flush (a committed batch: one write per server, not one per message).
    func send(_ frames: [(frame: PeerFrame, to: [UInt64])]) {
        guard linkCount.load(ordering: .relaxed) > 0 else { return }
        var queued: [UInt64: [ByteBuffer]] = [:]
        for (frame, servers) in frames where !servers.isEmpty {
            guard let buffer = Self.encode(frame) else { continue }
            for server in servers { queued[server, default: []].append(buffer) }
        }
        for (server, buffers) in queued {
            guard let channel = peer(server)?.channel else { continue }
            channel.eventLoop.execute {
                for buffer in buffers { channel.write(buffer, promise: nil) }
                channel.flush()
            }
        }
    }

    /// Encodes once and queues the same bytes for every linked server.
    ///
    /// Always through a task on the link's event loop, even from that loop: tasks run in the order they were queued,
    /// so frames broadcast one after the other (numbered messages, under the channel lock) leave in that order.
    func broadcast(_ frame: PeerFrame, except excluded: UInt64? = nil) {
        // Alone, a message is never encoded for peers.
        guard linkCount.load(ordering: .relaxed) > 0, let buffer = Self.encode(frame) else { return }
        for peer in peers where peer.id != excluded {
            let channel = peer.channel
            channel.eventLoop.execute { channel.writeAndFlush(buffer, promise: nil) }
        }
    }
}
