/// Builds one JSON object per line by hand: the history writer encodes every stored message and `JSONEncoder`
/// costs several microseconds per object, and `tchat listen` wants its keys in a fixed, readable order.
public struct JSONLineWriter {
    private(set) var bytes: [UInt8]
    private var needsComma = false
    /// Whether every character a terminal would obey or hide (C1, DEL, bidi and other format characters, line
    /// separators) is escaped as `\uXXXX` too, not only what JSON requires: for lines printed where people read
    /// them, or piped to `jq -r`, which would turn the escapes back into raw characters.
    private var forTerminal = false

    public init(reservingCapacity capacity: Int = 128, forTerminal: Bool = false) {
        self.forTerminal = forTerminal
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// Appends the line to `bytes` (pass it with `consume`, so appending does not copy it): a batch of lines is
    /// built in one buffer, not one array per line.
    public init(continuing bytes: [UInt8]) {
        self.bytes = bytes
        self.bytes.append(UInt8(ascii: "{"))
    }

    public mutating func field(_ key: StaticString, _ value: String) {
        writeKey(key)
        if forTerminal {
            bytes.append(UInt8(ascii: "\""))
            Self.appendEscapingForTerminal(value, inString: true, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        } else {
            Self.appendQuoted(value, to: &bytes)
        }
    }

    /// A time as `Timestamp.iso8601` spells it, written straight into the line.
    public mutating func field(_ key: StaticString, _ value: Timestamp) {
        writeKey(key)
        bytes.append(UInt8(ascii: "\""))
        value.appendISO8601(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func field(_ key: StaticString, _ value: UInt64) {
        writeKey(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func field(_ key: StaticString, _ value: Int) {
        writeKey(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func field(_ key: StaticString, _ value: Bool) {
        writeKey(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Embeds a JSON document as the value. Whitespace outside strings (the only place valid JSON can hold raw
    /// newlines or tabs) becomes spaces, so the record stays on one line; the caller ensures `json` is valid.
    public mutating func field(_ key: StaticString, json: String) {
        writeKey(key)
        if forTerminal {
            // Valid JSON holds characters other than ASCII only inside strings, where an escape means the same.
            Self.appendEscapingForTerminal(json, inString: false, to: &bytes)
            return
        }
        for byte in json.utf8 {
            bytes.append(
                byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t") ? 0x20 : byte)
        }
    }

    /// Closes the object and appends the newline that ends a JSON-lines record.
    public mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    private mutating func writeKey(_ key: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends `value` as a JSON string: quotes, backslashes and control characters escaped, all else UTF-8.
    ///
    /// Runs of bytes that need no escape (nearly all of a chat message) are copied in one go: byte by byte, this
    /// was the history writer's largest cost per message.
    public static func appendQuoted(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                appendEscape(byte, to: &bytes)
                runStart = index + 1
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `text` with what a terminal would obey or hide written as `\uXXXX` (a pair of them above U+FFFF). A string's
    /// quotes, backslashes and C0 get JSON's own escapes. An embedded JSON document (`inString` false) is followed
    /// token by token: inside its strings the same escapes apply (an escape already there is kept as it is), and the
    /// whitespace between tokens becomes spaces.
    static func appendEscapingForTerminal(_ text: String, inString: Bool, to bytes: inout [UInt8]) {
        var inside = inString
        var afterBackslash = false
        for scalar in text.unicodeScalars {
            if !inString {
                // Tracking the document's own strings: an unescaped quote opens or closes one.
                if inside, afterBackslash {
                    afterBackslash = false
                    bytes.append(contentsOf: String(scalar).utf8)
                    continue
                }
                if scalar == "\"" {
                    inside.toggle()
                    bytes.append(UInt8(ascii: "\""))
                    continue
                }
                if inside, scalar == "\\" {
                    afterBackslash = true
                    bytes.append(UInt8(ascii: "\\"))
                    continue
                }
                if !inside {
                    bytes.append(
                        scalar.value < 0x20 || scalar.value == 0x7F ? 0x20 : UInt8(truncatingIfNeeded: scalar.value))
                    continue
                }
            } else if scalar == "\"" || scalar == "\\" {
                appendEscape(UInt8(scalar.value), to: &bytes)
                continue
            }
            if scalar.value < 0x20 {
                appendEscape(UInt8(scalar.value), to: &bytes)
            } else if TextField.isUnsafeForTerminal(scalar) {
                for unit in String(scalar).utf16 { appendUnicodeEscape(unit, to: &bytes) }
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
    }

    private static func appendUnicodeEscape(_ unit: UInt16, to bytes: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u")])
        digits.withUTF8Buffer { hex in
            for shift in [12, 8, 4, 0] { bytes.append(hex[Int((unit >> UInt16(shift)) & 0xF)]) }
        }
    }

    private static func appendEscape(_ byte: UInt8, to bytes: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        default:
            let digits: StaticString = "0123456789abcdef"
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            digits.withUTF8Buffer { hex in
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
    }
}
