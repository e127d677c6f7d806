import NIOCore

/// What one client is sent during one `LoopMailbox` drain, handed to its channel as one buffer at the end of it.
///
/// Writing each frame through the channel pipeline costs far more than the frame's bytes do, so frames (encoded
/// once per message) are copied here instead, and the channel sees one write and one flush per client per drain.
/// The channel's write-buffer bound still applies after the handoff; the outbox never holds more than one drain.
///
/// Lives on its client's event loop and is only touched there.
final class Outbox {
    private let channel: any Channel
    private var buffer: ByteBuffer?

    init(channel: any Channel) {
        self.channel = channel
    }

    /// Adds frames; true when the outbox was empty, so the caller knows to flush it once it is done.
    func append(_ frames: ByteBuffer) -> Bool {
        guard var pending = buffer else {
            // The first frames are kept as they are; copying starts with the second, into room for more.
            buffer = frames
            return true
        }
        buffer = nil  // keep `pending` the only reference, so appending does not copy it
        if pending.writableBytes < frames.readableBytes {
            pending.reserveCapacity(minimumWritableBytes: max(frames.readableBytes, 4096))
        }
        pending.writeImmutableBuffer(frames)
        buffer = pending
        return false
    }

    /// Hands everything gathered to the channel.
    func flush() {
        guard let pending = buffer else { return }
        buffer = nil
        channel.writeAndFlush(pending, promise: nil)
    }
}
