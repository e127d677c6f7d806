import NIOSSL
import TChatTLS

/// The server's TLS, made from one certificate and key: a context for the client port, one for the peer port
/// (which asks the dialling server for its certificate when links are pinned), and the client side for dialling
/// other servers. Made once per load (start-up, SIGHUP), never per connection.
struct ServerTLS: Sendable {
    let identity: TLSIdentity
    let clientContext: NIOSSLContext
    let peerContext: NIOSSLContext
    let dialer: TLSClient
    /// `--peer-fingerprint`: the certificates linked servers must present, both ways; empty for any (the link
    /// secret and the certificate binding then say who is at the other end).
    let pins: [CertificateFingerprint]

    init(identity: TLSIdentity, pins: [CertificateFingerprint]) throws(TLSSetupError) {
        self.identity = identity
        self.pins = pins
        clientContext = try identity.serverContext()
        peerContext = try identity.serverContext(requiringClientPins: pins)
        dialer = try TLSClient(trust: pins.isEmpty ? .unverified : .pinned(pins), identity: identity)
    }

    /// This server's half of the link proof's binding: the SHA-256 of the certificate it presents.
    var binding: [UInt8] { identity.fingerprint.bytes }

    /// The handler for a connection accepted on the peer port.
    func peerServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler.requiring(pins, context: peerContext)
    }
}
