/// Turns the bytes a terminal sends into `Key`s: UTF-8 text, control keys, the escape sequences of xterm, tmux,
/// screen and rxvt for function and cursor keys, Alt as an ESC prefix, SGR mouse reports and bracketed paste.
///
/// It is fed whatever `read(2)` returned, in pieces of any size; a sequence split across reads is kept until it is
/// whole. A lone ESC is ambiguous (Escape, or the start of a sequence still on its way): the event loop calls
/// `flushEscape()` once a short time has passed with nothing more.
public struct KeyDecoder: Sendable {
    private var pending: [UInt8] = []
    private var pasting: [UInt8]?

    static let pasteStart: [UInt8] = Array("\u{1B}[200~".utf8)
    static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    public init() {}

    /// Whether a lone ESC (or an unfinished sequence) is waiting for more bytes.
    public var isWaiting: Bool { !pending.isEmpty && pasting == nil }

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Key] {
        pending.append(contentsOf: bytes)
        return drain()
    }

    /// Gives up waiting: a pending lone ESC is Escape, an unfinished sequence is dropped.
    public mutating func flushEscape() -> [Key] {
        guard pasting == nil, !pending.isEmpty else { return [] }
        let keys: [Key] = pending == [0x1B] ? [.escape] : []
        pending.removeAll()
        return keys
    }

    private mutating func drain() -> [Key] {
        var keys: [Key] = []
        while !pending.isEmpty {
            if pasting != nil {
                guard let end = Self.find(Self.pasteEnd, in: pending) else {
                    // Keep a tail that may be the start of the end marker, split across reads.
                    let keep = min(pending.count, Self.pasteEnd.count - 1)
                    pasting!.append(contentsOf: pending.dropLast(keep))
                    pending.removeFirst(pending.count - keep)
                    break
                }
                pasting!.append(contentsOf: pending[..<end])
                pending.removeFirst(end + Self.pasteEnd.count)
                keys.append(.paste(String(decoding: pasting!, as: UTF8.self)))
                pasting = nil
                continue
            }
            guard let (key, used) = decodeOne() else { break }  // need more bytes
            pending.removeFirst(used)
            if let key { keys.append(key) }
        }
        return keys
    }

    /// The key at the front of `pending` and how many bytes it used; nil when more bytes are needed.
    private mutating func decodeOne() -> (Key?, Int)? {
        let first = pending[0]
        switch first {
        case 0x1B:
            return decodeEscape()
        case 0x0D, 0x0A: return (.enter, 1)
        case 0x09: return (.tab, 1)
        case 0x7F, 0x08: return (.backspace, 1)
        case 0x00: return (nil, 1)
        case 0x01...0x1A: return (.ctrl(Character(Unicode.Scalar(first + 0x60))), 1)
        case 0x1C...0x1F: return (nil, 1)
        default:
            return decodeUTF8().map { character, used in (character.map(Key.character), used) }
        }
    }

    private mutating func decodeUTF8() -> (Character?, Int)? {
        let first = pending[0]
        let length: Int
        switch first {
        case 0x00..<0x80: length = 1
        case 0xC2..<0xE0: length = 2
        case 0xE0..<0xF0: length = 3
        case 0xF0..<0xF5: length = 4
        default: return (nil, 1)  // not a UTF-8 lead byte: skip it
        }
        guard pending.count >= length else { return nil }
        let bytes = pending[0..<length]
        guard let scalar = String(validating: bytes, as: UTF8.self)?.unicodeScalars.first else { return (nil, 1) }
        return (Character(scalar), length)
    }

    private mutating func decodeEscape() -> (Key?, Int)? {
        guard pending.count >= 2 else { return nil }
        let second = pending[1]
        switch second {
        case UInt8(ascii: "["):
            return decodeCSI()
        case UInt8(ascii: "O"):
            guard pending.count >= 3 else { return nil }
            let keys: [UInt8: Key] = [
                UInt8(ascii: "P"): .function(1), UInt8(ascii: "Q"): .function(2), UInt8(ascii: "R"): .function(3),
                UInt8(ascii: "S"): .function(4), UInt8(ascii: "A"): .up, UInt8(ascii: "B"): .down,
                UInt8(ascii: "C"): .right, UInt8(ascii: "D"): .left, UInt8(ascii: "H"): .home, UInt8(ascii: "F"): .end,
                UInt8(ascii: "M"): .enter,
            ]
            return (keys[pending[2]], 3)
        case 0x1B:
            return (.escape, 1)  // ESC ESC: the first is a plain Escape
        default:
            // Alt+key: ESC then the key's own bytes.
            var rest = KeyDecoder()
            rest.pending = Array(pending[1...])
            guard let (key, used) = rest.decodeOne() else { return nil }
            switch key {
            case .character(let character)?: return (.alt(character), 1 + used)
            case .enter?: return (.alt("\r"), 1 + used)
            case .backspace?: return (.alt("\u{7F}"), 1 + used)
            default: return (key, 1 + used)
            }
        }
    }

    /// `ESC [` parameters and one final byte (0x40–0x7E); SGR mouse reports end in `M` or `m`.
    private mutating func decodeCSI() -> (Key?, Int)? {
        var index = 2
        while index < pending.count {
            let byte = pending[index]
            if byte >= 0x40 && byte <= 0x7E { break }
            guard byte >= 0x20 else { return (nil, index) }  // a control byte inside: drop what came before it
            index += 1
            if index > 32 { return (nil, index) }  // no real sequence is this long
        }
        guard index < pending.count else { return nil }
        let final = pending[index]
        let body = String(decoding: pending[2..<index], as: UTF8.self)
        let used = index + 1
        if body == "200", final == UInt8(ascii: "~") {
            pasting = []
            return (nil, used)
        }
        if body.hasPrefix("<") {
            return (mouse(body.dropFirst(), pressed: final == UInt8(ascii: "M")), used)
        }
        let parameters = body.split(separator: ";").map { Int($0) ?? 0 }
        let modifier = parameters.count > 1 ? parameters[1] : 1
        // xterm's modifier parameter is 1 plus a bit mask: 2 Alt, 4 Ctrl.
        let alt = (modifier - 1) & 2 != 0
        let ctrl = (modifier - 1) & 4 != 0
        switch final {
        case UInt8(ascii: "A"): return (.up, used)
        case UInt8(ascii: "B"): return (.down, used)
        case UInt8(ascii: "C"): return (ctrl ? .ctrlRight : alt ? .altRight : .right, used)
        case UInt8(ascii: "D"): return (ctrl ? .ctrlLeft : alt ? .altLeft : .left, used)
        case UInt8(ascii: "H"): return (.home, used)
        case UInt8(ascii: "F"): return (.end, used)
        case UInt8(ascii: "Z"): return (.backTab, used)
        case UInt8(ascii: "P"): return (.function(1), used)
        case UInt8(ascii: "Q"): return (.function(2), used)
        case UInt8(ascii: "R"): return (.function(3), used)
        case UInt8(ascii: "S"): return (.function(4), used)
        case UInt8(ascii: "~"):
            let keys: [Int: Key] = [
                1: .home, 2: .insert, 3: .delete, 4: .end, 5: .pageUp, 6: .pageDown, 7: .home, 8: .end,
                11: .function(1), 12: .function(2), 13: .function(3), 14: .function(4), 15: .function(5),
                17: .function(6), 18: .function(7), 19: .function(8), 20: .function(9), 21: .function(10),
                23: .function(11), 24: .function(12),
            ]
            return (parameters.first.flatMap { keys[$0] }, used)
        default:
            return (nil, used)
        }
    }

    /// `ESC [ < button ; x ; y M`: a press of the left button (0) is a click, 64 and 65 are the wheel turned up
    /// and down; the rest is ignored.
    private func mouse(_ body: Substring, pressed: Bool) -> Key? {
        let fields = body.split(separator: ";").compactMap { Int($0) }
        guard pressed, fields.count == 3 else { return nil }
        switch fields[0] {
        case 0: return .click(x: fields[1] - 1, y: fields[2] - 1)
        case 64: return .wheelUp
        case 65: return .wheelDown
        default: return nil
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return start }
        }
        return nil
    }
}
