/// A `HOST:PORT` pair as given on command lines and in `TCHAT_SERVER`; IPv6 hosts are written `[::1]:7667`.
///
/// A client's address may start with `tls://`: the connection then speaks TLS, and a server says so in the
/// addresses it hands out (redirects, LIST_SERVERS), so a client never goes from a TLS server to a plaintext one
/// without knowing.
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Whether connections to it speak TLS (`tls://` in front).
    public var usesTLS: Bool

    /// The client port a server listens on unless told otherwise.
    public static let defaultClientPort = 7667
    /// The peer port a server listens on unless told otherwise.
    public static let defaultPeerPort = 7668
    /// The IRC port (`tchatd --irc-listen`) unless told otherwise: IRC's own.
    public static let defaultIRCPort = 6667
    /// What marks an address that speaks TLS.
    public static let tlsScheme = "tls://"

    public init(host: String, port: Int, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, or a bare `HOST` (taking `defaultPort`); with `allowingTLS`, any of them after
    /// `tls://`.
    public init(parsing text: String, defaultPort: Int, allowingTLS: Bool = false) throws(ProtocolError) {
        func refuse(_ why: String) -> ProtocolError {
            ProtocolError(.invalidArgument, "'\(text)' is not HOST:PORT: \(why)")
        }
        var rest = Substring(text)
        var usesTLS = false
        if rest.lowercased().hasPrefix(Self.tlsScheme) {
            guard allowingTLS else { throw refuse("no tls:// here (TLS is turned on by certificate files)") }
            usesTLS = true
            rest = rest.dropFirst(Self.tlsScheme.count)
        } else if rest.contains("://") {
            throw refuse("the only scheme is tls://")
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw refuse("missing ']'") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let tail = rest[rest.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":") else { throw refuse("expected ':' after ']'") }
                portText = tail.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":"), rest.firstIndex(of: ":") == colon {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw refuse("the host is empty") }
        let unwanted: (Unicode.Scalar) -> Bool = {
            TextField.isControl($0) || $0 == " " || $0 == "/" || $0.properties.generalCategory == .format
        }
        guard !host.unicodeScalars.contains(where: unwanted) else {
            throw refuse("the host may not contain spaces, '/', control or invisible (format) characters")
        }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (0...65535).contains(value) else {
                throw refuse("the port must be a number from 0 to 65535")
            }
            port = value
        }
        self.init(host: String(host), port: port, usesTLS: usesTLS)
    }

    /// `HOST:PORT` without the scheme.
    public var hostAndPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { (usesTLS ? Self.tlsScheme : "") + hostAndPort }

    /// Whether the host is a loopback address (127.0.0.0/8, ::1) or `localhost`.
    public var isLoopback: Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let parts = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
