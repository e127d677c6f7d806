/// A validated nick: 1–32 ASCII characters as an IRC user knows them.
///
/// Nicks are ASCII on purpose: no homoglyph, bidi override or zero-width character can make one nick look like
/// another, and case-insensitive comparison is unambiguous (ASCII case mapping, as Ergo's `ascii` casemapping).
public struct Nick: Sendable, Hashable, CustomStringConvertible {
    /// The nick as its owner spelled it.
    public let name: String
    /// The lower-cased form, used for uniqueness and lookups.
    public let key: String

    public init(validating text: String) throws(ProtocolError) {
        if let problem = Nick.problem(with: text) {
            throw ProtocolError(.invalidNick, problem)
        }
        self.name = text
        self.key = Nick.key(for: text)
    }

    public var description: String { name }

    public static func == (lhs: Nick, rhs: Nick) -> Bool { lhs.key == rhs.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    /// The lookup key of any text, valid nick or not.
    public static func key(for text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Why `text` is not a valid nick, or nil if it is.
    public static func problem(with text: String) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "a nick cannot be empty" }
        guard bytes.count <= ProtocolLimits.maxNickLength else {
            return "a nick has at most \(ProtocolLimits.maxNickLength) characters"
        }
        for (offset, byte) in bytes.enumerated() {
            let isLetter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            let isSpecial = "_[]{}\\|^`".utf8.contains(byte)
            let allowed = offset == 0 ? isLetter || isSpecial : isLetter || isDigit || isSpecial || byte == 0x2D
            if !allowed {
                let shown =
                    byte < 0x20 || byte >= 0x7F
                    ? "a non-ASCII or control character" : "'\(Character(Unicode.Scalar(byte)))'"
                return offset == 0 && (isDigit || byte == 0x2D)
                    ? "a nick cannot start with a digit or '-'"
                    : "a nick may not contain \(shown): use ASCII letters, digits and - _ [ ] { } \\ | ^ `"
            }
        }
        return nil
    }
}
