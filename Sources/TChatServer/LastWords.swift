import NIOCore

/// How long a last frame (why a connection ends) may take to leave before the connection is closed without it.
///
/// Closing only once the write completes would let a peer that reads nothing keep the connection open, and so
/// would a TLS connection whose handshake never finished, where nothing written can ever leave.
enum LastWords {
    static let deadline: TimeAmount = .seconds(2)
}

extension Channel {
    /// Writes a last frame and closes: once it is written, or after `LastWords.deadline` at the latest.
    func writeLastWords(_ buffer: ByteBuffer) {
        let channel = self
        let deadline = eventLoop.scheduleTask(in: LastWords.deadline) { channel.close(promise: nil) }
        writeAndFlush(buffer).whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }
}

extension ChannelHandlerContext {
    /// `Channel.writeLastWords` from this handler's place in the pipeline: what is written passes only the
    /// handlers in front of it (a plaintext refusal written in front of the TLS handler stays plaintext).
    func writeLastWords(_ buffer: ByteBuffer) {
        let channel = self.channel
        let deadline = eventLoop.scheduleTask(in: LastWords.deadline) { channel.close(promise: nil) }
        writeAndFlush(NIOAny(buffer)).whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }
}
