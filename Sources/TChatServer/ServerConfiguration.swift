package import Logging
public import TChatProtocol
public import TChatTLS

/// Everything `tchatd`'s flags set; the defaults are the documented ones (`man/tchatd.8`).
public struct ServerConfiguration: Sendable {
    /// Where clients connect (`--listen`).
    public var clientAddress = ServerAddress(host: "127.0.0.1", port: ServerAddress.defaultClientPort)
    /// Where other servers connect (`--peer-listen`).
    public var peerAddress = ServerAddress(host: "127.0.0.1", port: ServerAddress.defaultPeerPort)
    /// The data directory (`--data-dir`).
    public var dataDirectory: String
    /// `--store`: a backend for channels and messages in place of the data directory's channel files, made at
    /// start-up (blocking, on a thread pool) from the files' store, which keeps the server's own nicks and
    /// connection log, and the server's id. Nil: the files hold everything.
    package var storage:
        (@Sendable (_ files: any ChatStorage, _ serverID: UInt64, _ logger: Logger) throws -> any ChatStorage)?
    /// What `--store` and `--store-commit-interval` said, for a reload to tell they changed (`storage` is made at
    /// start-up only).
    package var storeFlags = ""
    package var storeCommitInterval = ""
    /// The server's name in welcomes and server lists (`--name`).
    public var name: String
    /// The message of the day sent in every welcome (`--motd FILE`'s contents).
    public var motd = ""
    /// `--motd FILE`: read again on SIGHUP.
    public var motdFile: String?
    /// `--tls-cert` and `--tls-key`: with both, the client port and the links speak TLS only (TLS 1.2 or later).
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// `--plain-listen`: with TLS on, an extra plaintext client port, for scripts on this host; loopback only.
    public var plainClientAddress: ServerAddress?
    /// `--irc-listen`: a port that speaks IRC to the same server (TLS when the client port does).
    public var ircAddress: ServerAddress?
    /// `--link-secret FILE`: the secret linked servers prove they share. With none (and no `--discover`), the peer
    /// port refuses every link.
    public var linkSecretFile: String?
    /// `--peer-fingerprint`: with TLS, the certificates linked servers must present, both ways.
    public var peerFingerprints: [CertificateFingerprint] = []
    /// How long a client's message may wait for the sequencer to number it before the client is told it may not
    /// have been delivered.
    public var forwardTimeout: Duration = .seconds(30)
    /// Bytes of numbered messages held ahead of a gap (waiting for the history that fills it), in all channels;
    /// past it, what arrives ahead of a gap is not kept, since the history brings it again.
    public var maxWaitingBytes = 64 << 20
    /// How long a link may take from connecting to both hellos (the handshake).
    public var linkHandshakeTimeout: Duration = .seconds(10)
    /// Whether to listen on the peer port at all (`tchat --local` does not: its server never links).
    public var listensForPeers = true
    /// Which addresses gossip (PEERS) may make this server dial; every address by default. A test that sends
    /// mutated gossip keeps it to loopback.
    public var mayDial: @Sendable (ServerAddress) -> Bool = { _ in true }
    /// Connections accepted at once (`--max-clients`); more are refused with `server-full`.
    public var maxClients = 10_000
    /// The largest frame length accepted (`--max-frame`).
    public var maxFrameLength = ProtocolLimits.defaultMaxFrameLength
    /// A connection silent this long is closed (`--idle-timeout`); a ping goes out at half of it.
    public var idleTimeout: Duration = .seconds(120)
    /// Messages kept per channel (`--history-limit`).
    public var historyLimit = 10_000
    /// Bytes of history all channels keep in memory (`--history-memory`); what memory does not hold is read from
    /// disk when asked for.
    public var historyMemory = 256 << 20
    /// Bytes held for HISTORY answers read and not yet written, server-wide (`--history-answer-memory`); requests
    /// past it wait their turn.
    public var historyAnswerMemory = 64 << 20
    /// Bytes of history one channel keeps in memory (`--channel-history-memory`).
    public var channelHistoryMemory = 4 << 20
    /// When the connection log (`clients.jsonl`) is rotated and how many old ones are kept
    /// (`--connection-log-size`, `--connection-log-files`).
    public var connectionLog = LogRotation()
    /// When history is forced to disk (`--fsync`).
    public var fsync: FsyncPolicy = .interval(.seconds(1))
    /// Bytes queued for one client beyond which it is cut off (`--max-queue`).
    public var maxOutboundBytes = 4 << 20
    /// Channels one client may be in at once (`--max-channels`).
    public var maxChannelsPerClient = 500
    /// Channels this server's clients may make, all told (`--max-server-channels`); channels made by linked
    /// servers' clients are not refused, so a network agrees on what exists.
    public var maxServerChannels = 10_000
    /// Channels the clients of one address group may make per minute (`--create-rate`; 0 for no limit), after
    /// `channelCreationBurst`.
    public var channelCreationsPerMinute = 10
    /// Channels one client may make at once before `channelCreationsPerMinute` applies (`--create-burst`).
    public var channelCreationBurst = 20
    /// Connections from one address at once (`--max-per-ip`); 0 for no limit. IPv6 addresses count by prefix.
    public var maxConnectionsPerAddress = 100
    /// The IPv6 prefix length per-address limits count by (`--ipv6-prefix`): one host often holds a /64.
    public var ipv6Prefix = 64
    /// New connections one address may open per second (`--connect-rate`), after `connectBurst`; 0 for no limit.
    public var connectRate: Double = 20
    /// New connections one address may open at once before `connectRate` applies (`--connect-burst`).
    public var connectBurst = 200
    /// Connections that have not finished their handshake, at most (`--max-handshakes`); past it, the oldest of the
    /// address group holding the most is ended.
    public var maxHandshakes = 16_384
    /// How long a new connection has to say HELLO (`--hello-timeout`).
    public var helloTimeout: Duration = .seconds(5)
    /// Requests a client may make per second once its burst is spent (`--rate`); 0 for no limit.
    public var requestRate: Double = 100
    /// Requests a client may make at once before `requestRate` applies (`--burst`).
    public var requestBurst = 400
    /// How long a frame may take from its first byte to its last (`--frame-timeout`).
    public var frameTimeout: Duration = .seconds(10)
    /// Event loop threads; 0 means one per core.
    public var threads = 0
    /// Servers to link to (`--peer`, repeatable): their peer addresses.
    public var peers: [ServerAddress] = []
    /// Whether to find the other servers on this host through the discovery directory (`--discover`).
    public var discover = false
    /// The discovery directory (`$XDG_RUNTIME_DIR/tchatd/servers`, else `/tmp/tchatd-UID/servers`).
    public var discoveryDirectory = DiscoveryRegistry.defaultDirectory()
    /// How often linked servers report their load (`--heartbeat`); three silent heartbeats drop a link.
    public var heartbeat: Duration = .seconds(2)
    /// Whether new clients may be sent to a less loaded server (`--no-redirect` turns it off).
    public var redirects = true
    /// How many more clients than the least loaded linked server this one takes before redirecting
    /// (`--balance-margin`).
    public var balanceMargin = 10

    /// Who may create accounts (`--registration`).
    public var registration = RegistrationPolicy.open
    /// Whether only logged-in clients are admitted (`--require-account`).
    public var requireAccount = false
    /// Accounts that are server operators (`--operator`, repeatable).
    public var operators: [String] = []
    /// The fewest lines a metadata journal holds before its file is written whole; lowered only by tests.
    public var journalCompaction = 10_000
    /// SCRAM iterations for new accounts' keys; lowered only by tests.
    public var scramIterations = 600_000

    public init(dataDirectory: String, name: String) {
        self.dataDirectory = dataDirectory
        self.name = name
    }
}
