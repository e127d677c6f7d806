import NIOCore
import TChatProtocol

/// A live channel MESSAGE frame written straight as its IRC line, for the message most chat is: one line of plain
/// text from an ASCII nick in an ASCII channel.
///
/// Decoding the frame into strings and serializing an `IRCMessage` cost more than every member's copy of the line
/// once the render cache shares it; this reads the frame's fields where they lie and writes the line's bytes. The
/// line is byte for byte what `IRCConversation.channelLines` makes of the same message (a test holds the two
/// together); anything else (a JSON body, an action, a line break, a body past one line, a name a tag would have
/// to escape) answers nil and takes that path.
enum IRCChannelLine {
    /// The line of the MESSAGE frame `frame` (all of it, length first) with the tags of `variant` (1: server-time,
    /// 2: msgid), or nil when it takes the general path.
    static func render(frame: ByteBuffer, variant: Int, allocator: ByteBufferAllocator) -> ByteBuffer? {
        var reader = frame
        guard reader.readableBytes > ProtocolLimits.headerLength else { return nil }
        reader.moveReaderIndex(forwardBy: ProtocolLimits.headerLength)
        guard let channelLength = reader.readInteger(as: UInt16.self),
            let channel = reader.readSlice(length: Int(channelLength)),
            let id = reader.readInteger(as: UInt64.self),
            let milliseconds = reader.readInteger(as: UInt64.self),
            let fromLength = reader.readInteger(as: UInt16.self),
            let from = reader.readSlice(length: Int(fromLength)),
            reader.readInteger(as: UInt8.self) == ContentType.text.rawValue,
            let bodyLength = reader.readInteger(as: UInt32.self),
            let body = reader.readSlice(length: Int(bodyLength)),
            reader.readableBytes == 0
        else { return nil }
        // ":" nick "!" nick "@" host " PRIVMSG " channel " :" text CR LF, as `IRCConversation.lines` counts it.
        let host = IRCConversation.userHost.utf8
        let overhead = 1 + (2 * from.readableBytes + 2 + host.count) + 1 + 7 + 1 + channel.readableBytes + 2 + 2
        let room = 512 - overhead
        guard room >= 4, body.readableBytes >= 1, body.readableBytes <= room, isPlainWord(channel),
            isPlainWord(from), isOneLine(body)
        else { return nil }

        var line = allocator.buffer(capacity: 80 + overhead + body.readableBytes)
        let variant = variant & 3  // 4, multiline batches, changes nothing for one line
        if variant != 0 {
            line.writeStaticString("@")
            if variant & 1 != 0 {
                var time: [UInt8] = []
                time.reserveCapacity(24)
                Timestamp(milliseconds: milliseconds).appendISO8601(to: &time)
                line.writeStaticString("time=")
                line.writeBytes(time)
            }
            if variant & 2 != 0 {
                if variant & 1 != 0 { line.writeStaticString(";") }
                // The msgid `IRCConversation.messageID` makes: the id, then the channel lower-cased.
                line.writeStaticString("msgid=")
                line.writeString(String(id))
                line.writeStaticString("-")
                channel.withUnsafeReadableBytes { name in
                    for byte in name { line.writeInteger(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
                }
            }
            line.writeStaticString(" ")
        }
        line.writeStaticString(":")
        line.writeImmutableBuffer(from)
        line.writeStaticString("!")
        line.writeImmutableBuffer(from)
        line.writeStaticString("@")
        line.writeString(IRCConversation.userHost)
        line.writeStaticString(" PRIVMSG ")
        line.writeImmutableBuffer(channel)
        line.writeStaticString(" :")
        line.writeImmutableBuffer(body)
        line.writeStaticString("\r\n")
        return line
    }

    /// Printable ASCII without the bytes a word or a tag value would change (space, `;`, `\`), not starting with
    /// a colon: written as it is in every place of the line.
    private static func isPlainWord(_ bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes { bytes in
            guard let first = bytes.first, first != UInt8(ascii: ":") else { return false }
            return !bytes.contains { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "\\") }
        }
    }

    /// No line break and no NUL: the text is one IRC line as it is.
    private static func isOneLine(_ bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes { bytes in !bytes.contains { $0 == 0x0A || $0 == 0x0D || $0 == 0 } }
    }
}
