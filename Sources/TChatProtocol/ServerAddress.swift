/// A `HOST:PORT` pair as given on command lines and in `TCHAT_SERVER`; IPv6 hosts are written `[::1]:7667`.
public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// The client port a server listens on unless told otherwise.
    public static let defaultClientPort = 7667
    /// The peer port a server listens on unless told otherwise.
    public static let defaultPeerPort = 7668

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, or a bare `HOST` (taking `defaultPort`).
    public init(parsing text: String, defaultPort: Int) throws(ProtocolError) {
        func refuse(_ why: String) -> ProtocolError {
            ProtocolError(.invalidArgument, "'\(text)' is not HOST:PORT: \(why)")
        }
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw refuse("missing ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw refuse("expected ':' after ']'") }
                portText = rest.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = Substring(text)
        }
        guard !host.isEmpty else { throw refuse("the host is empty") }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (0...65535).contains(value) else {
                throw refuse("the port must be a number from 0 to 65535")
            }
            port = value
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
