public import NIOCore

/// Cuts a byte stream into frames: a 4-byte big-endian length, then that many bytes.
///
/// Unlike NIOExtras' `LengthFieldBasedFrameDecoder`, it refuses an oversize frame from the length field alone,
/// before any buffer of that size exists, so a hostile `FF FF FF FF` costs the server four bytes of memory.
/// A frame too short to hold its type and request id is passed on as an error value: its length is known, so
/// the stream is still in step and the connection can stay open.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Result<RawFrame, ProtocolError>

    /// Thrown when a length field exceeds the maximum; the stream cannot be trusted after it.
    public struct FrameTooLarge: Error, Hashable {
        public var length: UInt32
        public var maximum: Int

        public init(length: UInt32, maximum: Int) {
            self.length = length
            self.maximum = maximum
        }

        public var protocolError: ProtocolError {
            ProtocolError(.frameTooLarge, "frame of \(length) bytes exceeds the maximum of \(maximum)")
        }
    }

    public let maxFrameLength: Int

    public init(maxFrameLength: Int = ProtocolLimits.defaultMaxFrameLength) {
        self.maxFrameLength = maxFrameLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> InboundOut? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard Int(length) <= maxFrameLength else {
            throw FrameTooLarge(length: length, maximum: maxFrameLength)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard Int(length) >= ProtocolLimits.minimumLengthField else {
            buffer.moveReaderIndex(forwardBy: Int(length))
            return .failure(
                ProtocolError(
                    .malformedFrame,
                    "frame length \(length) is below \(ProtocolLimits.minimumLengthField), the type and request id"))
        }
        let type = buffer.readInteger(as: UInt8.self)!
        let requestID = buffer.readInteger(endianness: .big, as: UInt32.self)!
        let payload = buffer.readSlice(length: Int(length) - ProtocolLimits.minimumLengthField)!
        return .success(RawFrame(type: type, requestID: requestID, payload: payload))
    }

    /// A partial frame at end of stream is the peer hanging up mid-frame: dropped, nothing to answer.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> InboundOut? {
        try decode(buffer: &buffer)
    }
}
