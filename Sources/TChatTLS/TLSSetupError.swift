/// A TLS setting that cannot be used (a missing or unreadable file, a key that does not match its certificate, a
/// malformed fingerprint), said in one line that names the file or the value.
public struct TLSSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
