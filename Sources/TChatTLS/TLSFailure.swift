public import Foundation
public import NIOSSL

/// Why a TLS connection could not be trusted or made, in the words a user can act on: the reason first (expired,
/// wrong host, unknown issuer, pin mismatch), then what to do.
///
/// BoringSSL says only "certificate verify failed"; the reason is worked out from the certificate the server
/// presented, which the handshake leaves behind even when it fails.
public enum TLSFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case expired(notAfter: Date, names: [String])
    case notYetValid(notBefore: Date, names: [String])
    case wrongHost(expected: String, names: [String])
    /// The chain leads to no authority trusted here (a self-signed certificate, a private CA not given).
    case unknownIssuer(names: [String], fingerprint: CertificateFingerprint?)
    case pinMismatch(presented: CertificateFingerprint?)
    /// What answered was not TLS (a plaintext port).
    case notTLS
    /// The server closed the connection in the middle of the handshake.
    case closedDuringHandshake
    case other(String)

    public var description: String {
        switch self {
        case .expired(let notAfter, let names):
            "certificate expired: the certificate for \(Self.list(names)) expired on \(Self.date(notAfter))"
        case .notYetValid(let notBefore, let names):
            "certificate not yet valid: the certificate for \(Self.list(names)) is valid from \(Self.date(notBefore))"
        case .wrongHost(let expected, let names):
            "wrong host: the certificate is for \(Self.list(names)), not \(expected)"
        case .unknownIssuer(let names, let fingerprint):
            "unknown issuer: the certificate for \(Self.list(names)) is not signed by an authority this client "
                + "trusts; give the authority with --tls-ca FILE"
                + (fingerprint.map { ", or pin this certificate with --tls-pin \($0)" } ?? "")
        case .pinMismatch(let presented):
            "pin mismatch: the server's certificate is not the pinned one"
                + (presented.map { " (it presented SHA-256 \($0))" } ?? "")
        case .notTLS:
            "the server does not speak TLS on this port (a plaintext port? connect without tls://)"
        case .closedDuringHandshake:
            "the server closed the connection during the TLS handshake"
        case .other(let text):
            text
        }
    }

    /// The reason behind a failed handshake. `peer` is the certificate the server presented, if it got that far.
    public static func diagnose(
        _ error: any Error, peer: NIOSSLCertificate?, host: String, trust: TLSTrust, now: Date = Date()
    ) -> TLSFailure {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return .wrongHost(expected: host, names: peer.map(names(of:)) ?? [])
        }
        let text = "\(error)"
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH_TOO_LONG")
            || text.contains("RECORD_TOO_LARGE") || text.contains("UNEXPECTED_RECORD")
        {
            return .notTLS
        }
        guard text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("unableToValidateCertificate") else {
            if case NIOSSLError.uncleanShutdown = error { return .closedDuringHandshake }
            if case NIOSSLError.handshakeFailed(.sslError(let stack)) = error,
                stack.contains(where: { "\($0)".contains("EOF") })
            {
                return .closedDuringHandshake
            }
            return .other("TLS handshake failed: \(error)")
        }
        if case .pinned = trust { return .pinMismatch(presented: peer.flatMap { try? CertificateFingerprint(of: $0) }) }
        guard let peer else { return .unknownIssuer(names: [], fingerprint: nil) }
        let notAfter = Date(timeIntervalSince1970: TimeInterval(peer.notValidAfter))
        let notBefore = Date(timeIntervalSince1970: TimeInterval(peer.notValidBefore))
        if now > notAfter { return .expired(notAfter: notAfter, names: names(of: peer)) }
        if now < notBefore { return .notYetValid(notBefore: notBefore, names: names(of: peer)) }
        return .unknownIssuer(names: names(of: peer), fingerprint: try? CertificateFingerprint(of: peer))
    }

    /// The DNS names and IP addresses a certificate is for (its common name when it has no alternative names).
    public static func names(of certificate: NIOSSLCertificate) -> [String] {
        // The description is the one public place NIOSSL renders IP entries: "…;common_name=x;alternative_names=a,b>".
        let description = certificate.description.dropLast()
        var commonName: String?
        for part in description.split(separator: ";") {
            if part.hasPrefix("alternative_names=") {
                return part.dropFirst("alternative_names=".count).split(separator: ",").map(String.init)
            }
            if part.hasPrefix("common_name=") { commonName = String(part.dropFirst("common_name=".count)) }
        }
        return commonName.map { [$0] } ?? []
    }

    static func list(_ names: [String]) -> String {
        names.isEmpty ? "(no name)" : names.joined(separator: ", ")
    }

    static func date(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }
}
