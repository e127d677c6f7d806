import Crypto
import CryptoExtras
import Foundation

/// A password as the server keeps it for checks that see the password itself (PLAIN over TLS, changing a
/// password): scrypt with its parameters and salt, so that a stolen file costs an attacker about `cost` of memory
/// and time per guess. The text form (`text`) is `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` with base64 salt and hash;
/// the `description` names only the parameters, so that no log line shows a hash by accident.
///
/// Deriving takes tens of milliseconds and `2^logN * r * 128` bytes by design: never on an event loop.
public struct PasswordHash: Sendable, Equatable, Codable, CustomStringConvertible {
    public var logN: Int
    public var blockSize: Int
    public var parallelism: Int
    public var salt: [UInt8]
    public var hash: [UInt8]

    /// The parameters new hashes use: N = 2^15, r = 8, p = 1, 32 MiB (RFC 7914's interactive-login choice).
    /// About 83 ms per hash on the reference machine (`tchat-bench passwords`; docs/accounts.md).
    public static let standard = (logN: 15, blockSize: 8, parallelism: 1)

    /// The most a stored hash may ask for: a damaged or hostile accounts file must not make a check take 4 GiB.
    public static let limits = (logN: 20, blockSize: 16, parallelism: 4)

    public init(logN: Int, blockSize: Int, parallelism: Int, salt: [UInt8], hash: [UInt8]) {
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
        self.salt = salt
        self.hash = hash
    }

    /// Hashes `password` with a fresh random salt and the standard parameters (or those given, for tests).
    public static func make(
        password: String, logN: Int = standard.logN, blockSize: Int = standard.blockSize,
        parallelism: Int = standard.parallelism
    ) throws -> PasswordHash {
        let salt = RandomBytes.make(16)
        let hash = try derive(password, salt: salt, logN: logN, blockSize: blockSize, parallelism: parallelism)
        return PasswordHash(logN: logN, blockSize: blockSize, parallelism: parallelism, salt: salt, hash: hash)
    }

    /// Whether `password` is the one hashed; compares in constant time.
    public func verify(_ password: String) throws -> Bool {
        let candidate = try Self.derive(
            password, salt: salt, logN: logN, blockSize: blockSize, parallelism: parallelism)
        return ScramKeys.constantTimeEqual(candidate, hash)
    }

    static func derive(_ password: String, salt: [UInt8], logN: Int, blockSize: Int, parallelism: Int) throws
        -> [UInt8]
    {
        guard (1...limits.logN).contains(logN), (1...limits.blockSize).contains(blockSize),
            (1...limits.parallelism).contains(parallelism)
        else {
            throw PasswordHashError.parametersOutOfRange(logN: logN, blockSize: blockSize, parallelism: parallelism)
        }
        let key = try KDF.Scrypt.deriveKey(
            from: ScramKeys.normalized(password), salt: salt, outputByteCount: 32, rounds: 1 << logN,
            blockSize: blockSize,
            parallelism: parallelism)
        return key.withUnsafeBytes { Array($0) }
    }

    public var text: String {
        "scrypt$\(logN)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$"
            + Data(hash).base64EncodedString()
    }

    public var description: String { "scrypt (N = 2^\(logN), r = \(blockSize), p = \(parallelism))" }

    /// Reads the text form.
    public init?(_ text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let blockSize = Int(parts[2]),
            let parallelism = Int(parts[3]), let salt = Data(base64Encoded: String(parts[4])),
            let hash = Data(base64Encoded: String(parts[5])), !salt.isEmpty, hash.count == 32
        else { return nil }
        self.init(logN: logN, blockSize: blockSize, parallelism: parallelism, salt: Array(salt), hash: Array(hash))
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = PasswordHash(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a password hash: scrypt$N$r$p$salt$hash"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

public enum PasswordHashError: Error, Equatable, Sendable {
    case parametersOutOfRange(logN: Int, blockSize: Int, parallelism: Int)
}
