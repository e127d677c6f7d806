/// The rule every short text field follows, from a client or from a linked server alike: a byte limit, no control
/// character (C0, DEL or C1) and no bidirectional override or isolate, because topics, reasons and names end up on
/// other people's terminals and in logs, where ESC or CSI would be obeyed instead of shown, and an override would
/// make the rest of the line read backwards (a reason that shows one nick while naming another).
public enum TextField {
    /// Throws `field-too-long` or `invalid-argument`, naming the field.
    public static func check(
        _ text: String, _ field: String, maxBytes: Int, allowNewlines: Bool = false
    ) throws(ProtocolError) {
        guard text.utf8.count <= maxBytes else {
            throw ProtocolError(.fieldTooLong, "the \(field) is \(text.utf8.count) bytes; at most \(maxBytes) allowed")
        }
        for scalar in text.unicodeScalars where isControl(scalar) || isBidiOverride(scalar) {
            if allowNewlines && scalar == "\n" { continue }
            throw ProtocolError(
                .invalidArgument,
                "the \(field) may not contain control characters or bidirectional overrides (U+"
                    + String(scalar.value, radix: 16, uppercase: true) + ")")
        }
    }

    /// `text` cut to at most `maxBytes` bytes of UTF-8, on a character boundary, with `…` where it was cut: for
    /// reasons of the server's own making (an operator's KILL message, a ban's) that go where a field's limit
    /// holds, and a linked server would refuse them whole.
    public static func truncated(_ text: String, maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var kept = ""
        var bytes = 0
        let budget = maxBytes - 3  // "…" is 3 bytes
        for character in text {
            let size = character.utf8.count
            guard bytes + size <= budget else { break }
            kept.append(character)
            bytes += size
        }
        return kept + "…"
    }

    /// The embeddings and overrides U+202A–U+202E and the isolates U+2066–U+2069: they reorder the text after them
    /// until the end of the paragraph. The plain marks (U+200E, U+200F, U+061C) only hint a direction and are kept.
    public static func isBidiOverride(_ scalar: Unicode.Scalar) -> Bool {
        (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }

    /// What a program printing others' text to a terminal must escape: controls, and every format character
    /// (bidi controls and marks, zero-width characters and the like), which are invisible or move what follows.
    public static func isUnsafeForTerminal(_ scalar: Unicode.Scalar) -> Bool {
        isControl(scalar) || scalar.properties.generalCategory == .format
            || scalar.properties.generalCategory == .lineSeparator
            || scalar.properties.generalCategory == .paragraphSeparator
    }

    /// C0 (below U+0020), DEL and C1 (U+0080–U+009F).
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
