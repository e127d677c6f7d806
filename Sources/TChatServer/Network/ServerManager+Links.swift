import Foundation
import Logging
import NIOCore
import TChatProtocol

/// Links coming up and going, and what linked servers say of their load and of the servers they know.
extension ServerManager {
    /// Our side of the hello.
    func hello() -> PeerHello {
        let (clientAddress, peerAddress) = state.withLock { ($0.clientAddress, $0.peerAddress) }
        return PeerHello(
            serverID: serverID, name: name, softwareVersion: TChatVersion.current, processID: UInt32(getpid()),
            host: Self.hostName, clientAddress: clientAddress, peerAddress: peerAddress,
            clients: UInt32(clamping: load()), capacity: UInt32(clamping: offeredCapacity), startedAt: startedAt,
            store: store)
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
        guard hello.store == store else {
            // Two numberings of one channel, or history each side cannot read: never one network.
            logger.error(
                "link refused: the other server keeps its messages in another store",
                metadata: [
                    "peer": "\(hello.name)", "its store": "\(hello.store.isEmpty ? "its own files" : hello.store)",
                    "ours": "\(store.isEmpty ? "our own files" : store)",
                ])
            return false
        }
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
}
