import Crypto
public import NIOSSL

/// The SHA-256 of a certificate's DER bytes: what `openssl x509 -noout -fingerprint -sha256` prints, and what a
/// client pins (`tchat --tls-pin`) or a server pins for its links (`tchatd --peer-fingerprint`).
public struct CertificateFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public let bytes: [UInt8]

    public init(of certificate: NIOSSLCertificate) throws {
        bytes = Array(SHA256.hash(data: try certificate.toDERBytes()))
    }

    public init(digest: [UInt8]) {
        bytes = digest
    }

    /// Reads 64 hex digits, with or without colons, upper or lower case, after an optional `sha256:` (or
    /// `SHA256 Fingerprint=`, as openssl prints it).
    public init(parsing text: String) throws(TLSSetupError) {
        var digits = Substring(text.trimmingWhitespace())
        for prefix in ["sha256 fingerprint=", "sha256:", "sha256/"] where digits.lowercased().hasPrefix(prefix) {
            digits = digits.dropFirst(prefix.count)
        }
        let hex = digits.filter { $0 != ":" }
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw TLSSetupError(
                "'\(text)' is not a SHA-256 fingerprint: 64 hex digits, colons allowed "
                    + "(openssl x509 -noout -fingerprint -sha256 -in CERT prints one)")
        }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.bytes = bytes
    }

    /// `AB:CD:…`, as openssl prints it.
    public var description: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: ":")
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
