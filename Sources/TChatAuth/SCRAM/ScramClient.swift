import Crypto
import Foundation

/// The client's side of one SCRAM-SHA-256 exchange: a pure state machine like `ScramServer`.
///
/// `receiveServerFirst` derives the salted password (the server's iteration count of HMAC rounds): call it off any
/// event loop. The client checks the server's signature at the end, so a server that does not hold the account
/// (a man in the middle, a wrong address) is caught even though it saw no password.
public struct ScramClient: Sendable {
    private enum State: Sendable {
        case initial
        case sentFirst
        case sentFinal(serverSignature: [UInt8])
        case finished
    }

    /// The most iterations a client will do: a hostile server must not make it spin for minutes.
    public static let maximumIterations = 10_000_000

    private let account: String
    private let password: String
    private let nonce: String
    private var state = State.initial

    /// `nonce`: fresh random printable ASCII without commas, made by the caller.
    public init(account: String, password: String, nonce: String) {
        self.account = account
        self.password = password
        self.nonce = nonce
    }

    private var firstBare: String { "n=\(Self.encodeName(account)),r=\(nonce)" }

    /// The client-first message.
    public mutating func clientFirst() throws(ScramError) -> String {
        guard case .initial = state else { throw ScramError.outOfOrder }
        try ScramServer.checkNonce(nonce[...])
        state = .sentFirst
        return "n,," + firstBare
    }

    /// Reads the server-first message and answers with the client-final one, carrying the proof.
    public mutating func receiveServerFirst(_ message: String) throws(ScramError) -> String {
        guard case .sentFirst = state else { throw ScramError.outOfOrder }
        state = .finished
        let attributes = try ScramAttributes(parsing: message[...])
        if attributes.pairs.first?.name == "m" { throw ScramError.malformed("mandatory extensions are not supported") }
        let combined = try attributes.value("r", at: 0)
        guard combined.utf8.starts(with: nonce.utf8), combined.utf8.count > nonce.utf8.count else {
            throw ScramError.malformed("the server's nonce does not extend ours")
        }
        try ScramServer.checkNonce(combined)
        guard let salt = Data(base64Encoded: String(try attributes.value("s", at: 1))), !salt.isEmpty else {
            throw ScramError.malformed("the salt is not base64")
        }
        guard let iterations = Int(try attributes.value("i", at: 2)),
            (ScramKeys.minimumIterations...Self.maximumIterations).contains(iterations)
        else {
            throw ScramError.malformed(
                "an iteration count outside \(ScramKeys.minimumIterations)...\(Self.maximumIterations)")
        }
        let salted: [UInt8]
        do {
            salted = try ScramKeys.saltedPassword(password, salt: Array(salt), iterations: iterations)
        } catch {
            throw ScramError.malformed("the password could not be salted: \(error)")
        }
        let withoutProof = "c=biws,r=\(combined)"
        let authMessage = Array((firstBare + "," + message + "," + withoutProof).utf8)
        let clientKey = ScramKeys.clientKey(salted)
        let storedKey = Array(SHA256.hash(data: clientKey))
        let proof = ScramKeys.xor(clientKey, ScramKeys.hmac(storedKey, authMessage))
        let serverKey = ScramKeys.hmac(salted, "Server Key")
        state = .sentFinal(serverSignature: ScramKeys.hmac(serverKey, authMessage))
        return withoutProof + ",p=" + Data(proof).base64EncodedString()
    }

    /// Checks the server-final message: the server proves it holds the account.
    public mutating func receiveServerFinal(_ message: String) throws(ScramError) {
        guard case .sentFinal(let expected) = state else { throw ScramError.outOfOrder }
        state = .finished
        if message.hasPrefix("e=") { throw ScramError.rejected }
        guard message.hasPrefix("v="), let signature = Data(base64Encoded: String(message.dropFirst(2))),
            ScramKeys.constantTimeEqual(Array(signature), expected)
        else {
            throw ScramError.serverNotVerified
        }
    }

    /// saslname of RFC 5802.
    static func encodeName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }
}
