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
    /// One per event loop of the server's group, keyed by the loop's identity; fixed at start.
    private let mailboxes: [ObjectIdentifier: LoopMailbox]
    /// Likewise; each made on its loop when its first connection arrives.
    private let sweeps: [ObjectIdentifier: NIOLoopBoundBox<KeepAliveSweep?>]
    private let connections = Mutex(Connections())
    private let nextConnectionID = Atomic<UInt64>(1)
    private let shuttingDown = Atomic<Bool>(false)

    init(
        configuration: ServerConfiguration, channels: ChannelManager, clients: ClientManager,
        servers: ServerManager, router: NetworkRouter, live: LiveSettings, loops: [any EventLoop], logger: Logger
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
        self.live = live
        self.logger = logger
    }

    /// The mailbox of one of the server's loops (a loop from elsewhere, which never happens, gets a new one).
    func mailbox(for loop: any EventLoop) -> LoopMailbox {
        mailboxes[ObjectIdentifier(loop)] ?? LoopMailbox(loop: loop)
    }

    /// The keep-alive sweep of the loop the caller is on (a loop from elsewhere, as in tests, gets its own).
    func keepAlive(on loop: any EventLoop) -> KeepAliveSweep {
        let timeout = TimeAmount(configuration.idleTimeout)
        let frameTimeout = TimeAmount(configuration.frameTimeout)
        guard let box = sweeps[ObjectIdentifier(loop)] else {
            return KeepAliveSweep(loop: loop, timeout: timeout, frameTimeout: frameTimeout)
        }
        if let sweep = box.value { return sweep }
        let sweep = KeepAliveSweep(loop: loop, timeout: timeout, frameTimeout: frameTimeout)
        box.value = sweep
        return sweep
    }

    /// Connections beyond `--max-clients` that may wait for their hello, to be redirected or refused with a reason.
    static let helloSlack = 128

    /// The open connections, and how many come from each address.
    private struct Connections {
        var channels: [UInt64: (channel: any Channel, address: String)] = [:]
        var perAddress: [String: Int] = [:]
    }

    /// What became of a new connection.
    enum Admission {
        case admitted(UInt64)
        case full
        case tooManyFromAddress
        case shuttingDown
        /// A server operator banned the address.
        case banned(ServerBan)
    }

    /// Registers a new connection from `address` (an IP address), unless the server is full, that address has
    /// `--max-per-ip` open already, or the server is going down.
    func admitConnection(_ channel: any Channel, from address: String) -> Admission {
        guard !isShuttingDown else { return .shuttingDown }
        if let ban = clients.accounts?.ban(forAddress: address) { return .banned(ban) }
        let id = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let perAddressLimit = configuration.maxConnectionsPerAddress
        return connections.withLock { connections in
            guard connections.channels.count < configuration.maxClients + Self.helloSlack else { return .full }
            let fromAddress = connections.perAddress[address, default: 0]
            if perAddressLimit > 0, fromAddress >= perAddressLimit { return .tooManyFromAddress }
            connections.channels[id] = (channel, address)
            connections.perAddress[address] = fromAddress + 1
            return .admitted(id)
        }
    }

    func connectionClosed(_ id: UInt64) {
        connections.withLock { connections in
            guard let closed = connections.channels.removeValue(forKey: id) else { return }
            let left = connections.perAddress[closed.address, default: 1] - 1
            connections.perAddress[closed.address] = left > 0 ? left : nil
        }
    }

    var openConnections: [any Channel] { connections.withLock { $0.channels.values.map(\.channel) } }

    /// The open connections from one IP address (a server ban of that address ends them).
    func connections(from address: String) -> [any Channel] {
        connections.withLock { $0.channels.values.filter { $0.address == address }.map(\.channel) }
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    func beginShutdown() { shuttingDown.store(true, ordering: .relaxed) }
}
