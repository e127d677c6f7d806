/// One IRCv3 message tag: `key` or `key=value`, the value unescaped.
public struct IRCTag: Sendable, Hashable {
    public var key: String
    /// Nil for a tag sent without `=`; an empty value and no value mean the same to a reader.
    public var value: String?

    public init(_ key: String, _ value: String? = nil) {
        self.key = key
        self.value = value
    }

    /// The tags of `@a=b;c` without the `@`; empty keys are skipped.
    static func parseList(_ text: Substring) -> [IRCTag] {
        var tags: [IRCTag] = []
        for item in text.split(separator: ";", omittingEmptySubsequences: true) {
            if let equals = item.firstIndex(of: "=") {
                let key = item[item.startIndex..<equals]
                guard !key.isEmpty else { continue }
                tags.append(IRCTag(String(key), unescape(item[item.index(after: equals)...])))
            } else {
                tags.append(IRCTag(String(item), nil))
            }
        }
        return tags
    }

    /// `key=value` with the value escaped (`;` `\s` `\\` `\r` `\n`), or `key` alone when it has no value or an
    /// empty one.
    public func serialized() -> String {
        guard let value, !value.isEmpty else { return IRCMessage.word(key) }
        return IRCMessage.word(key) + "=" + Self.escape(value)
    }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case ";": out += "\\:"
            case " ": out += "\\s"
            case "\\": out += "\\\\"
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            case "\0": break
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The escapes undone; an unknown escape stands for its character and a lone trailing backslash is dropped.
    static func unescape(_ value: Substring) -> String {
        guard value.contains("\\") else { return String(value) }
        var out = ""
        var escaping = false
        for scalar in value.unicodeScalars {
            if escaping {
                switch scalar {
                case ":": out += ";"
                case "s": out += " "
                case "r": out += "\r"
                case "n": out += "\n"
                default: out.unicodeScalars.append(scalar)
                }
                escaping = false
            } else if scalar == "\\" {
                escaping = true
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
