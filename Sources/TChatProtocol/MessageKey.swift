/// A sender's own key for a channel message (SEND_ONCE): printable ASCII, 1 to 64 bytes, so it is a column value
/// and a log word as it is, and a random 128-bit key (22 characters of base64) fits with room to spare.
public enum MessageKey {
    public static let maxBytes = 64

    public static func check(_ key: String) throws(ProtocolError) {
        let bytes = key.utf8
        guard !bytes.isEmpty, bytes.count <= maxBytes else {
            throw ProtocolError(.invalidArgument, "a message key has 1 to \(maxBytes) bytes, not \(bytes.count)")
        }
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ProtocolError(.invalidArgument, "a message key is printable ASCII without spaces")
        }
    }
}
