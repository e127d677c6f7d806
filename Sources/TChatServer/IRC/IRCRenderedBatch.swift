import NIOCore

/// The IRC lines of the last run of channel messages a loop's drain handed its IRC clients, one per tag variant.
///
/// A drain joins a busy channel's consecutive messages into one buffer and hands that same buffer to every member
/// (`LoopMailbox.write`). Each IRC member then walked every frame in it, found each rendering in the cache and
/// copied them into a buffer of its own: per member, per message, what a tchat member does once per buffer. When
/// a member is handed the buffer the previous one was, and every frame in it was a channel message shown as is,
/// it is handed the previous member's lines too.
///
/// A buffer is recognised by where its bytes are: the kept input holds its storage, which no one can write in
/// place while it is shared, so a buffer starting at the same address with the same length has the same bytes.
/// Lives in its loop's `IRCRenderCache`, touched only on that loop.
struct IRCRenderedBatch {
    /// Lines this large are not kept, so the memory held stays small whatever a drain carries.
    static let maxKeptBytes = 256 * 1024

    private var input: ByteBuffer?
    private var outputs = [ByteBuffer?](repeating: nil, count: IRCRenderCache.variants)

    /// The lines kept for `input` in `variant`, if it is the buffer they were made from.
    func lines(for input: ByteBuffer, variant: Int) -> ByteBuffer? {
        guard let output = outputs[variant], let kept = self.input, Self.sameBytes(kept, input) else { return nil }
        return output
    }

    /// Keeps `output` as the lines of `input` in `variant`; a new input forgets the other variants' lines.
    mutating func keep(_ output: ByteBuffer, for input: ByteBuffer, variant: Int) {
        guard output.readableBytes <= Self.maxKeptBytes, input.readableBytes <= Self.maxKeptBytes else { return }
        if let kept = self.input, Self.sameBytes(kept, input) {
            outputs[variant] = output
            return
        }
        self.input = input
        for index in outputs.indices { outputs[index] = nil }
        outputs[variant] = output
    }

    private static func sameBytes(_ kept: ByteBuffer, _ other: ByteBuffer) -> Bool {
        guard kept.readableBytes == other.readableBytes, kept.readableBytes > 0 else { return false }
        return kept.withUnsafeReadableBytes { mine in
            other.withUnsafeReadableBytes { theirs in mine.baseAddress == theirs.baseAddress }
        }
    }
}
