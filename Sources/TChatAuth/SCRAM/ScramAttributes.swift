/// The `name=value` attributes of one SCRAM message (RFC 5802 section 5), in the order sent.
///
/// Each attribute is a single ASCII letter, `=`, and a value without commas; what a value may hold is checked by
/// the party that reads it. Parsing never trusts lengths or order beyond what the RFC fixes.
struct ScramAttributes {
    private(set) var pairs: [(name: Character, value: Substring)] = []

    init(parsing message: Substring) throws(ScramError) {
        guard !message.isEmpty else { throw ScramError.malformed("an empty message") }
        for part in message.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let name = part.first, name.isASCII, name.isLetter,
                part[part.index(after: part.startIndex)] == "="
            else {
                throw ScramError.malformed("\"\(part.prefix(20))\" is not an attribute")
            }
            pairs.append((name, part.dropFirst(2)))
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
