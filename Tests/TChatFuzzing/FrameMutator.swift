import Foundation

/// How many inputs and which seed: `TCHAT_FUZZ_INPUTS` and `TCHAT_FUZZ_SEED`, so that `scripts/fuzz` can run a
/// million and a failure found once can be found again.
public enum FuzzSettings {
    public static func inputs(default count: Int) -> Int {
        ProcessInfo.processInfo.environment["TCHAT_FUZZ_INPUTS"].flatMap(Int.init) ?? count
    }

    public static var seed: UInt64 {
        ProcessInfo.processInfo.environment["TCHAT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x7C_4A_70
    }
}

/// A mutation of a valid frame (or frames) into the kinds of damage a hostile or broken peer sends: flipped bits,
/// random bytes, bytes inserted or cut out, a length field nudged, string lengths made huge or zero, frames
/// spliced, truncated or given another frame's type.
public enum FrameMutator {
    public static func mutate(_ corpus: [[UInt8]], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = corpus.randomElement(using: &generator)!
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            switch Int.random(in: 0..<9, using: &generator) {
            case 0:  // flip a bit
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1:  // a random byte, often an interesting one
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] =
                    [0x00, 0x7F, 0x80, 0xC3, 0xE2, 0xFF, UInt8.random(in: 0...255, using: &generator)]
                    .randomElement(using: &generator)!
            case 2:  // insert bytes
                let index = Int.random(in: 0...bytes.count, using: &generator)
                let count = Int.random(in: 1...8, using: &generator)
                bytes.insert(
                    contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: index)
            case 3:  // cut bytes out
                guard bytes.count > 1 else { break }
                let start = Int.random(in: 0..<bytes.count, using: &generator)
                let end = min(bytes.count, start + Int.random(in: 1...8, using: &generator))
                bytes.removeSubrange(start..<end)
            case 4:  // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            case 5:  // nudge the length field so it disagrees with the fields
                guard bytes.count >= 4 else { break }
                var length = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
                length = length &+ UInt32(bitPattern: Int32.random(in: -6...6, using: &generator))
                bytes.replaceSubrange(0..<4, with: withUnsafeBytes(of: length.bigEndian, Array.init))
                // Keep the stream in step half the time, so the fields, not only the framing, meet the damage.
                if Bool.random(using: &generator), Int(length) >= 0, Int(length) < 4096 {
                    let wanted = 4 + Int(length)
                    if bytes.count < wanted {
                        bytes += [UInt8](repeating: 0, count: wanted - bytes.count)
                    } else {
                        bytes.removeLast(bytes.count - wanted)
                    }
                }
            case 6:  // a string or body length field inside the frame made huge or zero
                guard bytes.count > 11 else { break }
                let index = Int.random(in: 9..<(bytes.count - 1), using: &generator)
                bytes[index] = Bool.random(using: &generator) ? 0xFF : 0x00
                bytes[index + 1] = Bool.random(using: &generator) ? 0xFF : 0x00
            case 7:  // splice with another frame
                bytes += corpus.randomElement(using: &generator)!
            default:  // the type byte of another frame
                if bytes.count > 4 { bytes[4] = corpus.randomElement(using: &generator)![4] }
            }
            if bytes.isEmpty { bytes = [0] }
        }
        return bytes
    }
}

/// A small deterministic generator (SplitMix64) so random tests fail the same way twice.
public struct SeededGenerator: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
