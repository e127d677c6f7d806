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
        // By scalars: CR LF is one Character, and would not split at "\n".
        for line in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true) {
            var rest = Substring(String(String.UnicodeScalarView(line.filter { $0 != "\r" && $0 != "\0" })))
            if rest.isEmpty { continue }
            while !rest.isEmpty {
                if rest.utf8.count <= limit {
                    pieces.append(String(rest))
                    break
                }
                var end = rest.startIndex
                var bytes = 0
                var lastSpace: Substring.Index?
                for index in rest.indices {
                    let size = rest[index].utf8.count
                    if bytes + size > limit { break }
                    bytes += size
                    end = rest.index(after: index)
                    if rest[index] == " " { lastSpace = end }
                }
                if end == rest.startIndex {
                    // One character longer than the limit (a long run of combining marks): cut by scalars.
                    let scalars = rest.unicodeScalars
                    var scalarEnd = scalars.startIndex
                    var scalarBytes = 0
                    while scalarEnd < scalars.endIndex, scalarBytes + scalars[scalarEnd].utf8.count <= limit {
                        scalarBytes += scalars[scalarEnd].utf8.count
                        scalarEnd = scalars.index(after: scalarEnd)
                    }
                    pieces.append(String(scalars[scalars.startIndex..<scalarEnd]))
                    rest = Substring(scalars[scalarEnd...])
                    continue
                }
                if let lastSpace, rest.distance(from: rest.startIndex, to: lastSpace) > 1,
                    rest.utf8.distance(from: rest.startIndex, to: lastSpace) * 4 >= limit * 3
                {
                    end = lastSpace
                }
                pieces.append(String(rest[rest.startIndex..<end]))
                rest = rest[end...]
            }
        }
        return pieces
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
