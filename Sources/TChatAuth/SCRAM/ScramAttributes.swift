/// The `name=value` attributes of one SCRAM message (RFC 5802 section 5), in the order sent.
///
/// Each attribute is a single ASCII letter, `=`, and a value without commas; what a value may hold is checked by
/// the party that reads it. Parsing never trusts lengths or order beyond what the RFC fixes.
///
/// Every SCRAM message tchat exchanges is printable ASCII: account names are nicks, nonces are printable ASCII by
/// the RFC, and the rest is base64 and digits. Anything else is refused before parsing, so that a comma followed
/// by a combining mark, a look-alike of a nonce's character or a control character cannot make the two sides (or
/// a log line) read a message differently. For ASCII, `Character`s are bytes, and comparisons are exact.
struct ScramAttributes {
    private(set) var pairs: [(name: Character, value: Substring)] = []

    init(parsing message: Substring) throws(ScramError) {
        guard !message.isEmpty else { throw ScramError.malformed("an empty message") }
        try Self.checkPrintableASCII(message)
        for part in message.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let name = part.first, name.isLetter,
                part[part.index(after: part.startIndex)] == "="
            else {
                throw ScramError.malformed("a part that is not name=value")
            }
            pairs.append((name, part.dropFirst(2)))
        }
    }

    /// Refuses anything but the printable ASCII characters (0x21 to 0x7E).
    static func checkPrintableASCII(_ text: Substring) throws(ScramError) {
        guard text.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw ScramError.malformed("a character outside printable ASCII")
        }
    }

    /// The value of the attribute at `position`, which must be `name`.
    func value(_ name: Character, at position: Int) throws(ScramError) -> Substring {
        guard position < pairs.count, pairs[position].name == name else {
            throw ScramError.malformed("expected the attribute \(name)= in place \(position + 1)")
        }
        return pairs[position].value
    }
}

/// Why a SCRAM exchange failed. `malformed` is a broken message; `rejected` a wrong password, an unknown account
/// or a reused exchange, which the server reports alike so that it tells nobody which accounts exist.
public enum ScramError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case rejected
    /// The server's signature did not verify: it does not know the password, so it is not the server.
    case serverNotVerified
    case outOfOrder

    public var description: String {
        switch self {
        case .malformed(let why): "malformed SCRAM message: \(why)"
        case .rejected: "wrong account name or password"
        case .serverNotVerified: "the server could not prove it knows the password"
        case .outOfOrder: "SCRAM message out of order"
        }
    }
}
