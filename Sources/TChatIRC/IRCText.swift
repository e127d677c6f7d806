/// Text as IRC carries it: one line per message, formatting codes inline, `/me` as a CTCP ACTION.
public enum IRCText {
    /// The pieces of `text` that each fit in `maxBytes` of UTF-8, cut at a space when one is near the end, else
    /// between characters (never inside one); every line break starts a new piece and CR and NUL are dropped.
    /// Empty lines are kept out: IRC cannot send an empty message.
    public static func pieces(of text: String, maxBytes: Int) -> [String] {
        let limit = max(maxBytes, 4)
        // Most messages are one short line: handed back as they are, with one pass over their bytes.
        if text.utf8.count <= limit, !text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
            return text.isEmpty ? [] : [text]
        }
        var pieces: [String] = []
        // By scalars, in one pass: CR LF is one Character and would not split at "\n", and walking Characters
        // over a run of thousands of combining marks would rebuild that one Character for every piece.
        var piece = String.UnicodeScalarView()
        var bytes = 0
        var lastSpace: (index: String.UnicodeScalarView.Index, bytes: Int)?
        /// Where the last character began: a cut there keeps an accent, a skin tone or a joined emoji whole.
        var lastStart: (index: String.UnicodeScalarView.Index, bytes: Int)?
        var previous: Unicode.Scalar?
        func finish() {
            if !piece.isEmpty { pieces.append(String(piece)) }
            piece = String.UnicodeScalarView()
            bytes = 0
            lastSpace = nil
            lastStart = nil
        }
        func carry(from cut: String.UnicodeScalarView.Index) {
            let rest = String.UnicodeScalarView(piece[cut...])
            piece = String.UnicodeScalarView(piece[..<cut])
            finish()
            piece = rest
            bytes = rest.reduce(0) { $0 + $1.utf8.count }
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n":
                finish()
                continue
            case "\r", "\0":
                continue
            default:
                break
            }
            let size = scalar.utf8.count
            let extends = previous.map { isExtending(scalar, after: $0) } ?? false
            previous = scalar
            if bytes + size > limit {
                // Cut at the last space when it leaves at least three quarters of the piece; else before the
                // character this scalar belongs to, unless that character is longer than 64 bytes.
                if let space = lastSpace, space.bytes * 4 >= limit * 3 {
                    carry(from: space.index)
                } else if extends, let start = lastStart, start.bytes > 0, bytes - start.bytes <= 64 {
                    carry(from: start.index)
                } else {
                    finish()
                }
            }
            if !extends { lastStart = (piece.endIndex, bytes) }
            piece.append(scalar)
            bytes += size
            if scalar == " " { lastSpace = (piece.endIndex, bytes) }
        }
        finish()
        return pieces
    }

    /// Whether `scalar` continues the character before it: a combining mark, a variation selector, a skin tone, a
    /// tag, a zero-width joiner or what follows one. Close enough to Unicode's rules to keep common characters
    /// whole when a line is cut; a rare one cut across two lines still loses nothing.
    static func isExtending(_ scalar: Unicode.Scalar, after previous: Unicode.Scalar) -> Bool {
        if previous.value == 0x200D { return true }
        switch scalar.value {
        case 0x200D, 0xFE00...0xFE0F, 0x1F3FB...0x1F3FF, 0xE0020...0xE007F: return true
        default:
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: return true
            default: return false
            }
        }
    }

    /// The text of a CTCP ACTION (`\u{1}ACTION waves\u{1}`), nil when `text` is not one.
    public static func action(in text: String) -> String? {
        let prefix = "\u{1}ACTION"
        guard text.hasPrefix(prefix) else { return nil }
        var rest = text.dropFirst(prefix.count)
        if rest.hasSuffix("\u{1}") { rest = rest.dropLast() }
        if rest.first == " " { rest = rest.dropFirst() }
        return String(rest)
    }

    /// `text` without mIRC formatting: bold, italics, underline, strike-through, monospace, reverse, reset, and
    /// colours with their `fg[,bg]` digits (or hex colours after `\u{4}`).
    public static func stripFormatting(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isFormatting($0) }) else { return text }
        var out = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            switch scalar {
            case "\u{3}":
                index = skipColour(scalars, from: index, digits: 2, isDigit: { (0x30...0x39).contains($0.value) })
            case "\u{4}":
                index = skipColour(scalars, from: index, digits: 6, isDigit: { $0.properties.isASCIIHexDigit })
            case _ where isFormatting(scalar):
                continue
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func isFormatting(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x02, 0x03, 0x04, 0x0F, 0x11, 0x16, 0x1D, 0x1E, 0x1F: true
        default: false
        }
    }

    /// Past `fg[,bg]`, each up to `digits` long.
    private static func skipColour(
        _ scalars: [Unicode.Scalar], from start: Int, digits: Int, isDigit: (Unicode.Scalar) -> Bool
    ) -> Int {
        var index = start
        var count = 0
        while index < scalars.count, count < digits, isDigit(scalars[index]) {
            index += 1
            count += 1
        }
        guard count > 0, index + 1 < scalars.count, scalars[index] == ",", isDigit(scalars[index + 1]) else {
            return index
        }
        index += 1
        count = 0
        while index < scalars.count, count < digits, isDigit(scalars[index]) {
            index += 1
            count += 1
        }
        return index
    }
}
