import NIOCore
import TChatIRC
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Channel messages as IRC lines, rendered once per event loop and shared by every IRC client on it.
///
/// A channel message reaches each member's connection as the same tchat frame; decoding it and building its IRC
/// line per member cost several times what a tchat client's copy of the frame does. The first IRC member on a loop
/// renders it, the others share the bytes, as the tchat path encodes a message once and shares it. A message is
/// known by its channel and id, which tchat gives it once for the whole network. Lines differ only by the tags a
/// client asked for (server-time, message-tags), so each message keeps one rendering per combination. The cache
/// is a table the newest messages overwrite: a miss costs one rendering, never a wrong line. Two messages that
/// took turns in one slot would be rendered again for every member (one drain hands a loop's members the same
/// messages one member after another), so a message's place starts at its channel's hash plus its id, which
/// keeps a channel's consecutive messages apart, and each message may live in one of two places, the older one
/// making room.
///
/// A slot keeps the frame's bytes: a plain message's line is written from them (`IRCChannelLine`), and only
/// another kind of message decodes them, once.
///
/// Kept as parallel arrays, looked up by slot, so a hit copies no strings or arrays. Lives on its loop and is only
/// touched there. Renderings are kept up to `maxKeptTotal` bytes in all, whatever mix of variants the loop's
/// clients asked for (eight per message would be 64 MiB at worst); past it they are made for each member.
final class IRCRenderCache {
    static let slots = 2048
    static let variants = 8
    static let maxKeptBytes = 4096
    /// The most bytes of renderings kept at once: 16 MiB unless a test says less.
    let maxKeptTotal: Int
    /// The capacity of every rendering kept.
    private var keptBytes = 0
    var keptTotal: Int { keptBytes }

    /// The capacity of every rendering kept, added up again (for tests of `keptTotal`).
    func recountKept() -> Int {
        rendered.reduce(0) { $0 + ($1?.capacity ?? 0) }
    }
    private var ids = [UInt64](repeating: 0, count: IRCRenderCache.slots)
    /// When each slot was filled, to tell the older of a message's two places.
    private var filled = [UInt64](repeating: 0, count: IRCRenderCache.slots)
    private var fills: UInt64 = 0
    /// Each slot's frame, copied (a slice would keep the whole drain's buffer it came in alive); decoded only
    /// when a line needs the general path.
    private var frames = [ByteBuffer?](repeating: nil, count: IRCRenderCache.slots)
    private var messages = [ChatMessage?](repeating: nil, count: IRCRenderCache.slots)
    private var rendered = [ByteBuffer?](repeating: nil, count: IRCRenderCache.slots * IRCRenderCache.variants)
    /// The last run of messages handed to the loop's IRC members, whole.
    var batch = IRCRenderedBatch()

    init(maxKeptTotal: Int = 16 << 20) {
        self.maxKeptTotal = maxKeptTotal
    }

    /// The slot of the MESSAGE frame `frame` (all of it, length first), kept there on a miss; nil when its
    /// header does not read as a MESSAGE's.
    func slot(forMessageFrame frame: ByteBuffer) -> Int? {
        let start = frame.readerIndex + ProtocolLimits.headerLength
        guard let nameLength = frame.getInteger(at: start, as: UInt16.self),
            let id = frame.getInteger(at: start + 2 + Int(nameLength), as: UInt64.self)
        else { return nil }
        let first = frame.withUnsafeReadableBytes { bytes -> Int in
            var hash: UInt64 = 14_695_981_039_346_656_037
            for byte in bytes[(ProtocolLimits.headerLength + 2)..<(ProtocolLimits.headerLength + 2 + Int(nameLength))] {
                hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211
            }
            return Int((hash &+ id) % UInt64(Self.slots))
        }
        let second = first ^ (Self.slots / 2)
        if holds(first, id: id, frame: frame) { return first }
        if holds(second, id: id, frame: frame) { return second }
        let slot = filled[first] <= filled[second] ? first : second
        ids[slot] = id
        fills += 1
        filled[slot] = fills
        frames[slot] = ByteBuffer(bytes: frame.readableBytesView)
        messages[slot] = nil
        for index in (slot * Self.variants)..<((slot + 1) * Self.variants) {
            if let old = rendered[index] {
                keptBytes -= old.capacity
                rendered[index] = nil
            }
        }
        return slot
    }

    /// The message in `slot`, decoded on first use; nil when its frame does not decode as a MESSAGE.
    private func message(in slot: Int) -> ChatMessage? {
        if let message = messages[slot] { return message }
        guard var copy = frames[slot] else { return nil }
        var decoder = FrameDecoder(maxFrameLength: 1 << 30)
        guard case .success(let raw)? = try? decoder.decode(buffer: &copy),
            case .message(let message)? = try? ServerFrame(decoding: raw)
        else { return nil }
        messages[slot] = message
        return message
    }

    /// Whether `slot` holds message `id` of the channel named in `frame`.
    private func holds(_ slot: Int, id: UInt64, frame: ByteBuffer) -> Bool {
        // The whole frame: a name that only starts like the kept one (`#foo`, `#foobar`) must not match.
        guard ids[slot] == id, let known = frames[slot], known.readableBytes == frame.readableBytes else {
            return false
        }
        return known.withUnsafeReadableBytes { mine in
            frame.withUnsafeReadableBytes { theirs in memcmp(mine.baseAddress!, theirs.baseAddress!, mine.count) == 0 }
        }
    }

    /// The lines of the message in `slot` for a client with `variant`'s tags, rendered on first use.
    func lines(
        slot: Int, variant: Int, allocator: ByteBufferAllocator,
        render: (ChatMessage) -> [IRCMessage]
    ) -> ByteBuffer {
        if let bytes = rendered[slot * Self.variants + variant] { return bytes }
        let bytes: ByteBuffer
        if let frame = frames[slot],
            let line = IRCChannelLine.render(frame: frame, variant: variant, allocator: allocator)
        {
            bytes = line
        } else if let message = message(in: slot) {
            bytes = IRCBridge.encode(render(message), allocator: allocator)
        } else {
            return ByteBuffer()
        }
        // Kept only when small and while the whole stays under `maxKeptTotal`; a long message (rare) is rendered
        // for each member instead.
        if bytes.readableBytes <= Self.maxKeptBytes, keptBytes + bytes.capacity <= maxKeptTotal {
            rendered[slot * Self.variants + variant] = bytes
            keptBytes += bytes.capacity
        }
        return bytes
    }

    /// The rendering already made, if any (no closure is made on the hot path).
    func cachedLines(slot: Int, variant: Int) -> ByteBuffer? {
        rendered[slot * Self.variants + variant]
    }
}
