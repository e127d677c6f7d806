import Foundation

/// Fresh random bytes from the system's generator: salts, secrets and SCRAM nonces all come from here.
public enum RandomBytes {
    public static func make(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        return bytes
    }

    /// A SCRAM nonce: 18 random bytes in base64, printable and without commas, as RFC 5802 asks.
    public static func nonce() -> String {
        Data(make(18)).base64EncodedString()
    }
}
