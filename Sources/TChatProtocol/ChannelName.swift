/// A validated channel name: `#` and 1–50 characters, compared case-insensitively.
///
/// Names may be any language's letters, but never characters that hide or reorder text (controls, bidi overrides,
/// zero-width and other format characters), whitespace, or the separators `,` `/` `\`. The server still never
/// uses a name as a file name as it is; see `docs/storage.md`.
public struct ChannelName: Sendable, Hashable, CustomStringConvertible {
    /// The name with its `#`, as first spelled.
    public let name: String
    /// The lower-cased name with its `#`, used for lookups and uniqueness.
    public let key: String

    /// Accepts the name with or without its leading `#`.
    public init(validating text: String) throws(ProtocolError) {
        let name = text.hasPrefix("#") ? text : "#" + text
        if let problem = ChannelName.problem(with: name) {
            throw ProtocolError(.invalidChannel, problem)
        }
        self.name = name
        self.key = name.lowercased()
    }

    public var description: String { name }

    public static func == (lhs: ChannelName, rhs: ChannelName) -> Bool { lhs.key == rhs.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    /// Why `name` (with its `#`) is not a valid channel name, or nil if it is.
    public static func problem(with name: String) -> String? {
        let bare = name.dropFirst()
        guard !bare.isEmpty else { return "a channel name needs at least one character after '#'" }
        guard bare.count <= ProtocolLimits.maxChannelNameCharacters else {
            return "a channel name has at most \(ProtocolLimits.maxChannelNameCharacters) characters after '#'"
        }
        guard bare.utf8.count <= ProtocolLimits.maxChannelNameBytes else {
            return "a channel name has at most \(ProtocolLimits.maxChannelNameBytes) bytes of UTF-8 after '#'"
        }
        for scalar in bare.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator, .surrogate:
                return "a channel name may not contain spaces, control or invisible characters (U+"
                    + String(scalar.value, radix: 16, uppercase: true) + ")"
            default:
                break
            }
            if scalar == "," || scalar == "/" || scalar == "\\" {
                return "a channel name may not contain '\(scalar)'"
            }
        }
        return nil
    }
}
