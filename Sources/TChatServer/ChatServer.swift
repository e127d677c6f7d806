public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
public import TChatProtocol

/// A running `tchatd`: the data directory, the managers and the two listening sockets, as one `Service`.
///
/// `run()` serves until graceful shutdown (SIGTERM or SIGINT in a `ServiceGroup`): then it stops accepting, tells
/// every client the server is going down, closes them, flushes and closes the history, and returns. Tests call
/// `start()` and `shutdown()` directly and read the bound ports in between.
public final class ChatServer: Service, Sendable {
    private struct Running: Sendable {
        let group: MultiThreadedEventLoopGroup
        let threadPool: NIOThreadPool
        /// Password hashing and the accounts file, apart from history reads.
        let accountPool: NIOThreadPool
        let accountWatch: RepeatedTask?
        let store: any ChatStorage
        let context: ServerContext
        let listener: ServerListener
    }

    private enum State: Sendable {
        case idle
        case running(Running)
        case stopped
    }

    public let configuration: ServerConfiguration
    private let logger: Logger
    private let state = Mutex(State.idle)

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Where clients and peers can connect, once started (`peers` is nil when the server does not listen for
    /// them; `plain` is the extra plaintext client port, if any).
    public var addresses: (clients: ServerAddress, peers: ServerAddress?, plain: ServerAddress?)? {
        state.withLock { state in
            guard case .running(let running) = state else { return nil }
            return (running.listener.clientAddress, running.listener.peerAddress, running.listener.plainAddress)
        }
    }

    /// Where IRC clients connect (`--irc-listen`), once started; nil without an IRC port.
    public var ircAddress: ServerAddress? {
        state.withLock { state in
            guard case .running(let running) = state else { return nil }
            return running.listener.ircAddress
        }
    }

    /// SIGHUP: reads the certificate and key, the link secret and the MOTD again, and with `configuration` (the
    /// configuration file read again) takes its settings that can change live; connections open stay as they are.
    /// Returns the flags that `configuration` changes but only a restart applies.
    @discardableResult
    public func reload(configuration: ServerConfiguration? = nil) -> [String] {
        let context: ServerContext? = state.withLock { state in
            guard case .running(let running) = state else { return nil }
            return running.context
        }
        guard let context else { return [] }
        let restartNeeded = context.live.reload(logger: logger, configuration: configuration)
        context.applyConnectionLimits()
        if !restartNeeded.isEmpty {
            logger.warning(
                "settings changed in the configuration file take effect at the next start",
                metadata: ["flags": "\(restartNeeded.joined(separator: " "))"])
        }
        return restartNeeded
    }

    /// What a running server shares between its connections (for tests).
    var context: ServerContext? {
        state.withLock { state in
            guard case .running(let running) = state else { return nil }
            return running.context
        }
    }

    /// Totals and levels now, for metrics; empty before the server runs.
    public func statistics() -> ServerStatistics {
        let running: Running? = state.withLock { state in
            guard case .running(let running) = state else { return nil }
            return running
        }
        var statistics = ServerStatistics()
        guard let running else { return statistics }
        let context = running.context
        let counters = context.counters
        statistics.messages = counters.messages.load(ordering: .relaxed)
        statistics.deliveries = counters.deliveries.load(ordering: .relaxed)
        statistics.acceptedConnections = counters.accepted.load(ordering: .relaxed)
        statistics.refusedConnections = counters.refusedConnections.load(ordering: .relaxed)
        statistics.evictedHandshakes = counters.evictedHandshakes.load(ordering: .relaxed)
        for (code, count) in counters.errorsByCode {
            if let code = ErrorCode(rawValue: code) { statistics.errors[code] = count }
        }
        statistics.connections = context.openConnectionCount
        statistics.pendingHandshakes = context.pendingHandshakes
        statistics.clients = context.clients.count
        statistics.channels = context.channels.channelCount
        statistics.links = context.servers.peers.map(\.hello.name).sorted()
        statistics.historyMemoryBytes = context.channels.historyMemory.bytes
        statistics.historyAnswerBytes = context.historyAnswers.bytes
        (statistics.writerQueuedBytes, statistics.writerLag) = running.store.backlog
        return statistics
    }

    /// How many other servers are linked (for tests and monitoring).
    public var linkedServers: Int {
        state.withLock { state in
            guard case .running(let running) = state else { return 0 }
            return running.context.servers.peers.count
        }
    }

    /// The id of the server that numbers channel messages (this one's when alone; for tests and monitoring).
    public var sequencerID: UInt64? {
        state.withLock { state in
            guard case .running(let running) = state else { return nil }
            return running.context.servers.leader
        }
    }

    /// The load the linked servers last reported.
    public var peerLoads: [(name: String, clients: UInt32, capacity: UInt32)] {
        state.withLock { state in
            guard case .running(let running) = state else { return [] }
            return running.context.servers.peers.map { ($0.hello.name, $0.clients, $0.capacity) }
        }
    }

    /// Whether this server takes clients: false while it cannot reach its store (for tests and monitoring).
    public var takesClients: Bool {
        state.withLock { state in
            guard case .running(let running) = state else { return false }
            return running.context.servers.takesClients.load(ordering: .relaxed)
        }
    }

    /// Opens the data directory, loads it, and binds both sockets.
    public func start() async throws {
        guard state.withLock({ if case .idle = $0 { true } else { false } }) else {
            throw ProtocolError(.internalError, "the server was already started")
        }
        let configuration = self.configuration
        if configuration.requireAccount, configuration.registration == .off {
            throw ProtocolError(.invalidArgument, "--require-account needs accounts: not with --registration off")
        }
        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let accountPool = NIOThreadPool(numberOfThreads: 1)
        accountPool.start()
        let logger = self.logger
        let loaded:
            (any ChatStorage, [StoredChannel], [String], [NickRecord], UInt64, (any AccountStorage, StoredAccounts)?)
        do {
            loaded = try await threadPool.runIfActive {
                let files: any ChatStorage = try HistoryStore(
                    directory: configuration.dataDirectory, policy: configuration.fsync,
                    historyLimit: configuration.historyLimit, connectionLog: configuration.connectionLog,
                    journalCompaction: configuration.journalCompaction, logger: logger)
                let serverID = try ServerIdentity.load(directory: configuration.dataDirectory)
                let store = try configuration.storage.map { try $0(files, serverID, logger) } ?? files
                let channels = try store.loadChannels()
                let unclaimed = try store.unclaimedFiles(claimed: Set(channels.map(\.record.file)))
                for file in unclaimed {
                    logger.warning(
                        "a history file no channel names is left alone",
                        metadata: ["file": "\(configuration.dataDirectory)/channels/\(file)"])
                }
                let accounts =
                    try configuration.registration == .off
                    ? nil : store.accountStorage(directory: configuration.dataDirectory)
                let loadedAccounts = try accounts.map { ($0, try $0.load()) }
                return (store, channels, unclaimed, try store.loadNicks(), serverID, loadedAccounts)
            }
        } catch {
            try? await threadPool.shutdownGracefully()
            try? await accountPool.shutdownGracefully()
            throw error
        }
        let (store, channels, unclaimed, nicks, serverID, accountsFile) = loaded
        let accounts = accountsFile.map {
            AccountBook(
                storage: $0.0, loaded: $0.1,
                policy: configuration.registration, operators: configuration.operators, pool: accountPool,
                iterations: configuration.scramIterations, logger: logger)
        }
        let live: LiveSettings
        let registry = configuration.discover ? DiscoveryRegistry(directory: configuration.discoveryDirectory) : nil
        do {
            try registry?.prepare()
            live = try LiveSettings(configuration: configuration, registry: registry)
        } catch {
            await store.shutdown()
            try? await threadPool.shutdownGracefully()
            try? await accountPool.shutdownGracefully()
            throw error
        }
        let group = MultiThreadedEventLoopGroup(
            numberOfThreads: configuration.threads > 0 ? configuration.threads : System.coreCount)
        do {
            // The links first, so the feed's one subscriber is fixed before any change is emitted: reading it then
            // takes no lock on the message path.
            let serverManager = ServerManager(
                serverID: serverID, name: configuration.name, clientAddress: configuration.clientAddress.description,
                configuration: configuration, group: group, live: live, registry: registry, store: store.identity,
                logger: logger)
            let feed = ChangeFeed(subscriber: ChangeReplicator(servers: serverManager))
            let channelManager = try ChannelManager(
                store: store, threadPool: threadPool, loaded: channels, unclaimedFiles: unclaimed,
                maxChannelsPerClient: configuration.maxChannelsPerClient,
                maxReplayBytes: min(1 << 20, configuration.maxOutboundBytes / 4),
                historyMemory: HistoryMemory(
                    limit: configuration.historyMemory, perChannel: configuration.channelHistoryMemory),
                feed: feed, logger: logger)
            let clientManager = ClientManager(
                store: store, known: nicks, serverName: configuration.name, serverID: serverID, feed: feed,
                accounts: accounts, logger: logger)
            serverManager.setLoad { [weak clientManager] in clientManager?.count ?? 0 }
            if let accounts { channelManager.forgetAccounts(notIn: accounts.keys) }
            accounts?.onDrop { [weak clientManager, weak channelManager] key in
                let (loggedOut, changes) = clientManager?.forgetAccount(key) ?? ([], [])
                channelManager?.forgetAccount(key)
                ClientManager.tellLoggedOut(loggedOut)
                for change in changes { channelManager?.announceAccount(change) }
            }
            for name in configuration.operators where accounts?.account(forKey: Nick.key(for: name)) == nil {
                logger.warning(
                    "--operator \(name) has no account: make it with tchatd account add (REGISTER refuses the name)")
            }
            store.start(
                files: channelManager.fileRanges,
                snapshots: StoreWriter.Snapshots(
                    channels: { [weak channelManager] in channelManager?.snapshot() },
                    nicks: { [weak clientManager] in clientManager?.snapshot() },
                    nickChanges: { [weak clientManager] in clientManager?.takeNickChanges() ?? ([], 0) }))
            let router = NetworkRouter(
                servers: serverManager, channels: channelManager, clients: clientManager, group: group,
                forwardTimeout: configuration.forwardTimeout, maxWaitingBytes: configuration.maxWaitingBytes,
                logger: logger)
            serverManager.setHandler(router)
            store.commitLog?.start(router.commitLogEvents())
            let context = ServerContext(
                configuration: configuration, channels: channelManager, clients: clientManager,
                servers: serverManager, router: router, live: live, loops: Array(group.makeIterator()), logger: logger)
            // Accounts and bans changed here go to every linked server; a ban from anywhere puts out whom it names.
            accounts?.onChange { records in
                for record in records { feed.emit(.record(record)) }
            }
            accounts?.onBan { [weak context] ban in
                guard let context else { return }
                let error = ProtocolError(.serverBanned, "you are banned from this server: \(ban.reason)")
                if ban.mask.hasPrefix("account:") {
                    let key = String(ban.mask.dropFirst("account:".count))
                    for victim in context.clients.sessions(ofAccount: key) {
                        ConnectionHandler.end(victim.channel, error)
                    }
                } else {
                    for channel in context.connections(from: String(ban.mask.dropFirst("address:".count))) {
                        ConnectionHandler.end(channel, error)
                    }
                }
            }
            let listener: ServerListener
            do {
                listener = try await ServerListener.bind(group: group, server: context)
            } catch {
                await store.shutdown()
                throw error
            }
            serverManager.start(
                clientAddress: listener.clientAddress.description,
                peerAddress: listener.peerAddress?.description ?? "")
            let accountWatch = accounts?.watchStore(on: group.next())
            state.withLock {
                $0 = .running(
                    Running(
                        group: group, threadPool: threadPool, accountPool: accountPool, accountWatch: accountWatch,
                        store: store, context: context, listener: listener))
            }
            logger.info(
                "listening clients=\(listener.clientAddress) peers=\(listener.peerAddress?.description ?? "-")",
                metadata: [
                    "name": "\(configuration.name)", "id": "\(ServerIdentity.hex(serverID))",
                    "data": "\(configuration.dataDirectory)",
                    "channels": "\(channels.count)", "fsync": "\(configuration.fsync)",
                    "accounts":
                        "\(accounts.map { "\($0.count), registration \(configuration.registration)" } ?? "off")",
                ])
            logSecurity(live.current, listener: listener)
        } catch {
            try? await group.shutdownGracefully()
            try? await threadPool.shutdownGracefully()
            try? await accountPool.shutdownGracefully()
            throw error
        }
    }

    /// Says at start-up what protects the ports: TLS (and the certificate's fingerprint, to pin) and linking.
    private func logSecurity(_ settings: LiveSettings.Snapshot, listener: ServerListener) {
        if let tls = settings.tls {
            logger.notice(
                "TLS on: clients and links must use it",
                metadata: [
                    "certificate sha256": "\(tls.identity.fingerprint)", "expires": "\(tls.identity.notValidAfter)",
                    "pinned peers": "\(tls.pins.count)",
                ])
            LiveSettings.warnIfExpiring(tls.identity, logger: logger)
        } else if !configuration.clientAddress.isLoopback {
            logger.warning(
                "TLS off: clients on \(configuration.clientAddress) talk in plaintext (--tls-cert and --tls-key)")
        }
        if let plain = listener.plainAddress {
            logger.notice("plaintext client port for this host: \(plain)")
        }
        if let irc = listener.ircAddress {
            logger.notice("IRC clients connect to \(irc)\(settings.tls == nil ? "" : " over TLS")")
        }
        guard listener.peerAddress != nil else { return }
        guard let secret = settings.linkSecret else {
            logger.notice("linking off: the peer port refuses every link (no --link-secret)")
            if !configuration.peers.isEmpty {
                logger.warning("--peer is not dialled: without a link secret no link can be proved")
            }
            return
        }
        logger.notice(
            "linking on: a linked server must prove it knows the secret", metadata: ["secret": "\(secret.path)"])
        if settings.tls == nil, !configuration.peerAddress.isLoopback {
            let warning =
                "links to \(configuration.peerAddress) are authenticated but not encrypted: "
                + "give a certificate (--tls-cert) to protect them on a network"
            logger.warning("\(warning)")
        }
    }

    public func run() async throws {
        try await start()
        // Wait for SIGTERM/SIGINT (delivered by the ServiceGroup), then stop in order.
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops accepting, says goodbye to every client, closes them, then flushes and closes the history.
    public func shutdown() async {
        let running: Running? = state.withLock { state in
            guard case .running(let running) = state else { return nil }
            state = .stopped
            return running
        }
        guard let running else { return }
        logger.info("shutting down")
        running.context.beginShutdown()
        await running.listener.close()
        await running.context.servers.stop()

        var goodbye = ByteBufferAllocator().buffer(capacity: 128)
        try? ServerFrame.notice("server \(configuration.name) is shutting down").encode(requestID: 0, into: &goodbye)
        try? ServerFrame.error(ProtocolError(.shuttingDown, "the server is shutting down"))
            .encode(requestID: 0, into: &goodbye)
        let connections = running.context.openConnections
        for connection in connections {
            connection.writeLastWords(goodbye)
        }
        for connection in connections {
            try? await connection.closeFuture.get()
        }
        running.accountWatch?.cancel()
        await running.store.shutdown()
        try? await running.group.shutdownGracefully()
        try? await running.threadPool.shutdownGracefully()
        try? await running.accountPool.shutdownGracefully()
        logger.info("stopped")
    }
}
