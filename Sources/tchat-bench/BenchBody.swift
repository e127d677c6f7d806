import NIOCore

/// What a benchmark message carries: who sent it, its sequence number and when, padded to the wanted size.
/// `S:SEQ:NANOS;` in ASCII, then `x`s. Receivers parse it from the bytes without making a `String`.
enum BenchBody {
    static func make(sender: Int, seq: Int, nanos: UInt64, size: Int) -> [UInt8] {
        var bytes = Array("\(sender):\(seq):\(nanos);".utf8)
        if bytes.count < size { bytes += [UInt8](repeating: UInt8(ascii: "x"), count: size - bytes.count) }
        return bytes
    }

    /// Sender, sequence number and send time, or nil for anything that is not a benchmark body.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> (sender: Int, seq: Int, nanos: UInt64)? {
        // Three plain variables, not an array: this runs once per delivery, millions of times a second.
        var sender: UInt64 = 0
        var seq: UInt64 = 0
        var value: UInt64 = 0
        var field = 0
        var digits = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = value &* 10 &+ UInt64(byte &- UInt8(ascii: "0"))
                digits += 1
            case UInt8(ascii: ":") where field < 2 && digits > 0:
                if field == 0 { sender = value } else { seq = value }
                field += 1
                digits = 0
                value = 0
            case UInt8(ascii: ";") where field == 2 && digits > 0:
                return (Int(truncatingIfNeeded: sender), Int(truncatingIfNeeded: seq), value)
            default:
                return nil
            }
        }
        return nil
    }
}
