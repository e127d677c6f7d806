import Crypto
import Foundation

/// The server's side of one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), as a pure state machine: it is handed
/// messages and answers them, and the caller does the I/O, looks up the account and makes the nonce.
///
/// The password never reaches the server: the client proves it knows it by a proof bound to both nonces, so a
/// proof recorded from one exchange is refused in any other. An unknown account is answered like a known one (with
/// `ScramKeys.decoy`), and every refusal is the same `rejected`, so the exchange tells nobody which accounts exist.
public struct ScramServer: Sendable {
    private enum State: Sendable {
        case awaitingClientFirst
        case awaitingKeys(header: Substring, bare: String, nonce: String, account: String)
        case awaitingClientFinal(header: Substring, authPrefix: String, nonce: String, keys: ScramKeys, known: Bool)
        case finished
    }

    private var state = State.awaitingClientFirst

    public init() {}

    /// Reads the client-first message; returns the account name it asks for.
    public mutating func receiveClientFirst(_ message: String) throws(ScramError) -> String {
        guard case .awaitingClientFirst = state else { throw ScramError.outOfOrder }
        state = .finished
        try ScramAttributes.checkPrintableASCII(message[...])
        // gs2-header: "n,," (no channel binding) or "y,," (the client could bind, but thinks we cannot).
        let fields = message.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw ScramError.malformed("no GS2 header") }
        switch fields[0] {
        case "n", "y": break
        case let flag where flag.hasPrefix("p="): throw ScramError.malformed("channel binding is not supported")
        default: throw ScramError.malformed("an unknown GS2 header")
        }
        guard fields[1].isEmpty else { throw ScramError.malformed("an authorization identity is not supported") }
        let bare = fields[2]
        let attributes = try ScramAttributes(parsing: bare)
        let account = try Self.decodeName(attributes.value("n", at: 0))
        let nonce = try attributes.value("r", at: 1)
        try Self.checkNonce(nonce)
        if attributes.pairs.contains(where: { $0.name == "m" }) {
            throw ScramError.malformed("mandatory extensions are not supported")
        }
        let header = message[..<bare.startIndex]
        state = .awaitingKeys(header: header, bare: String(bare), nonce: String(nonce), account: account)
        return account
    }

    /// The server-first message, given the account's keys (nil when there is no such account) and a fresh random
    /// nonce of this server's (printable ASCII, no comma). `decoy` stands in for a missing account.
    public mutating func serverFirst(keys: ScramKeys?, decoy: ScramKeys, serverNonce: String) throws(ScramError)
        -> String
    {
        guard case .awaitingKeys(let header, let bare, let clientNonce, _) = state else { throw ScramError.outOfOrder }
        state = .finished
        try Self.checkNonce(serverNonce[...])
        let used = keys ?? decoy
        let nonce = clientNonce + serverNonce
        let first = "r=\(nonce),s=\(Data(used.salt).base64EncodedString()),i=\(used.iterations)"
        state = .awaitingClientFinal(
            header: header, authPrefix: bare + "," + first, nonce: nonce, keys: used, known: keys != nil)
        return first
    }

    /// Checks the client-final message; returns the server-final message when the proof holds.
    public mutating func receiveClientFinal(_ message: String) throws(ScramError) -> String {
        guard case .awaitingClientFinal(let header, let authPrefix, let nonce, let keys, let known) = state else {
            throw ScramError.outOfOrder
        }
        state = .finished
        try ScramAttributes.checkPrintableASCII(message[...])
        guard let proofStart = message.range(of: ",p=", options: [.backwards, .literal]) else {
            throw ScramError.malformed("no proof")
        }
        let withoutProof = message[..<proofStart.lowerBound]
        let attributes = try ScramAttributes(parsing: withoutProof)
        let binding = try attributes.value("c", at: 0)
        guard binding.utf8.elementsEqual(Data(header.utf8).base64EncodedString().utf8) else {
            throw ScramError.malformed("the channel binding does not match the GS2 header")
        }
        guard try attributes.value("r", at: 1).utf8.elementsEqual(nonce.utf8) else { throw ScramError.rejected }
        guard let proof = Data(base64Encoded: String(message[proofStart.upperBound...])), proof.count == 32 else {
            throw ScramError.malformed("the proof is not 32 bytes of base64")
        }
        let authMessage = Array((authPrefix + "," + withoutProof).utf8)
        let clientSignature = ScramKeys.hmac(keys.storedKey, authMessage)
        let clientKey = ScramKeys.xor(Array(proof), clientSignature)
        let matches = ScramKeys.constantTimeEqual(Array(SHA256.hash(data: clientKey)), keys.storedKey)
        guard matches, known else { throw ScramError.rejected }
        let serverSignature = ScramKeys.hmac(keys.serverKey, authMessage)
        return "v=\(Data(serverSignature).base64EncodedString())"
    }

    /// saslname of RFC 5802: `=2C` is a comma and `=3D` an equals sign; any other `=` is an error.
    static func decodeName(_ text: Substring) throws(ScramError) -> String {
        guard !text.isEmpty else { throw ScramError.malformed("an empty account name") }
        var name = ""
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            name += rest[..<equals]
            let code = rest[equals...].prefix(3)
            switch code {
            case "=2C": name += ","
            case "=3D": name += "="
            default: throw ScramError.malformed("a bad escape in the account name")
            }
            rest = rest[equals...].dropFirst(3)
        }
        return name + rest
    }

    /// A nonce is printable ASCII without commas (RFC 5802 `printable`), and not empty.
    static func checkNonce(_ nonce: Substring) throws(ScramError) {
        guard !nonce.isEmpty, nonce.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }) else {
            throw ScramError.malformed("a nonce must be printable ASCII without commas")
        }
    }
}

extension ScramKeys {
    /// Keys for an account that does not exist: the same salt every time for one account (so that asking twice
    /// does not tell a real account from a missing one), derived from a secret of the server's, and keys that match
    /// no password. `account` must be the key the server looks accounts up by (a nick's skeleton), so that
    /// look-alike spellings of a missing account get one salt, as those of a real one do; `iterations` must be
    /// what new accounts get. The salt is 16 bytes, as `ScramKeys.saltLength`.
    public static func decoy(for account: String, secret: [UInt8], iterations: Int) -> ScramKeys {
        let salt = Array(hmac(secret, "decoy salt " + account).prefix(saltLength))
        return ScramKeys(
            salt: salt, iterations: iterations, storedKey: hmac(secret, "decoy stored " + account),
            serverKey: hmac(secret, "decoy server " + account))
    }
}
