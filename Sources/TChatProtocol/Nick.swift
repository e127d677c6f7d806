/// A validated nick: 1–32 ASCII characters as an IRC user knows them.
///
/// Nicks are ASCII on purpose: no homoglyph, bidi override or zero-width character can make one nick look like
/// another. ASCII has look-alikes of its own, though (`aIice` with a capital I beside `alice`), so two nicks are
/// the same nick when their skeletons (`key`) are equal; see `key(for:)`.
public struct Nick: Sendable, Hashable, CustomStringConvertible {
    /// The nick as its owner spelled it.
    public let name: String
    /// The skeleton, used for uniqueness and lookups.
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

    /// The lookup key of any text, valid nick or not: its confusable skeleton, so that nicks a reader cannot tell
    /// apart are one nick (Ergo folds nicks to Unicode skeletons for the same reason).
    ///
    /// Each character on its own: ASCII letters are lower-cased; then `i`, `1` and `|` become `l` (a capital I, a
    /// lower-case l, a one and a bar look alike in many fonts, and after lower-casing the capital I is an i); `0`
    /// becomes `o`; `m` becomes `rn` and `w` becomes `vv`. Expanding the letters that look like pairs, rather than
    /// folding the pairs, leaves no order to depend on: `vw`, `wv` and `vvv` all become `vvv`. So `alice`, `aIice`,
    /// `a1ice`, `ALlCE` and `Alice` share the key `allce`, and `corn`, `com` and `c0m` share `corn`. It folds more
    /// than a reader would (`ian` and `lan` are one nick): a nick refused for looking like another costs a second
    /// try, a nick accepted for looking like another costs the trust of everyone who reads it.
    public static func key(for text: String) -> String {
        var skeleton: [UInt8] = []
        skeleton.reserveCapacity(text.utf8.count * 2)
        for byte in text.utf8 {
            switch byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte {
            case UInt8(ascii: "i"), UInt8(ascii: "1"), UInt8(ascii: "|"): skeleton.append(UInt8(ascii: "l"))
            case UInt8(ascii: "0"): skeleton.append(UInt8(ascii: "o"))
            case UInt8(ascii: "m"): skeleton.append(contentsOf: [UInt8(ascii: "r"), UInt8(ascii: "n")])
            case UInt8(ascii: "w"): skeleton.append(contentsOf: [UInt8(ascii: "v"), UInt8(ascii: "v")])
            case let other: skeleton.append(other)
            }
        }
        return String(decoding: skeleton, as: UTF8.self)
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
