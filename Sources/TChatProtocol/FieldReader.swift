public import NIOCore

/// Reads a frame's fields in order, refusing anything truncated, mis-encoded or left over.
///
/// Every failure names the field, so an error frame tells a client author exactly which byte was wrong.
public struct FieldReader {
    private var buffer: ByteBuffer
    private let frameType: String

    public init(_ payload: ByteBuffer, frameType: String) {
        self.buffer = payload
        self.frameType = frameType
    }

    private func truncated(_ field: String) -> ProtocolError {
        ProtocolError(.malformedFrame, "\(frameType) frame ends inside its \(field) field")
    }

    public mutating func u8(_ field: String) throws(ProtocolError) -> UInt8 {
        guard let value = buffer.readInteger(as: UInt8.self) else { throw truncated(field) }
        return value
    }

    public mutating func u16(_ field: String) throws(ProtocolError) -> UInt16 {
        guard let value = buffer.readInteger(endianness: .big, as: UInt16.self) else { throw truncated(field) }
        return value
    }

    public mutating func u32(_ field: String) throws(ProtocolError) -> UInt32 {
        guard let value = buffer.readInteger(endianness: .big, as: UInt32.self) else { throw truncated(field) }
        return value
    }

    public mutating func u64(_ field: String) throws(ProtocolError) -> UInt64 {
        guard let value = buffer.readInteger(endianness: .big, as: UInt64.self) else { throw truncated(field) }
        return value
    }

    /// Exactly `count` raw bytes (a nonce, a MAC).
    public mutating func bytes(_ count: Int, _ field: String) throws(ProtocolError) -> [UInt8] {
        guard let bytes = buffer.readBytes(length: count) else { throw truncated(field) }
        return bytes
    }

    public mutating func time(_ field: String) throws(ProtocolError) -> Timestamp {
        Timestamp(milliseconds: try u64(field))
    }

    /// A `str`: u16 byte count, then UTF-8.
    public mutating func str(_ field: String) throws(ProtocolError) -> String {
        let length = Int(try u16(field))
        return try utf8(field, length: length)
    }

    /// A `text`: u32 byte count, then UTF-8.
    public mutating func text(_ field: String) throws(ProtocolError) -> String {
        let length = Int(try u32(field))
        return try utf8(field, length: length)
    }

    /// A `body`: content type byte, u32 byte count, then UTF-8 text or a JSON document.
    public mutating func body(_ field: String) throws(ProtocolError) -> MessageBody {
        let rawType = try u8(field)
        guard let contentType = ContentType(rawValue: rawType) else {
            throw ProtocolError(.unknownContentType, "\(frameType) frame has unknown content type \(rawType)")
        }
        let text = try self.text(field)
        if contentType == .json, let problem = JSONValidator.problem(in: text.utf8) {
            throw ProtocolError(.invalidJSON, "\(frameType) \(field) is not valid JSON: \(problem)")
        }
        return MessageBody(contentType, text)
    }

    private mutating func utf8(_ field: String, length: Int) throws(ProtocolError) -> String {
        guard buffer.readableBytes >= length else { throw truncated(field) }
        let string: String?
        do {
            string = try buffer.readUTF8ValidatedString(length: length)
        } catch {
            throw ProtocolError(.invalidUTF8, "\(frameType) \(field) is not valid UTF-8")
        }
        guard let string else { throw truncated(field) }
        return string
    }

    /// Call after the last field: a frame longer than its fields is refused, not silently trimmed.
    public func finish() throws(ProtocolError) {
        if buffer.readableBytes > 0 {
            throw ProtocolError(
                .malformedFrame, "\(frameType) frame has \(buffer.readableBytes) bytes after its last field")
        }
    }
}
