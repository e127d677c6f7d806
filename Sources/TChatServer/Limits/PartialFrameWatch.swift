import NIOCore
import TChatProtocol

/// When the frame being received began, if one is half-received: a client that sends a length prefix and then
/// nothing would otherwise hold a buffer (up to `--max-frame`) until the idle timeout, and keep pretending to be
/// active if it trickles a byte now and then.
///
/// Set by `WatchedFrameDecoder`, read by the loop's `KeepAliveSweep`; both on the connection's loop.
final class PartialFrameWatch {
    var since: NIODeadline?
}

/// `FrameDecoder`, telling a `PartialFrameWatch` whether bytes of an unfinished frame are waiting.
struct WatchedFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = FrameDecoder.InboundOut

    private var decoder: FrameDecoder
    let watch: PartialFrameWatch

    init(maxFrameLength: Int, watch: PartialFrameWatch) {
        decoder = FrameDecoder(maxFrameLength: maxFrameLength)
        self.watch = watch
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> InboundOut? {
        let frame = try decoder.decode(buffer: &buffer)
        if frame != nil || buffer.readableBytes == 0 {
            watch.since = nil
        } else if watch.since == nil {
            watch.since = .now()
        }
        return frame
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> InboundOut? {
        try decode(buffer: &buffer)
    }
}
