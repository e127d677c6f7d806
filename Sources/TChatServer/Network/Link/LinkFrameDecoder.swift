import NIOCore
import TChatProtocol

/// The largest frame a link accepts now: small until the handshake has proved the other side knows the secret
/// (a challenge and a proof fit in 64 bytes), `--max-frame` after. Shared by a link's decoder and its
/// `PeerHandler`, both on the link's event loop.
final class LinkFrameLimit {
    /// Before authentication: room for the handshake frames and an ERROR with a sentence in it.
    static let beforeAuthentication = 1024

    var maximum = LinkFrameLimit.beforeAuthentication
}

/// `FrameDecoder` with the limit a `LinkFrameLimit` sets at the moment: an unauthenticated peer cannot make the
/// server buffer a large frame.
struct LinkFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = FrameDecoder.InboundOut

    let limit: LinkFrameLimit

    mutating func decode(buffer: inout ByteBuffer) throws -> InboundOut? {
        var decoder = FrameDecoder(maxFrameLength: limit.maximum)
        return try decoder.decode(buffer: &buffer)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> InboundOut? {
        try decode(buffer: &buffer)
    }
}
