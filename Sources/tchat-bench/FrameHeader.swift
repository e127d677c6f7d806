import NIOCore

/// The frame at the front of what a benchmark client has read, once all of it is there: the clients cut frames off
/// the socket's bytes themselves (no decoder in the pipeline), as at millions of messages a second the load
/// generator must not be what is measured.
struct FrameHeader {
    let type: UInt8
    let requestID: UInt32
    /// The frame's length after its 4 length bytes: type, request id and payload.
    let length: Int

    /// A frame too short for its type and request id: the server broke the protocol.
    struct TooShort: Error {
        let length: UInt32
    }

    /// The frame at `buffer`'s reader index, or nil until all of it has been read; the reader index is not moved
    /// (the caller reads the payload where it lies, then moves past `4 + length` bytes).
    static func front(of buffer: ByteBuffer) throws(TooShort) -> FrameHeader? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            buffer.readableBytes >= 4 + Int(length)
        else { return nil }
        guard length >= 5 else { throw TooShort(length: length) }
        let start = buffer.readerIndex
        return FrameHeader(
            type: buffer.getInteger(at: start + 4, as: UInt8.self)!,
            requestID: buffer.getInteger(at: start + 5, as: UInt32.self)!, length: Int(length))
    }

    /// The payload, as a slice of `buffer` (whose reader index is at this frame).
    func payload(in buffer: ByteBuffer) -> ByteBuffer {
        buffer.getSlice(at: buffer.readerIndex + 9, length: length - 5)!
    }
}
