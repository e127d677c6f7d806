import NIOCore
import TChatProtocol

/// The bytes a client sent that are not yet frames, and since when a frame has been half-received.
///
/// The connection handler cuts frames itself instead of through NIO's `ByteToMessageHandler`: that handler, its
/// pipeline slot, its queue and the receive buffer it keeps between reads cost about 700 bytes per connection, and
/// most connections are idle. Here the bytes are kept only while a frame is unfinished.
///
/// The half-received time serves `--frame-timeout`: a client that sends a length prefix and then nothing would
/// otherwise hold a buffer (up to `--max-frame`) until the idle timeout, and look active if it trickled a byte now
/// and then. Pure: the caller says what time it is.
struct InboundFrames {
    private var decoder: FrameDecoder
    private var buffer: ByteBuffer?
    /// When the frame now waiting for its rest began to arrive; nil when no bytes wait.
    private(set) var partialSince: NIODeadline?
    /// Whether a frame was completed since the last `settle`.
    private var completedFrame = false

    init(maxFrameLength: Int) {
        decoder = FrameDecoder(maxFrameLength: maxFrameLength)
    }

    /// Bytes waiting for the rest of their frame.
    var waitingBytes: Int { buffer?.readableBytes ?? 0 }

    /// Bytes held for them, read or not.
    var heldBytes: Int { buffer?.capacity ?? 0 }

    /// Adds bytes read from the socket.
    mutating func receive(_ bytes: inout ByteBuffer) {
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = bytes
        } else {
            buffer!.writeBuffer(&bytes)
        }
    }

    /// The next whole frame, or nil until more bytes arrive.
    ///
    /// Throws `FrameDecoder.FrameTooLarge` when a length field is over the maximum: the stream cannot be trusted
    /// after it.
    mutating func next() throws -> FrameDecoder.InboundOut? {
        guard buffer != nil else { return nil }
        guard let frame = try decoder.decode(buffer: &buffer!) else { return nil }
        completedFrame = true
        return frame
    }

    /// After a read's frames are taken: forgets an empty buffer, and starts or stops the half-received clock.
    mutating func settle(now: NIODeadline) {
        if waitingBytes == 0 {
            buffer = nil
            partialSince = nil
        } else {
            if completedFrame || partialSince == nil { partialSince = now }
            // Kept alone, the unfinished bytes would hold the whole read buffer (up to 64 KiB, which NIO's receive
            // buffer pool could otherwise use again) and, in front of them, the frames already taken: a client that
            // always ends a read mid-frame would grow the buffer without end. They are moved to a buffer of their
            // own size; more of the frame is appended to it.
            let waiting = waitingBytes
            if buffer!.readerIndex > 0 || buffer!.capacity > 2 * waiting + 256 {
                var own = ByteBufferAllocator().buffer(capacity: waiting)
                own.writeImmutableBuffer(buffer!)
                buffer = own
            }
        }
        completedFrame = false
    }
}
