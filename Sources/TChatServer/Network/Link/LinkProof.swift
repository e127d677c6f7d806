import Crypto

/// What each side of a link proves it knows the link secret with: HMAC-SHA-256 under the secret, over everything
/// that makes this handshake unlike any other (`docs/protocol.md`, "Linking", has it byte by byte with a vector).
///
/// - The role byte and both server ids keep a proof from being reflected: a proof a server made as the listener,
///   or for another pair of servers, does not verify here.
/// - Both nonces are fresh randomness from both sides, so no proof is ever valid twice.
/// - The binding is the SHA-256 of the certificate the listener presented (RFC 5929's tls-server-end-point): the
///   listener uses its own, the dialer the one it saw. A machine in the middle that ends TLS on both sides shows
///   the dialer a certificate of its own, and both proofs then fail. Without TLS it is 32 zero bytes.
struct LinkTranscript: Sendable, Equatable {
    enum Role: UInt8, Sendable {
        case dialer = 1
        case listener = 2
    }

    static let label = Array("tchat link proof v1".utf8)
    static let noBinding = [UInt8](repeating: 0, count: 32)

    var dialerID: UInt64
    var listenerID: UInt64
    var dialerNonce: [UInt8]
    var listenerNonce: [UInt8]
    var binding: [UInt8]

    /// The bytes the proof of `role`'s side authenticates.
    func bytes(provedBy role: Role) -> [UInt8] {
        var bytes = Self.label
        bytes.append(role.rawValue)
        for id in [dialerID, listenerID] { withUnsafeBytes(of: id.bigEndian) { bytes += $0 } }
        bytes += dialerNonce
        bytes += listenerNonce
        bytes += binding
        return bytes
    }

    func proof(by role: Role, secret: LinkSecret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes(provedBy: role), using: secret.key))
    }

    /// Compares in constant time, so timing tells an attacker nothing about how close a guess came.
    func verify(_ proof: [UInt8], by role: Role, secret: LinkSecret) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: bytes(provedBy: role), using: secret.key)
    }
}
