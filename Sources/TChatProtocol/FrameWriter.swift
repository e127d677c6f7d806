public import NIOCore

/// Writes one frame: header, fields, then the length patched in once the fields are known.
///
/// Writing straight into the destination buffer (no intermediate copy) is what lets the server encode a channel
/// message once and hand the same bytes to every subscriber.
public struct FrameWriter {
    private var buffer: ByteBuffer
    private let start: Int

    /// Takes `buffer`'s storage, leaving it empty, before writing the header: while the caller's variable still
    /// shared the storage, every frame written copied the whole buffer (copy on write), so replies gathered in one
    /// buffer cost time quadratic in their number.
    private init(taking buffer: inout ByteBuffer, type: UInt8, requestID: UInt32) {
        self.buffer = buffer
        buffer = ByteBuffer()
        self.start = self.buffer.writerIndex
        self.buffer.writeInteger(UInt32(0), endianness: .big)
        self.buffer.writeInteger(type)
        self.buffer.writeInteger(requestID, endianness: .big)
    }

    /// Appends a frame to `buffer`; if `fields` throws, `buffer` is left as it was.
    public static func write(
        _ type: FrameType, requestID: UInt32, into buffer: inout ByteBuffer,
        fields: (inout FrameWriter) throws(ProtocolError) -> Void
    ) throws(ProtocolError) {
        try write(rawType: type.rawValue, requestID: requestID, into: &buffer, fields: fields)
    }

    /// The same for frame types outside `FrameType` (the peer protocol's).
    public static func write(
        rawType type: UInt8, requestID: UInt32, into buffer: inout ByteBuffer,
        fields: (inout FrameWriter) throws(ProtocolError) -> Void
    ) throws(ProtocolError) {
        let originalWriterIndex = buffer.writerIndex
        var writer = FrameWriter(taking: &buffer, type: type, requestID: requestID)
        do {
            try fields(&writer)
        } catch {
            buffer = writer.buffer
            buffer.moveWriterIndex(to: originalWriterIndex)
            throw error
        }
        let length = writer.buffer.writerIndex - writer.start - 4
        writer.buffer.setInteger(UInt32(length), at: writer.start, endianness: .big)
        buffer = writer.buffer
    }

    public mutating func u8(_ value: UInt8) { buffer.writeInteger(value) }
    public mutating func u16(_ value: UInt16) { buffer.writeInteger(value, endianness: .big) }
    public mutating func u32(_ value: UInt32) { buffer.writeInteger(value, endianness: .big) }
    public mutating func u64(_ value: UInt64) { buffer.writeInteger(value, endianness: .big) }
    public mutating func time(_ value: Timestamp) { u64(value.milliseconds) }
    /// Raw bytes of a length both sides know (a nonce, a MAC): no length prefix.
    public mutating func bytes(_ value: [UInt8]) { buffer.writeBytes(value) }

    public mutating func str(_ value: String, _ field: String) throws(ProtocolError) {
        let count = value.utf8.count
        guard count <= Int(UInt16.max) else {
            throw ProtocolError(.fieldTooLong, "\(field) is \(count) bytes; at most \(UInt16.max) fit")
        }
        u16(UInt16(count))
        buffer.writeString(value)
    }

    public mutating func text(_ value: String, _ field: String) throws(ProtocolError) {
        let count = value.utf8.count
        guard count <= Int(UInt32.max) else {
            throw ProtocolError(.fieldTooLong, "\(field) is \(count) bytes; at most \(UInt32.max) fit")
        }
        u32(UInt32(count))
        buffer.writeString(value)
    }

    public mutating func body(_ value: MessageBody, _ field: String) throws(ProtocolError) {
        u8(value.contentType.rawValue)
        try text(value.text, field)
    }
}

/// Field layouts that more than one frame uses (MESSAGE and PEER_MESSAGE, DIRECT and PEER_DIRECT): written and read in
/// one place, so the two protocols cannot drift apart.
extension FrameWriter {
    public mutating func chatMessage(_ message: ChatMessage) throws(ProtocolError) {
        try str(message.channel, "channel")
        u64(message.id)
        time(message.time)
        try str(message.from, "from")
        try body(message.body, "body")
    }

    public mutating func directMessage(_ message: DirectMessage) throws(ProtocolError) {
        try str(message.from, "from")
        try str(message.to, "to")
        time(message.time)
        try body(message.body, "body")
    }
}

extension FieldReader {
    public mutating func chatMessage() throws(ProtocolError) -> ChatMessage {
        ChatMessage(
            channel: try str("channel"), id: try u64("id"), time: try time("time"), from: try str("from"),
            body: try body("body"))
    }

    public mutating func directMessage() throws(ProtocolError) -> DirectMessage {
        DirectMessage(from: try str("from"), to: try str("to"), time: try time("time"), body: try body("body"))
    }
}
