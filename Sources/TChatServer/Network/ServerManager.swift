import Logging
import NIOCore
import NIOPosix
import Synchronization
import TChatProtocol

/// Receives what linked servers say beyond keeping the link itself up (the `NetworkRouter`).
protocol PeerEventHandler: AnyObject, Sendable {
    func linkUp(_ peer: ServerManager.Peer)
    func linkDown(_ peer: ServerManager.Peer)
    func leaderChanged()
    func handle(_ frame: PeerFrame, from peer: ServerManager.Peer)
}

/// The servers of the network: links to the others on the peer port, their load, who sequences channel
/// messages, and where a new client would be best served.
///
/// Links come from `--peer` addresses, from the discovery registry (`--discover`), and from what linked servers
/// tell of theirs (gossip), so that every server ends up linked to every other. Each link says hello, then sends
/// its load every heartbeat; a link silent for three heartbeats is closed, and links to known addresses are dialled
/// again with back-off.
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

        var id: UInt64 { hello.serverID }
    }

    private struct Dial: Sendable {
        var inFlight = false
        var nextAttempt = NIODeadline.uptimeNanoseconds(0)
        var backoff = DialBackoff()
    }

    private struct State {
        var peers: [UInt64: Peer] = [:]
        /// Peer addresses to keep a link to, and how dialling them goes.
        var targets: [String: Dial] = [:]
        var clientAddress: String
        var peerAddress = ""
        var leader: UInt64
        var roundRobin = 0
        var stopped = false
        var ticks = 0
    }

    let serverID: UInt64
    let name: String
    let startedAt: Timestamp
    let capacity: Int
    let heartbeat: Duration
    let redirects: Bool
    let balanceMargin: Int
    private let load: @Sendable () -> Int
    private let state: Mutex<State>
    private let handler = Mutex<(any PeerEventHandler)?>(nil)
    private let group: any EventLoopGroup
    private let maxFrame: Int
    private let registry: DiscoveryRegistry?
    private let logger: Logger
    private let task = Mutex<RepeatedTask?>(nil)

    init(
        serverID: UInt64, name: String, clientAddress: String, configuration: ServerConfiguration,
        group: any EventLoopGroup, load: @escaping @Sendable () -> Int, logger: Logger
    ) {
        self.serverID = serverID
        self.name = name
        self.startedAt = .now()
        self.capacity = configuration.maxClients
        self.heartbeat = configuration.heartbeat
        self.redirects = configuration.redirects
        self.balanceMargin = configuration.balanceMargin
        self.load = load
        self.group = group
        self.maxFrame = configuration.maxFrameLength
        self.registry = configuration.discover ? DiscoveryRegistry(directory: configuration.discoveryDirectory) : nil
        self.logger = logger
        var initial = State(clientAddress: clientAddress, leader: serverID)
        for peer in configuration.peers { initial.targets[peer.description] = Dial() }
        state = Mutex(initial)
    }

    func setHandler(_ handler: any PeerEventHandler) { self.handler.withLock { $0 = handler } }

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
        let load = PeerFrame.load(clients: UInt32(clamping: self.load()), capacity: UInt32(clamping: capacity))
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

    /// Adds the registry's live servers to the addresses to link to.
    private func discover() {
        guard let registry else { return }
        let entries = registry.others(than: ServerIdentity.hex(serverID))
        state.withLock { state in
            for entry in entries where state.targets[entry.peerAddress] == nil {
                state.targets[entry.peerAddress] = Dial()
            }
        }
    }

    /// Dials every known address with no link and no attempt under way whose back-off has passed.
    private func dialDue() {
        let now = NIODeadline.now()
        let due: [String] = state.withLock { state in
            guard !state.stopped else { return [] }
            let linked = Set(state.peers.values.map(\.hello.peerAddress))
            var due: [String] = []
            for (address, dial) in state.targets
            where !dial.inFlight && now >= dial.nextAttempt && !linked.contains(address)
                && address != state.peerAddress
            {
                state.targets[address]?.inFlight = true
                due.append(address)
            }
            return due
        }
        for address in due { dial(address) }
    }

    private func dial(_ text: String) {
        guard let address = try? ServerAddress(parsing: text, defaultPort: ServerAddress.defaultPeerPort) else {
            return
        }
        let maxFrame = self.maxFrame
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(maxFrameLength: maxFrame)))
                    try channel.pipeline.syncOperations.addHandler(PeerHandler(manager: self, outbound: true))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { [self] result in
                state.withLock { state in
                    state.targets[text]?.inFlight = false
                    if case .failure = result, var dial = state.targets[text] {
                        dial.nextAttempt = .now() + TimeAmount(dial.backoff.next())
                        state.targets[text] = dial
                    }
                }
                if case .failure(let error) = result {
                    logger.debug("cannot link", metadata: ["peer": "\(text)", "error": "\(error)"])
                }
            }
    }

    // MARK: - Links

    /// Our side of the hello.
    func hello() -> PeerHello {
        let (clientAddress, peerAddress) = state.withLock { ($0.clientAddress, $0.peerAddress) }
        return PeerHello(
            serverID: serverID, name: name, softwareVersion: TChatVersion.current, processID: UInt32(getpid()),
            host: Self.hostName, clientAddress: clientAddress, peerAddress: peerAddress,
            clients: UInt32(clamping: load()), capacity: UInt32(clamping: capacity), startedAt: startedAt)
    }

    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// A link said hello. Returns false when it must be closed: ourselves, a version we do not speak, or a second
    /// link to a server already linked (of two, the one dialled by the lower server id stays, on both sides).
    func linkEstablished(_ hello: PeerHello, channel: any Channel, outbound: Bool) -> Bool {
        guard hello.serverID != serverID, ProtocolVersion.supported.contains(hello.version) else { return false }
        let peer = Peer(
            hello: hello, channel: channel, outbound: outbound, clients: hello.clients, capacity: hello.capacity,
            lastHeard: .now())
        let outcome: (accepted: Bool, replaced: Peer?, gossip: [KnownPeer]) = state.withLock { state in
            guard !state.stopped else { return (false, nil, []) }
            var replaced: Peer?
            if let existing = state.peers[hello.serverID] {
                let existingDialer = existing.outbound ? serverID : hello.serverID
                let newDialer = outbound ? serverID : hello.serverID
                guard newDialer < existingDialer else { return (false, nil, []) }
                replaced = existing
            }
            state.peers[hello.serverID] = peer
            if state.targets[hello.peerAddress] == nil { state.targets[hello.peerAddress] = Dial() }
            state.targets[hello.peerAddress]?.backoff = DialBackoff()
            let gossip = state.peers.values.filter { $0.id != hello.serverID }.map {
                KnownPeer(serverID: $0.id, peerAddress: $0.hello.peerAddress)
            }
            return (true, replaced, gossip)
        }
        guard outcome.accepted else { return false }
        if let replaced = outcome.replaced {
            send(.goodbye(reason: "duplicate link"), to: replaced.channel)
            replaced.channel.close(promise: nil)
        }
        logger.info(
            "linked",
            metadata: ["peer": "\(hello.name)", "clients": "\(hello.clientAddress)", "outbound": "\(outbound)"])
        send(.peers(outcome.gossip), to: channel)
        handler.withLock { $0 }?.linkUp(peer)
        updateLeader()
        return true
    }

    /// A link closed (either side, or silence). Only the registered link of a server counts.
    func linkLost(_ serverID: UInt64, channel: any Channel) {
        let removed: Peer? = state.withLock { state in
            guard let peer = state.peers[serverID], peer.channel === channel else { return nil }
            state.peers[serverID] = nil
            if var dial = state.targets[peer.hello.peerAddress] {
                dial.nextAttempt = .now() + TimeAmount(dial.backoff.next())
                state.targets[peer.hello.peerAddress] = dial
            }
            return peer
        }
        guard let removed else { return }
        logger.warning("link lost", metadata: ["peer": "\(removed.hello.name)"])
        handler.withLock { $0 }?.linkDown(removed)
        updateLeader()
    }

    /// Anything from a peer shows it is alive; a load report also updates its load.
    func heard(from serverID: UInt64, load: (clients: UInt32, capacity: UInt32)? = nil) {
        state.withLock { state in
            state.peers[serverID]?.lastHeard = .now()
            if let load {
                state.peers[serverID]?.clients = load.clients
                state.peers[serverID]?.capacity = load.capacity
            }
        }
    }

    /// Addresses gossiped by a peer: link to those not linked yet.
    func learn(_ peers: [KnownPeer]) {
        state.withLock { state in
            for peer in peers where peer.serverID != serverID && state.targets[peer.peerAddress] == nil {
                state.targets[peer.peerAddress] = Dial()
            }
        }
        dialDue()
    }

    func peer(_ serverID: UInt64) -> Peer? { state.withLock { $0.peers[serverID] } }

    /// Hands a frame from a linked server to the router.
    func dispatch(_ frame: PeerFrame, from serverID: UInt64) {
        guard let peer = peer(serverID) else { return }
        handler.withLock { $0 }?.handle(frame, from: peer)
    }

    var peers: [Peer] { state.withLock { Array($0.peers.values) } }

    // MARK: - Sequencing

    /// The server that numbers channel messages: the longest-running one (a restarted server, which may lack recent
    /// history, never takes over from one that ran all along).
    var leader: UInt64 { state.withLock { $0.leader } }

    var isLeader: Bool { leader == serverID }

    private func updateLeader() {
        let changed: Bool = state.withLock { state in
            var best = (startedAt, serverID)
            for peer in state.peers.values where (peer.hello.startedAt, peer.id) < best {
                best = (peer.hello.startedAt, peer.id)
            }
            defer { state.leader = best.1 }
            return state.leader != best.1
        }
        if changed {
            logger.info("sequencer changed", metadata: ["leader": "\(ServerIdentity.hex(leader))"])
            handler.withLock { $0 }?.leaderChanged()
        }
    }

    // MARK: - Sending

    static func encode(_ frame: PeerFrame) -> ByteBuffer? {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        do {
            try frame.encode(into: &buffer)
            return buffer
        } catch {
            return nil
        }
    }

    func send(_ frame: PeerFrame, to channel: any Channel) {
        guard let buffer = Self.encode(frame) else { return }
        channel.writeAndFlush(buffer, promise: nil)
    }

    func send(_ frame: PeerFrame, to serverID: UInt64) {
        guard let peer = peer(serverID) else { return }
        send(frame, to: peer.channel)
    }

    /// Encodes once and queues the same bytes for every linked server.
    ///
    /// Always through a task on the link's event loop, even from that loop: tasks run in the order they were queued,
    /// so frames broadcast one after the other (numbered messages, under the channel lock) leave in that order.
    func broadcast(_ frame: PeerFrame, except excluded: UInt64? = nil) {
        guard let buffer = Self.encode(frame) else { return }
        for peer in peers where peer.id != excluded {
            let channel = peer.channel
            channel.eventLoop.execute { channel.writeAndFlush(buffer, promise: nil) }
        }
    }

    // MARK: - Servers and load

    func name(of serverID: UInt64) -> String {
        serverID == self.serverID ? name : (peer(serverID)?.hello.name ?? ServerIdentity.hex(serverID))
    }

    /// This server and every linked one, this one first, then by name.
    func list() -> [ServerInfo] {
        let (clientAddress, peers) = state.withLock { ($0.clientAddress, Array($0.peers.values)) }
        let own = ServerInfo(
            name: name, version: TChatVersion.current, clientAddress: clientAddress,
            clients: UInt32(clamping: load()), capacity: UInt32(clamping: capacity), startedAt: startedAt,
            isThisServer: true)
        return [own]
            + peers.map {
                ServerInfo(
                    name: $0.hello.name, version: $0.hello.softwareVersion, clientAddress: $0.hello.clientAddress,
                    clients: $0.clients, capacity: $0.capacity, startedAt: $0.hello.startedAt, isThisServer: false)
            }.sorted { $0.name < $1.name }
    }

    /// Where a new client should go instead of here, if anywhere: when this server is full, or its load exceeds
    /// the least-loaded peer's by more than the margin. Equally loaded candidates take turns.
    func redirectTarget(localClients: Int) -> (address: String, name: String)? {
        guard redirects else { return nil }
        return state.withLock { state in
            let open = state.peers.values.filter { $0.clients < $0.capacity }
            guard let least = open.map(\.clients).min() else { return nil }
            let full = localClients >= capacity
            guard full || localClients - Int(least) > balanceMargin else { return nil }
            let candidates = open.filter { $0.clients == least }.sorted { $0.id < $1.id }
            state.roundRobin += 1
            let chosen = candidates[state.roundRobin % candidates.count]
            // Count the client we send there, so a burst of new clients spreads out before the next load report.
            state.peers[chosen.id]?.clients += 1
            return (chosen.hello.clientAddress, chosen.hello.name)
        }
    }
}

/// Delays between attempts to link to an address: 0.5 s doubling to 10 s.
struct DialBackoff: Sendable {
    private var attempt = 0

    mutating func next() -> Duration {
        defer { attempt += 1 }
        return min(.milliseconds(500) * (1 << min(attempt, 5)), .seconds(10))
    }
}
