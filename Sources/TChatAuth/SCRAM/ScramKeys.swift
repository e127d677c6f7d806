import Crypto
import CryptoExtras
import Foundation

/// What a server keeps of a password for SCRAM-SHA-256 (RFC 5802 section 3, RFC 7677): the salt, the iteration
/// count, and two keys from which the password cannot be recovered. StoredKey checks a client's proof; ServerKey
/// signs the server's answer, so the client knows it talks to a server that holds the account.
public struct ScramKeys: Sendable, Equatable, Codable {
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    /// The fewest iterations accepted from a server: RFC 7677 asks for at least 4096.
    public static let minimumIterations = 4096

    /// Iterations for new accounts: OWASP's figure for PBKDF2-HMAC-SHA-256. The server keeps StoredKey and ServerKey
    /// beside the scrypt hash, so a stolen accounts file is only as hard to guess from as the cheaper of the two;
    /// at 4,096 iterations the SCRAM keys would undo scrypt. It costs the client about 120 ms per login on the
    /// reference machine (`tchat-bench passwords`) and the server nothing.
    public static let standardIterations = 600_000

    /// Bytes of salt for new accounts (and decoys).
    public static let saltLength = 16

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the keys from a password. Costs `iterations` rounds of HMAC-SHA-256: run it off any event loop.
    public init(password: String, salt: [UInt8], iterations: Int) throws {
        let salted = try Self.saltedPassword(password, salt: salt, iterations: iterations)
        self.init(
            salt: salt, iterations: iterations, storedKey: Array(SHA256.hash(data: Self.clientKey(salted))),
            serverKey: Self.hmac(salted, "Server Key"))
    }

    /// Hi(password, salt, i) of RFC 5802: PBKDF2 with HMAC-SHA-256, 32 bytes.
    static func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        guard iterations >= 1 else { throw ScramError.malformed("an iteration count below 1") }
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: normalized(password), salt: salt, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }

    /// A password's bytes, in Unicode normalization form KC: the same password typed on two systems that compose
    /// accents differently gives the same bytes. (SASLprep's normalization step; its tables of prohibited
    /// characters are not applied.)
    static func normalized(_ password: String) -> [UInt8] {
        Array(password.precomposedStringWithCompatibilityMapping.utf8)
    }

    static func clientKey(_ salted: [UInt8]) -> [UInt8] { hmac(salted, "Client Key") }

    static func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
        hmac(key, Array(text.utf8))
    }

    static func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }

    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        zip(a, b).map { $0 ^ $1 }
    }

    /// Compares in time independent of where the bytes differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
