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

    private struct State {
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
    let startedAt: Timestamp
    let capacity: Int
    let heartbeat: Duration
    let redirects: Bool
    let balanceMargin: Int
    private let load: @Sendable () -> Int
    /// Mirrors of `State.leader` and `State.peers.count`, read on every channel message without the state's lock.
    private let leaderID: Atomic<UInt64>
    private let linkCount = Atomic<Int>(0)
    private let state: Mutex<State>
    private let handler = Mutex<(any PeerEventHandler)?>(nil)
    private let group: any EventLoopGroup
    let maxFrame: Int
    let handshakeTimeout: Duration
    private let registry: DiscoveryRegistry?
    let logger: Logger
    private let task = Mutex<RepeatedTask?>(nil)
    private let live: LiveSettings
    /// Hosts of `--peer` addresses: the operator vouches for them.
    private let configuredHosts: Set<String>
    private let mayDial: @Sendable (ServerAddress) -> Bool

    /// Links in their handshake at once, in all and from one address.
    static let maxPendingLinks = 64
    static let maxPendingLinksPerAddress = 8

    init(
        serverID: UInt64, name: String, clientAddress: String, configuration: ServerConfiguration,
        group: any EventLoopGroup, live: LiveSettings, registry: DiscoveryRegistry?,
        load: @escaping @Sendable () -> Int, logger: Logger
    ) {
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
        self.load = load
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
        handler.withLock { $0 }?.heartbeat()
    }

    /// Adds the registry's live servers to the addresses to link to.
    private func discover() {
        guard let registry else { return }
        let entries = registry.others(than: ServerIdentity.hex(serverID))
        state.withLock { state in
            for entry in entries { state.dials.add(entry.peerAddress) }
        }
    }

    /// Dials every known address with no link and no attempt under way whose back-off has passed.
    private func dialDue() {
        guard live.isLinkingOn else { return }  // without a secret no link could be proved
        let now = NIODeadline.now()
        let due: [String] = state.withLock { state in
            guard !state.stopped else { return [] }
            let linked = Set(state.peers.values.compactMap(\.linkAddress))
            return state.dials.due(at: now, linked: linked, own: state.peerAddress)
        }
        for address in due { dial(address) }
    }

    private func dial(_ text: String) {
        guard let address = try? ServerAddress(parsing: text, defaultPort: ServerAddress.defaultPeerPort) else {
            return
        }
        let settings = live.current
        let tls = settings.tls
        let secret = settings.linkSecret
        ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: PeerHandler.writeBound)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(try tls.dialer.makeHandler(host: address.host)) }
                    let limit = LinkFrameLimit()
                    try pipeline.addHandler(ByteToMessageHandler(LinkFrameDecoder(limit: limit)))
                    try pipeline.addHandler(
                        PeerHandler(
                            manager: self, outbound: true, secret: secret, limit: limit, tlsBinding: nil,
                            usesTLS: tls != nil, dialed: text))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { [self] result in
                let firstFailure: Bool = state.withLock { state in
                    state.dials.attemptEnded(text)
                    guard case .failure = result else { return false }
                    return state.dials.failed(text, at: .now())
                }
                switch result {
                case .failure(let error):
                    let metadata: Logger.Metadata = ["peer": "\(text)", "error": "\(Self.describe(error))"]
                    if firstFailure {
                        logger.warning("cannot link (trying again with back-off)", metadata: metadata)
                    } else {
                        logger.debug("cannot link", metadata: metadata)
                    }
                case .success(let channel):
                    // A link refused in its handshake is not dialled again at once, but after the back-off.
                    channel.closeFuture.whenComplete { [self] _ in
                        state.withLock { state in
                            let linked = state.peers.values.contains { $0.channel === channel }
                            if !linked { state.dials.failed(text, at: .now()) }
                        }
                    }
                }
            }
    }

    /// A failed connection attempt in the system's words ("Connection refused"), not NIO's type names.
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describe(first.error)
        }
        if let error = error as? NIOConnectionError, let resolution = error.dnsAAAAError ?? error.dnsAError {
            return "cannot resolve the host (\(resolution))"
        }
        return "\(error)"
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

    /// A link proved itself and said hello. Returns false when it must be closed: a version we do not speak, or a
    /// second link to a server already linked (of two, the one dialled by the lower server id stays, on both sides).
    func linkEstablished(
        _ hello: PeerHello, channel: any Channel, outbound: Bool, remoteIP: String, dialed: String?, usesTLS: Bool
    ) -> Bool {
        guard hello.serverID != serverID, ProtocolVersion.supported.contains(hello.version) else { return false }
        let clientAddress = PeerAddresses.vouchedClientAddress(
            hello.clientAddress, remoteIP: remoteIP, dialed: dialed, configuredHosts: configuredHosts)
        let linkAddress = dialed ?? PeerAddresses.sourceAddress(remoteIP, advertised: hello.peerAddress)
        let peer = Peer(
            hello: hello, channel: channel, outbound: outbound, clients: hello.clients, capacity: hello.capacity,
            lastHeard: .now(), clientAddress: clientAddress, linkAddress: linkAddress, remoteIP: remoteIP,
            linkedAt: .now())
        var otherAddress: String?
        let outcome: (accepted: Bool, replaced: Peer?, gossip: [KnownPeer]) = state.withLock { state in
            guard !state.stopped else { return (false, nil, []) }
            var replaced: Peer?
            if let existing = state.peers[hello.serverID] {
                // Two links to one server (both dialled at once) come from one address; a second server claiming
                // a linked one's id from elsewhere is refused, never let take over its link and its clients.
                guard existing.remoteIP == remoteIP else {
                    otherAddress = existing.remoteIP
                    return (false, nil, [])
                }
                let existingDialer = existing.outbound ? serverID : hello.serverID
                let newDialer = outbound ? serverID : hello.serverID
                guard newDialer < existingDialer else { return (false, nil, []) }
                replaced = existing
            }
            state.peers[hello.serverID] = peer
            linkCount.store(state.peers.count, ordering: .relaxed)
            if let linkAddress {
                state.dials.add(linkAddress)
                state.dials.linked(linkAddress)
            }
            let gossip = state.peers.values.filter { $0.id != hello.serverID }.compactMap { other in
                other.linkAddress.map { KnownPeer(serverID: other.id, peerAddress: $0) }
            }
            return (true, replaced, gossip)
        }
        guard outcome.accepted else {
            if let otherAddress {
                logger.warning(
                    "link refused: a server with this id is already linked from another address",
                    metadata: ["peer": "\(hello.name)", "from": "\(remoteIP)", "linked from": "\(otherAddress)"])
            }
            return false
        }
        if let replaced = outcome.replaced {
            send(.goodbye(reason: "duplicate link"), to: replaced.channel)
            replaced.channel.close(promise: nil)
        }
        logger.info(
            "linked",
            metadata: [
                "peer": "\(hello.name)", "clients": "\(clientAddress?.description ?? "-")", "outbound": "\(outbound)",
                "tls": "\(usesTLS)",
            ])
        if clientAddress == nil, !hello.clientAddress.isEmpty {
            let warning =
                "a linked server's client address is neither its link's address nor a configured one: "
                + "no client is sent there"
            logger.warning(
                "\(warning)",
                metadata: ["peer": "\(hello.name)", "advertised": "\(hello.clientAddress)", "link": "\(remoteIP)"])
        }
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
            linkCount.store(state.peers.count, ordering: .relaxed)
            if let address = peer.linkAddress { state.dials.lost(address, at: .now()) }
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

    /// Servers an authenticated peer is linked to: link to those not linked yet (each must prove the secret in
    /// turn). Only linked servers' gossip is heard, and `mayDial` has the last word.
    func learn(_ peers: [KnownPeer], from serverID: UInt64) {
        state.withLock { state in
            guard state.peers[serverID] != nil else { return }
            for peer in peers where peer.serverID != self.serverID && state.peers[peer.serverID] == nil {
                guard let address = try? ServerAddress(parsing: peer.peerAddress, defaultPort: 0), mayDial(address)
                else { continue }
                state.dials.add(peer.peerAddress, gossiped: true)
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
    var leader: UInt64 { leaderID.load(ordering: .acquiring) }

    var isLeader: Bool { leader == serverID }

    private func updateLeader() {
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
        // Alone, a message is never encoded for peers.
        guard linkCount.load(ordering: .relaxed) > 0, let buffer = Self.encode(frame) else { return }
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
                // An address we cannot vouch for is not handed to clients: they would connect there next.
                ServerInfo(
                    name: $0.hello.name, version: $0.hello.softwareVersion,
                    clientAddress: $0.clientAddress?.description ?? "",
                    clients: $0.clients, capacity: $0.capacity, startedAt: $0.hello.startedAt, isThisServer: false)
            }.sorted { $0.name < $1.name }
    }

    /// Where a new client should go instead of here, if anywhere: when this server is full, or its load exceeds
    /// the least-loaded peer's by more than the margin. Equally loaded candidates take turns. Only peers with a
    /// vouched-for client address are candidates, and only those whose client port speaks TLS when the client
    /// came over TLS (and plaintext when it did not).
    func redirectTarget(localClients: Int, overTLS: Bool) -> (address: String, name: String)? {
        guard redirects else { return nil }
        return state.withLock { state in
            let open = state.peers.values.filter {
                $0.clients < $0.capacity && $0.clientAddress.map { $0.usesTLS == overTLS } == true
            }
            guard let least = open.map(\.clients).min() else { return nil }
            let full = localClients >= capacity
            guard full || localClients - Int(least) > balanceMargin else { return nil }
            let candidates = open.filter { $0.clients == least }.sorted { $0.id < $1.id }
            state.roundRobin += 1
            let chosen = candidates[state.roundRobin % candidates.count]
            // Count the client we send there, so a burst of new clients spreads out before the next load report.
            state.peers[chosen.id]?.clients += 1
            return (chosen.clientAddress?.description ?? "", chosen.hello.name)
        }
    }
}
