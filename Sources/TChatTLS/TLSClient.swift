import Foundation
import NIOCore
public import NIOSSL

/// A TLS client's settings made once: the context (loading a trust store costs milliseconds, so it is not done per
/// connection) and how each connection's handler checks what the server presents.
public final class TLSClient: Sendable {
    public let trust: TLSTrust
    private let context: NIOSSLContext

    /// - Parameter identity: a certificate and key to present when the server asks for one (server links do, when
    ///   they pin each other's certificates).
    public init(trust: TLSTrust, identity: TLSIdentity? = nil) throws(TLSSetupError) {
        self.trust = trust
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch trust {
        case .systemRoots:
            configuration.trustRoots = .default
        case .authority(let file):
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw TLSSetupError("cannot read the CA file \(file)")
            }
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(file)
                guard !certificates.isEmpty else { throw TLSSetupError("\(file) holds no PEM certificate") }
                configuration.trustRoots = .certificates(certificates)
            } catch let error as TLSSetupError {
                throw error
            } catch {
                throw TLSSetupError("\(file) is not a PEM certificate file (\(error))")
            }
        case .pinned(let pins):
            guard !pins.isEmpty else { throw TLSSetupError("no certificate fingerprint to pin") }
            // The verification callback decides; names, dates and issuers do not matter.
            configuration.certificateVerification = .noHostnameVerification
        case .unverified:
            configuration.certificateVerification = .none
        }
        if let identity {
            configuration.certificateChain = identity.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.key)
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError("cannot set up TLS: \(error)")
        }
    }

    /// The handler for one connection to `host` (a name is sent as SNI and checked against the certificate; an IP
    /// address is checked against its IP entries).
    public func makeHandler(host: String) throws -> NIOSSLClientHandler {
        let serverName = Self.isIPAddress(host) ? nil : host
        switch trust {
        case .systemRoots, .authority, .unverified:
            return try NIOSSLClientHandler(context: context, serverHostname: serverName)
        case .pinned(let pins):
            return try NIOSSLClientHandler(context: context, serverHostname: serverName) { chain, promise in
                promise.succeed(Self.matches(chain.first, pins) ? .certificateVerified : .failed)
            }
        }
    }

    /// Whether the leaf certificate is one of the pinned ones.
    static func matches(_ leaf: NIOSSLCertificate?, _ pins: [CertificateFingerprint]) -> Bool {
        guard let leaf, let fingerprint = try? CertificateFingerprint(of: leaf) else { return false }
        return pins.contains(fingerprint)
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
