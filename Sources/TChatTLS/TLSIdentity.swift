public import Foundation
import NIOCore
public import NIOSSL

/// A certificate chain and its private key, read from PEM files: what a server presents (certbot's
/// `fullchain.pem` and `privkey.pem` are such a pair).
///
/// Everything that can be wrong with the files is found when they are read, not at the first handshake: a missing
/// file, no certificate in it, a key that is not the certificate's.
public struct TLSIdentity: Sendable {
    public let chain: [NIOSSLCertificate]
    public let key: NIOSSLPrivateKey
    /// The leaf certificate's fingerprint: logged at start-up, so that clients and other servers can pin it.
    public let fingerprint: CertificateFingerprint
    /// When the leaf certificate stops being valid.
    public let notValidAfter: Date

    public init(certificateFile: String, keyFile: String) throws(TLSSetupError) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw TLSSetupError("cannot read a PEM certificate from \(certificateFile) (\(Self.reason(error)))")
        }
        guard let leaf = chain.first else {
            throw TLSSetupError("\(certificateFile) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw TLSSetupError("cannot read a PEM private key from \(keyFile) (\(Self.reason(error)))")
        }
        // Building a context checks that the key belongs to the certificate.
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError("the key in \(keyFile) does not belong to the certificate in \(certificateFile)")
        }
        self.chain = chain
        self.key = key
        do {
            fingerprint = try CertificateFingerprint(of: leaf)
        } catch {
            throw TLSSetupError("cannot read the certificate in \(certificateFile) (\(error))")
        }
        notValidAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
    }

    /// A server context presenting this identity, TLS 1.2 or later; with `pins`, a client must present a certificate
    /// with one of those fingerprints (links between servers that pin each other).
    public func serverContext(requiringClientPins pins: [CertificateFingerprint] = []) throws(TLSSetupError)
        -> NIOSSLContext
    {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if !pins.isEmpty { configuration.certificateVerification = .noHostnameVerification }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError("cannot set up TLS: \(error)")
        }
    }

    private static func reason(_ error: any Error) -> String {
        if case NIOSSLError.noSuchFilesystemObject = error { return "no such file" }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}

extension NIOSSLServerHandler {
    /// A server handler that admits only clients presenting a certificate with one of `pins`; without pins, any
    /// client (the context then asks for no certificate at all).
    public static func requiring(_ pins: [CertificateFingerprint], context: NIOSSLContext) -> NIOSSLServerHandler {
        guard !pins.isEmpty else { return NIOSSLServerHandler(context: context) }
        return NIOSSLServerHandler(context: context) { chain, promise in
            promise.succeed(TLSClient.matches(chain.first, pins) ? .certificateVerified : .failed)
        }
    }
}
