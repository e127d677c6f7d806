/// The rule every short text field follows, from a client or from a linked server alike: a byte limit, and no
/// control character (C0, DEL or C1), because topics, reasons and names end up on other people's terminals and in
/// logs, where ESC or CSI would be obeyed instead of shown.
public enum TextField {
    /// Throws `field-too-long` or `invalid-argument`, naming the field.
    public static func check(
        _ text: String, _ field: String, maxBytes: Int, allowNewlines: Bool = false
    ) throws(ProtocolError) {
        guard text.utf8.count <= maxBytes else {
            throw ProtocolError(.fieldTooLong, "the \(field) is \(text.utf8.count) bytes; at most \(maxBytes) allowed")
        }
        for scalar in text.unicodeScalars where isControl(scalar) {
            if allowNewlines && scalar == "\n" { continue }
            throw ProtocolError(.invalidArgument, "the \(field) may not contain control characters")
        }
    }

    /// C0 (below U+0020), DEL and C1 (U+0080–U+009F).
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
