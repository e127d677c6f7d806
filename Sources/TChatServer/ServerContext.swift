import Logging
import NIOCore
import Synchronization
import TChatProtocol

/// What every connection handler shares: the managers, the settings, and the table of open connections.
final class ServerContext: Sendable {
    let configuration: ServerConfiguration
    let channels: ChannelManager
    let clients: ClientManager
    let servers: ServerManager
    let router: NetworkRouter
    /// The certificate, link secret and MOTD as last (re)loaded.
    let live: LiveSettings
    let logger: Logger
    /// Bytes held for HISTORY answers, against `--history-answer-memory`.
    let historyAnswers: HistoryAnswers
    /// Refused connections and ended handshakes are logged at most once a second each (a flood makes thousands).
    let refusalLog = LogSampler()
    let evictionLog = LogSampler()
    /// One per event loop of the server's group, keyed by the loop's identity; fixed at start.
    private let mailboxes: [ObjectIdentifier: LoopMailbox]
    /// Likewise; each made on its loop when its first connection arrives.
    private let sweeps: [ObjectIdentifier: NIOLoopBoundBox<KeepAliveSweep?>]
    private let ircRenderCaches: [ObjectIdentifier: NIOLoopBoundBox<IRCRenderCache?>]
    private let connections: Mutex<ConnectionTable<any Channel>>
    /// Channels made by this server's clients, per address group (`--create-rate`, `--create-burst`).
    private let creations: Mutex<ConnectionThrottle>
    private let nextConnectionID = Atomic<UInt64>(1)
    private let shuttingDown = Atomic<Bool>(false)

    init(
        configuration: ServerConfiguration, channels: ChannelManager, clients: ClientManager,
        servers: ServerManager, router: NetworkRouter, live: LiveSettings, loops: [any EventLoop], logger: Logger
    ) {
        var mailboxes: [ObjectIdentifier: LoopMailbox] = [:]
        for loop in loops { mailboxes[ObjectIdentifier(loop)] = LoopMailbox(loop: loop) }
        self.mailboxes = mailboxes
        creations = Mutex(Self.creationThrottle(configuration))
        connections = Mutex(
            ConnectionTable(
                limits: Self.connectionLimits(configuration),
                maxOpen: configuration.maxClients + configuration.maxHandshakes))
        var sweeps: [ObjectIdentifier: NIOLoopBoundBox<KeepAliveSweep?>] = [:]
        for loop in loops {
            sweeps[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeEmptyBox(
                valueType: KeepAliveSweep.self, eventLoop: loop)
        }
        self.sweeps = sweeps
        var caches: [ObjectIdentifier: NIOLoopBoundBox<IRCRenderCache?>] = [:]
        for loop in loops {
            caches[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeEmptyBox(
                valueType: IRCRenderCache.self, eventLoop: loop)
        }
        ircRenderCaches = caches
        self.configuration = configuration
        self.channels = channels
        self.clients = clients
        self.servers = servers
        self.router = router
        self.live = live
        self.logger = logger
        historyAnswers = HistoryAnswers(limit: configuration.historyAnswerMemory)
    }

    /// Totals for metrics.
    var counters: ServerCounters { channels.counters }

    /// The mailbox of one of the server's loops (a loop from elsewhere, which never happens, gets a new one).
    func mailbox(for loop: any EventLoop) -> LoopMailbox {
        mailboxes[ObjectIdentifier(loop)] ?? LoopMailbox(loop: loop)
    }

    /// The IRC render cache of the loop the caller is on (a loop from elsewhere gets its own).
    func ircRenderCache(on loop: any EventLoop) -> IRCRenderCache {
        guard let box = ircRenderCaches[ObjectIdentifier(loop)] else { return IRCRenderCache() }
        if let cache = box.value { return cache }
        let cache = IRCRenderCache()
        box.value = cache
        return cache
    }

    /// The keep-alive sweep of the loop the caller is on (a loop from elsewhere, as in tests, gets its own).
    func keepAlive(on loop: any EventLoop) -> KeepAliveSweep {
        let timeout = TimeAmount(configuration.idleTimeout)
        let frameTimeout = TimeAmount(configuration.frameTimeout)
        let helloTimeout = TimeAmount(configuration.helloTimeout)
        guard let box = sweeps[ObjectIdentifier(loop)] else {
            return KeepAliveSweep(loop: loop, timeout: timeout, frameTimeout: frameTimeout, helloTimeout: helloTimeout)
        }
        if let sweep = box.value { return sweep }
        let sweep = KeepAliveSweep(loop: loop, timeout: timeout, frameTimeout: frameTimeout, helloTimeout: helloTimeout)
        box.value = sweep
        return sweep
    }

    /// What became of a new connection.
    enum Admission {
        /// Admitted, under the id; `evicted` is an unfinished handshake ended to make room for it.
        case admitted(UInt64, evicted: (any Channel)?)
        case full
        case tooManyFromAddress
        case connectingTooFast
        case shuttingDown
        /// A server operator banned the address.
        case banned(ServerBan)
    }

    static func connectionLimits(_ configuration: ServerConfiguration) -> ConnectionTable<any Channel>.Limits {
        .init(
            maxPerGroup: configuration.maxConnectionsPerAddress, maxHandshakes: configuration.maxHandshakes,
            connectRate: configuration.connectRate, connectBurst: configuration.connectBurst)
    }

    static func creationThrottle(_ configuration: ServerConfiguration) -> ConnectionThrottle {
        ConnectionThrottle(
            rate: Double(configuration.channelCreationsPerMinute) / 60, burst: configuration.channelCreationBurst)
    }

    /// Whether a client at `ip` may make a channel now; counts it if so.
    func mayCreateChannel(from ip: String) -> Bool {
        let group = addressGroup(of: ip)
        return creations.withLock { $0.allow(group, now: .now()) }
    }

    /// The limits in force (`live.configuration`) after a reload, for the connections to come.
    func applyConnectionLimits() {
        let configuration = live.configuration
        creations.withLock { throttle in
            if throttle.rate != Double(configuration.channelCreationsPerMinute) / 60
                || throttle.burst != Double(configuration.channelCreationBurst)
            {
                throttle = Self.creationThrottle(configuration)
            }
        }
        connections.withLock {
            $0.update(
                limits: Self.connectionLimits(configuration),
                maxOpen: configuration.maxClients + configuration.maxHandshakes)
        }
    }

    /// The group an address counts under for `--max-per-ip` and `--connect-rate`.
    func addressGroup(of ip: String) -> AddressGroup {
        AddressGroup(ip: ip, ipv6Prefix: live.configuration.ipv6Prefix)
    }

    /// Registers a new connection from `address` (an IP address), unless its address group has `--max-per-ip`
    /// open or connected too often lately, the server is full, or it is going down.
    func admitConnection(_ channel: any Channel, from address: String) -> Admission {
        guard !isShuttingDown else { return .shuttingDown }
        if let ban = clients.accounts?.ban(forAddress: address) { return .banned(ban) }
        let id = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let group = addressGroup(of: address)
        let admission = connections.withLock { $0.admit(id, channel, ip: address, group: group) }
        switch admission {
        case .admitted(let evicted): return .admitted(id, evicted: evicted)
        case .tooManyFromAddress: return .tooManyFromAddress
        case .connectingTooFast: return .connectingTooFast
        case .full: return .full
        }
    }

    /// The connection was welcomed: it no longer holds a handshake place.
    func handshakeFinished(_ id: UInt64) {
        connections.withLock { $0.finishHandshake(id) }
    }

    func connectionClosed(_ id: UInt64) {
        connections.withLock { $0.remove(id) }
    }

    /// Connections that have not finished their handshake.
    var pendingHandshakes: Int { connections.withLock { $0.handshakeCount } }

    var openConnections: [any Channel] { connections.withLock { $0.connections } }

    var openConnectionCount: Int { connections.withLock { $0.count } }

    /// The open connections from one IP address (a server ban of that address ends them).
    func connections(from address: String) -> [any Channel] {
        connections.withLock { $0.connections(from: address) }
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    func beginShutdown() { shuttingDown.store(true, ordering: .relaxed) }
}
