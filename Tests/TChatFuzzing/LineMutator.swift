/// A mutation of valid IRC lines into what a hostile or broken client sends: flipped bits, the bytes that matter
/// to the grammar (CR, LF, NUL, `:`, space, `@`, `;`, `\`, `,`) put anywhere, bytes that are not UTF-8, words
/// cut, doubled or spliced from another line, and lines grown past every limit.
public enum LineMutator {
    static let grammar: [UInt8] = Array("\r\n\0: @;=\\,#!+*%\u{1}\u{2}\u{3}".utf8) + [0x80, 0xC3, 0xE2, 0xFF]

    public static func mutate(_ corpus: [[UInt8]], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = corpus.randomElement(using: &generator)!
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            if bytes.isEmpty { bytes = [UInt8(ascii: "x")] }
            switch Int.random(in: 0..<9, using: &generator) {
            case 0:  // flip a bit
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1:  // a byte of the grammar, or any byte
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] =
                    Bool.random(using: &generator)
                    ? grammar.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            case 2:  // insert bytes
                let index = Int.random(in: 0...bytes.count, using: &generator)
                let count = Int.random(in: 1...8, using: &generator)
                bytes.insert(
                    contentsOf: (0..<count).map { _ in grammar.randomElement(using: &generator)! }, at: index)
            case 3:  // cut bytes out
                let start = Int.random(in: 0..<bytes.count, using: &generator)
                let end = min(bytes.count, start + Int.random(in: 1...12, using: &generator))
                bytes.removeSubrange(start..<end)
            case 4:  // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            case 5:  // grow: a word repeated past the line limits (510 bytes, 4,096 of tags)
                let word = Array(bytes.prefix(Int.random(in: 1...min(16, bytes.count), using: &generator)))
                let times = [2, 40, 300, 700].randomElement(using: &generator)!
                bytes += (0..<times).flatMap { _ in word }
            case 6:  // many parameters or targets
                let separator = Bool.random(using: &generator) ? UInt8(ascii: " ") : UInt8(ascii: ",")
                bytes += (0..<Int.random(in: 2...40, using: &generator)).flatMap { _ in
                    [separator, UInt8(ascii: "#"), UInt8(ascii: "a")]
                }
            case 7:  // splice with another line
                let other = corpus.randomElement(using: &generator)!
                bytes =
                    Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
                    + other.suffix(Int.random(in: 0...other.count, using: &generator))
            default:  // tags in front
                bytes = Array("@a=\\\\;b;+c=d\\s ".utf8) + bytes
            }
        }
        return bytes
    }
}
