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
    let logger: Logger
    /// One per event loop of the server's group, keyed by the loop's identity; fixed at start.
    private let mailboxes: [ObjectIdentifier: LoopMailbox]
    /// Likewise; each made on its loop when its first connection arrives.
    private let sweeps: [ObjectIdentifier: NIOLoopBoundBox<KeepAliveSweep?>]
    private let connections = Mutex<[UInt64: any Channel]>([:])
    private let nextConnectionID = Atomic<UInt64>(1)
    private let shuttingDown = Atomic<Bool>(false)

    init(
        configuration: ServerConfiguration, channels: ChannelManager, clients: ClientManager,
        servers: ServerManager, router: NetworkRouter, loops: [any EventLoop], logger: Logger
    ) {
        var mailboxes: [ObjectIdentifier: LoopMailbox] = [:]
        for loop in loops { mailboxes[ObjectIdentifier(loop)] = LoopMailbox(loop: loop) }
        self.mailboxes = mailboxes
        var sweeps: [ObjectIdentifier: NIOLoopBoundBox<KeepAliveSweep?>] = [:]
        for loop in loops {
            sweeps[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeEmptyBox(
                valueType: KeepAliveSweep.self, eventLoop: loop)
        }
        self.sweeps = sweeps
        self.configuration = configuration
        self.channels = channels
        self.clients = clients
        self.servers = servers
        self.router = router
        self.logger = logger
    }

    /// The mailbox of one of the server's loops (a loop from elsewhere, which never happens, gets a new one).
    func mailbox(for loop: any EventLoop) -> LoopMailbox {
        mailboxes[ObjectIdentifier(loop)] ?? LoopMailbox(loop: loop)
    }

    /// The keep-alive sweep of the loop the caller is on (a loop from elsewhere, as in tests, gets its own).
    func keepAlive(on loop: any EventLoop) -> KeepAliveSweep {
        let timeout = TimeAmount(configuration.idleTimeout)
        guard let box = sweeps[ObjectIdentifier(loop)] else { return KeepAliveSweep(loop: loop, timeout: timeout) }
        if let sweep = box.value { return sweep }
        let sweep = KeepAliveSweep(loop: loop, timeout: timeout)
        box.value = sweep
        return sweep
    }

    /// Connections beyond `--max-clients` that may wait for their hello, to be redirected or refused with a reason.
    static let helloSlack = 128

    /// Registers a new connection; nil when the server is full or going down (the caller refuses it).
    func admitConnection(_ channel: any Channel) -> UInt64? {
        guard !isShuttingDown else { return nil }
        let id = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let admitted = connections.withLock { connections in
            guard connections.count < configuration.maxClients + Self.helloSlack else { return false }
            connections[id] = channel
            return true
        }
        return admitted ? id : nil
    }

    func connectionClosed(_ id: UInt64) {
        _ = connections.withLock { $0.removeValue(forKey: id) }
    }

    var openConnections: [any Channel] { connections.withLock { Array($0.values) } }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    func beginShutdown() { shuttingDown.store(true, ordering: .relaxed) }
}
