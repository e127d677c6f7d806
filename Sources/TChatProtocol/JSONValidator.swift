/// Checks that bytes are one JSON document (RFC 8259) without building it.
///
/// The server relays JSON bodies unchanged, so it only needs a yes or no. A validator of our own bounds nesting depth
/// (a hostile `[[[[...` cannot exhaust the stack) and allocates nothing per value.
public enum JSONValidator {
    /// Deeper documents are refused: no sensible notification nests this far.
    public static let maxDepth = 128

    /// Returns nil when `bytes` hold exactly one JSON value (surrounding whitespace allowed), else what is wrong.
    public static func problem(in bytes: some Collection<UInt8>) -> String? {
        var scanner = Scanner(Array(bytes))
        return scanner.validate()
    }

    public static func isValid(_ text: String) -> Bool { problem(in: text.utf8) == nil }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        /// Open containers, innermost last: `true` for an object, `false` for an array.
        var stack: [Bool] = []

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func validate() -> String? {
            skipWhitespace()
            if index == bytes.count { return "empty document" }
            // Each value read leaves its container's remaining members to this loop, so nesting is bounded by
            // `maxDepth` (checked when a container opens), never by the input's length.
            if let problem = value() { return problem }
            while true {
                skipWhitespace()
                guard let inObject = stack.last else {
                    return index == bytes.count ? nil : "unexpected data after the document at byte \(index)"
                }
                guard index < bytes.count else { return "unterminated \(inObject ? "object" : "array")" }
                let byte = bytes[index]
                if byte == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                    if let problem = inObject ? key() : value() { return problem }
                    continue
                }
                if byte == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    index += 1
                    stack.removeLast()
                    continue
                }
                return "expected ',' or '\(inObject ? "}" : "]")' at byte \(index)"
            }
        }

        /// Reads one value; an opened container leaves its first member (if any) for the caller's loop.
        mutating func value() -> String? {
            skipWhitespace()
            guard index < bytes.count else { return "unexpected end of document" }
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = bytes[index] == UInt8(ascii: "{")
                index += 1
                guard stack.count < JSONValidator.maxDepth else {
                    return "nested deeper than \(JSONValidator.maxDepth) levels"
                }
                stack.append(isObject)
                skipWhitespace()
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if index < bytes.count, bytes[index] == close {
                    index += 1
                    stack.removeLast()
                    return nil
                }
                if isObject { return key() }
                return value()
            case UInt8(ascii: "\""):
                return string()
            case UInt8(ascii: "t"):
                return literal("true")
            case UInt8(ascii: "f"):
                return literal("false")
            case UInt8(ascii: "n"):
                return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return number()
            default:
                return "unexpected character at byte \(index)"
            }
        }

        /// Reads `"name" :` and then the member's value.
        mutating func key() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                return "expected a string key at byte \(index)"
            }
            if let problem = string() { return problem }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                return "expected ':' at byte \(index)"
            }
            index += 1
            return value()
        }

        mutating func string() -> String? {
            index += 1  // the opening quote
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return nil
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { return "unterminated string" }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        for _ in 0..<4 {
                            guard index < bytes.count, Self.isHexDigit(bytes[index]) else {
                                return "bad \\u escape at byte \(index)"
                            }
                            index += 1
                        }
                    default:
                        return "bad escape at byte \(index)"
                    }
                case 0..<0x20:
                    return "control character in string at byte \(index)"
                default:
                    index += 1
                }
            }
            return "unterminated string"
        }

        mutating func number() -> String? {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { return "bad number at byte \(start)" }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, Self.isDigit(bytes[index]) else { return "bad number at byte \(start)" }
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, Self.isDigit(bytes[index]) else { return "bad number at byte \(start)" }
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            return nil
        }

        mutating func literal(_ word: StaticString) -> String? {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return "unexpected end of document" }
            let matches = word.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
            }
            guard matches else { return "unexpected character at byte \(index)" }
            index += count
            return nil
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
                default: return
                }
            }
        }

        static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        static func isHexDigit(_ byte: UInt8) -> Bool {
            isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
        }
    }
}
