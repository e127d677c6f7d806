/// Whom a TLS client believes: the answer to "is this really the server I asked for?".
public enum TLSTrust: Sendable, Hashable, CustomStringConvertible {
    /// A certificate chain to an authority in the system's trust store (Debian's `/etc/ssl/certs`), for the host
    /// name (or IP address) connected to.
    case systemRoots
    /// A certificate chain to an authority in this PEM file (a private CA, or a self-signed certificate itself),
    /// for the host name connected to.
    case authority(file: String)
    /// Exactly one of these certificates, whoever signed it and whatever names and dates it carries: the pin is
    /// the trust, as with WeeChat's `tls_fingerprint` and InspIRCd's link fingerprints.
    case pinned([CertificateFingerprint])
    /// Any certificate at all: encryption without authentication. Only for server links, where the link secret and
    /// the certificate binding in the link proof say who is at the other end, and for benchmarks on loopback;
    /// `tchat` never offers it.
    case unverified

    public var description: String {
        switch self {
        case .systemRoots: "the system's trusted authorities"
        case .authority(let file): "the authority in \(file)"
        case .pinned(let pins): "the pinned certificate\(pins.count == 1 ? "" : "s") \(pins.map(\.description))"
        case .unverified: "any certificate"
        }
    }
}
