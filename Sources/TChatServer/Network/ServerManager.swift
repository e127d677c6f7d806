import Logging
import NIOCore
import NIOPosix
import Synchronization
import TChatProtocol
import TChatTLS

/// Receives what linked servers say beyond keeping the link itself up (the `NetworkRouter`).
protocol PeerEventHandler: AnyObject, Sendable {
    /// Every heartbeat.
    func heartbeat()
    func linkUp(_ peer: ServerManager.Peer)
    func linkDown(_ peer: ServerManager.Peer)
    func leaderChanged()
    func handle(_ frame: PeerFrame, from peer: ServerManager.Peer)
}

/// The servers of the network: links to the others on the peer port, their load, who sequences channel
/// messages, and where a new client would be best served.
///
/// Links come from `--peer` addresses, from the discovery registry (`--discover`), and from what linked servers
/// tell of theirs (gossip), so that every server ends up linked to every other. Each link proves it knows the link
/// secret (`PeerHandler`), says hello, then sends its load every heartbeat; a link silent for three heartbeats is
/// closed, and links to known addresses are dialled again with back-off.
///
/// What a linked server says of its own addresses is not taken on trust: clients are sent (redirects, the server
/// list) only to an address whose host is the one its authenticated link runs over or one the operator configured,
/// and gossip names a server by the address its link runs over.
final class ServerManager: Sendable {
    /// A linked server.
    struct Peer: Sendable {
        let hello: PeerHello
        let channel: any Channel
        /// Whether this server dialled it (decides which of two simultaneous links stays).
        let outbound: Bool
        var clients: UInt32
        var capacity: UInt32
        var lastHeard: NIODeadline
        /// Where its clients may be sent (`tls://` when its client port speaks TLS), or nil when what it advertised
        /// is neither its link's address nor a configured one.
        let clientAddress: ServerAddress?
        /// Its peer address as this link shows it: the address dialled, or the link's source address with the
        /// advertised port. What gossip passes on, and what dialling compares against.
        let linkAddress: String?
        /// The address the link comes from.
        let remoteIP: String
        /// When the link came up (this server's clock).
        let linkedAt: Timestamp

        var id: UInt64 { hello.serverID }
    }

    struct State {
        var peers: [UInt64: Peer] = [:]
        /// Links still in their handshake, in all and per source address.
        var pendingLinks = 0
        var pendingPerAddress: [String: Int] = [:]
        /// Peer addresses to keep a link to, and how dialling them goes.
        var dials = DialPlan()
        var clientAddress: String
        var peerAddress = ""
        var leader: UInt64
        var roundRobin = 0
        var stopped = false
        var ticks = 0
    }

    let serverID: UInt64
    let name: String
    /// The store's identity (`ChatStorage.identity`): a link to a server with another is refused.
    let store: String
    let startedAt: Timestamp
    let capacity: Int
    let heartbeat: Duration
    let redirects: Bool
    /// False while this server cannot take messages (it cannot reach its store): its LOAD says it takes no clients
    /// (capacity 0), so no linked server sends any here, and each new client that accepts a redirect is sent to a
    /// linked server that has room (`redirectTarget`).
    let takesClients = Atomic<Bool>(true)
    let balanceMargin: Int
    /// This server's client count; set once the client manager exists, which is made after this.
    private let loadSource = Mutex<(@Sendable () -> Int)?>(nil)
    /// Mirrors of `State.leader` and `State.peers.count`, read on every channel message without the state's lock.
    private let leaderID: Atomic<UInt64>
    let linkCount = Atomic<Int>(0)
    let state: Mutex<State>
    let handler = Mutex<(any PeerEventHandler)?>(nil)
    let group: any EventLoopGroup
    let maxFrame: Int
    let handshakeTimeout: Duration
    let registry: DiscoveryRegistry?
    let logger: Logger
    private let task = Mutex<RepeatedTask?>(nil)
    let live: LiveSettings
    /// Hosts of `--peer` addresses: the operator vouches for them.
    let configuredHosts: Set<String>
    let mayDial: @Sendable (ServerAddress) -> Bool

    /// Links in their handshake at once, in all and from one address.
    static let maxPendingLinks = 64
    static let maxPendingLinksPerAddress = 8

    init(
        serverID: UInt64, name: String, clientAddress: String, configuration: ServerConfiguration,
        group: any EventLoopGroup, live: LiveSettings, registry: DiscoveryRegistry?, store: String = "",
        logger: Logger
    ) {
        self.store = store
        self.live = live
        self.configuredHosts = Set(configuration.peers.map { $0.host.lowercased() })
        self.mayDial = configuration.mayDial
        self.serverID = serverID
        self.name = name
        self.startedAt = .now()
        self.capacity = configuration.maxClients
        self.heartbeat = configuration.heartbeat
        self.redirects = configuration.redirects
        self.balanceMargin = configuration.balanceMargin
        self.group = group
        self.maxFrame = configuration.maxFrameLength
        self.handshakeTimeout = configuration.linkHandshakeTimeout
        self.registry = registry
        self.logger = logger
        leaderID = Atomic(serverID)
        var initial = State(clientAddress: clientAddress, leader: serverID)
        for peer in configuration.peers { initial.dials.add(peer.description) }
        state = Mutex(initial)
    }

    func setHandler(_ handler: any PeerEventHandler) { self.handler.withLock { $0 = handler } }

    func setLoad(_ load: @escaping @Sendable () -> Int) { loadSource.withLock { $0 = load } }

    /// Clients connected here, as the load reports and the hello tell other servers.
    func load() -> Int { loadSource.withLock { $0 }?() ?? 0 }

    var clientAddress: String { state.withLock { $0.clientAddress } }

    // MARK: - Running

    /// Starts heartbeats, discovery and dialling once both sockets are bound.
    func start(clientAddress: String, peerAddress: String) {
        state.withLock {
            $0.clientAddress = clientAddress
            $0.peerAddress = peerAddress
        }
        if let registry {
            do {
                try registry.register(
                    DiscoveryRegistry.Entry(
                        serverID: ServerIdentity.hex(serverID), name: name, peerAddress: peerAddress,
                        clientAddress: clientAddress, pid: getpid()))
            } catch {
                logger.error("cannot register for discovery", metadata: ["error": "\(error)"])
            }
        }
        discover()
        dialDue()
        let interval = TimeAmount(heartbeat)
        let repeated = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            tick()
        }
        task.withLock { $0 = repeated }
    }

    /// Says goodbye to every peer and stops dialling.
    func stop() async {
        let peers: [Peer] = state.withLock { state in
            state.stopped = true
            return Array(state.peers.values)
        }
        task.withLock { $0?.cancel() }
        registry?.unregister(serverID: ServerIdentity.hex(serverID))
        for peer in peers {
            send(.goodbye(reason: "server \(name) is shutting down"), to: peer.channel)
            try? await peer.channel.close()
        }
        handler.withLock { $0 = nil }
    }

    private func tick() {
        let now = NIODeadline.now()
        let silent = TimeAmount(heartbeat * 3)
        let (peers, stale, doDiscover): ([Peer], [Peer], Bool) = state.withLock { state in
            state.ticks += 1
            let stale = state.peers.values.filter { now - $0.lastHeard >= silent }
            return (Array(state.peers.values), stale, state.ticks % 5 == 0)
        }
        // The router first: it says whether this server still takes clients, which this beat's LOAD tells.
        handler.withLock { $0 }?.heartbeat()
        let load = PeerFrame.load(
            clients: UInt32(clamping: self.load()), capacity: UInt32(clamping: offeredCapacity))
        if let frame = Self.encode(load) {
            for peer in peers { peer.channel.writeAndFlush(frame, promise: nil) }
        }
        for peer in stale {
            logger.warning(
                "peer silent for three heartbeats: link closed", metadata: ["peer": "\(peer.hello.name)"])
            peer.channel.close(promise: nil)
        }
        if doDiscover { discover() }
        dialDue()
    }

    /// The trust a dialled link's TLS handshake uses, for explaining its failures.
    var linkTrust: TLSTrust { live.current.tls?.dialer.trust ?? .unverified }

    /// Counts a link that has yet to prove itself; false when too many are already at it (from that address).
    func admitPendingLink(from address: String) -> Bool {
        state.withLock { state in
            let fromAddress = state.pendingPerAddress[address, default: 0]
            guard state.pendingLinks < Self.maxPendingLinks, fromAddress < Self.maxPendingLinksPerAddress else {
                return false
            }
            state.pendingLinks += 1
            state.pendingPerAddress[address] = fromAddress + 1
            return true
        }
    }

    func releasePendingLink(from address: String) {
        state.withLock { state in
            state.pendingLinks -= 1
            let left = state.pendingPerAddress[address, default: 1] - 1
            state.pendingPerAddress[address] = left > 0 ? left : nil
        }
    }

    // MARK: - Sequencing

    /// The server that numbers channel messages: the longest-running one (a restarted server, which may lack recent
    /// history, never takes over from one that ran all along).
    var leader: UInt64 { leaderID.load(ordering: .acquiring) }

    var isLeader: Bool { leader == serverID }

    func updateLeader() {
        let changed: Bool = state.withLock { state in
            var best = (startedAt, serverID)
            for peer in state.peers.values where (peer.hello.startedAt, peer.id) < best {
                best = (peer.hello.startedAt, peer.id)
            }
            defer {
                state.leader = best.1
                leaderID.store(best.1, ordering: .releasing)
            }
            return state.leader != best.1
        }
        if changed {
            logger.info("sequencer changed", metadata: ["leader": "\(ServerIdentity.hex(leader))"])
            handler.withLock { $0 }?.leaderChanged()
        }
    }

}
