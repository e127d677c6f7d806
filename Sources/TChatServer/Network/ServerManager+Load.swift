import NIOCore
import TChatProtocol

/// The network's servers as clients see them, and where a new client would be best served.
extension ServerManager {
    func name(of serverID: UInt64) -> String {
        serverID == self.serverID ? name : (peer(serverID)?.hello.name ?? ServerIdentity.hex(serverID))
    }

    /// This server and every linked one, this one first, then by name.
    func list() -> [ServerInfo] {
        let (clientAddress, peers) = state.withLock { ($0.clientAddress, Array($0.peers.values)) }
        let own = ServerInfo(
            name: name, version: TChatVersion.current, clientAddress: clientAddress,
            clients: UInt32(clamping: load()), capacity: UInt32(clamping: offeredCapacity), startedAt: startedAt,
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

    /// Where a new client should go instead of here, if anywhere: when this server is full or cannot reach its
    /// store (`takesClients`), or its load exceeds the least-loaded peer's by more than the margin. Equally loaded candidates take turns. Only peers with a
    /// vouched-for client address are candidates, and only those whose client port speaks TLS when the client
    /// came over TLS (and plaintext when it did not).
    func redirectTarget(localClients: Int, overTLS: Bool) -> (address: String, name: String)? {
        guard redirects else { return nil }
        return state.withLock { state in
            let open = state.peers.values.filter {
                $0.clients < $0.capacity && $0.clientAddress.map { $0.usesTLS == overTLS } == true
            }
            guard let least = open.map(\.clients).min() else { return nil }
            let full = localClients >= capacity || !takesClients.load(ordering: .relaxed)
            guard full || localClients - Int(least) > balanceMargin else { return nil }
            let candidates = open.filter { $0.clients == least }.sorted { $0.id < $1.id }
            state.roundRobin += 1
            let chosen = candidates[state.roundRobin % candidates.count]
            // Count the client we send there, so a burst of new clients spreads out before the next load report.
            state.peers[chosen.id]?.clients += 1
            return (chosen.clientAddress?.description ?? "", chosen.hello.name)
        }
    }

    /// How many more clients that came over TLS (or in plaintext) the linked servers would take now, as they
    /// last reported (and as the redirects since counted).
    func roomElsewhere(overTLS: Bool) -> Int {
        guard redirects else { return 0 }
        return state.withLock { state in
            state.peers.values.filter { $0.clientAddress.map { $0.usesTLS == overTLS } == true }
                .reduce(0) { $0 + Int($1.capacity) - min(Int($1.clients), Int($1.capacity)) }
        }
    }

    /// The capacity this server offers: none while it cannot reach its store.
    var offeredCapacity: Int { takesClients.load(ordering: .relaxed) ? capacity : 0 }

    /// Where clients reach the linked server `id`, when its client address is vouched for and speaks TLS as the
    /// client came (or plaintext as it did): for sending a session to where its account's nick is.
    func clientAddress(of id: UInt64, overTLS: Bool) -> (address: String, name: String)? {
        guard redirects else { return nil }
        return state.withLock { state in
            guard let peer = state.peers[id], let address = peer.clientAddress, address.usesTLS == overTLS else {
                return nil
            }
            return (address.description, peer.hello.name)
        }
    }
}
