import Foundation
import TChatAuth
import Testing

/// scrypt password hashes: RFC 7914's vector, checking, the stored form, and hostile stored forms.
@Suite struct PasswordHashTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func rfc7914sVectorGivesTheFirst32Bytes() throws {
        // RFC 7914 section 12: "pleaseletmein", "SodiumChloride", N = 16384, r = 8, p = 1 (dkLen 64; PBKDF2's
        // first block is the same for 32).
        let stored = PasswordHash(
            logN: 14, blockSize: 8, parallelism: 1, salt: Array("SodiumChloride".utf8),
            hash: Self.hex("7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"))
        #expect(try stored.verify("pleaseletmein"))
        #expect(try !stored.verify("pleaseletmeout"))
    }

    @Test func aHashChecksItsPasswordAndNoOther() throws {
        let hash = try PasswordHash.make(password: "correct horse", logN: 10)
        #expect(try hash.verify("correct horse"))
        #expect(try !hash.verify("correct horse "))
        #expect(try !hash.verify(""))
        let again = try PasswordHash.make(password: "correct horse", logN: 10)
        #expect(again.salt != hash.salt && again.hash != hash.hash, "a fresh salt every time")
    }

    @Test func theStoredFormRoundTripsAndNamesNoSecretInDescriptions() throws {
        let hash = try PasswordHash.make(password: "pw", logN: 10)
        #expect(hash.text.hasPrefix("scrypt$10$8$1$"))
        #expect(PasswordHash(hash.text) == hash)
        let json = try JSONEncoder().encode([hash])
        #expect(try JSONDecoder().decode([PasswordHash].self, from: json) == [hash])
        #expect("\(hash)" == "scrypt (N = 2^10, r = 8, p = 1)", "a log line shows no salt or hash")
    }

    @Test(arguments: [
        "", "scrypt", "bcrypt$10$8$1$AAAA$AAAA", "scrypt$x$8$1$AAAA$" + String(repeating: "A", count: 43) + "=",
        "scrypt$10$8$1$$" + String(repeating: "A", count: 43) + "=", "scrypt$10$8$1$AAAA$AAAA",
        "scrypt$10$8$1$****$" + String(repeating: "A", count: 43) + "=",
    ])
    func damagedStoredFormsAreNotHashes(_ text: String) {
        #expect(PasswordHash(text) == nil)
    }

    @Test func aStoredFormAskingForTooMuchIsRefusedNotRun() {
        let greedy = PasswordHash(
            logN: 30, blockSize: 8, parallelism: 1, salt: [1, 2, 3], hash: Array(repeating: 0, count: 32))
        #expect(throws: PasswordHashError.self) { try greedy.verify("pw") }
    }
}
