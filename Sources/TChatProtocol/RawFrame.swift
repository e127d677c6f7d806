public import NIOCore

/// One whole frame cut from the stream, its fields not yet read.
///
/// Framing and field decoding are separate steps so that a frame with bad fields can be answered with an error
/// while the connection stays open: once the length is known, the next frame's start is known too.
public struct RawFrame: Sendable, Hashable {
    /// The type byte; it may name no known type, which field decoding reports.
    public var type: UInt8
    public var requestID: UInt32
    /// The bytes after the request id.
    public var payload: ByteBuffer

    public init(type: UInt8, requestID: UInt32, payload: ByteBuffer) {
        self.type = type
        self.requestID = requestID
        self.payload = payload
    }
}
