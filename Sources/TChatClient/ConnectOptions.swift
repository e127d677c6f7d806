public import TChatProtocol
public import TChatTLS

/// How to reach a server and whom to say we are.
public struct ConnectOptions: Sendable {
    public var server: ServerAddress
    public var nick: String
    public var clientName = "tchat"
    public var clientVersion = TChatVersion.current
    public var connectTimeout: Duration = .seconds(5)
    /// The largest frame accepted from the server. Generous: a server's frames are bounded by its own limits.
    public var maxFrameLength = 16 << 20
    /// Whether events (channel messages, joins...) are delivered. A send-only client says no, so that events it
    /// will never read cannot fill the buffer and stall the connection.
    public var receivesEvents = true
    /// After this long without hearing from the server the client pings it, and after twice this long it gives
    /// the connection up as dead: a vanished server or network is noticed, not waited on forever. Nil: never.
    public var keepAlive: Duration? = .seconds(30)
    /// How many times to follow a server's redirect to a less loaded one; after the last hop the client asks to
    /// stay where it is.
    public var maxRedirects = 3
    /// Whom to believe when `server` is a `tls://` address: the system's authorities by default.
    public var tlsTrust: TLSTrust = .systemRoots
    /// When set, the client logs in (SCRAM-SHA-256) before its hello, on every connection it makes.
    public var credentials: Credentials?

    public init(server: ServerAddress, nick: String) {
        self.server = server
        self.nick = nick
    }
}

/// A server answered the hello by sending the client elsewhere.
public struct Redirect: Error, Sendable, Equatable {
    public var address: String
    public var server: String

    public init(address: String, server: String) {
        self.address = address
        self.server = server
    }
}

/// A failure to connect or a lost connection, said in one line.
public struct ConnectionError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
