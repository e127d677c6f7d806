import NIOCore
import TChatProtocol

/// A server that cannot reach its store (`--store postgres://`) can take no messages: it stops taking clients and,
/// once the outage has lasted past a restart's worth of seconds, sends the clients it has to linked servers that
/// can. It keeps delivering what it can meanwhile (what linked servers push, history memory holds).
extension NetworkRouter {
    /// How long the store may be out of reach before clients are moved: a restart of PostgreSQL is waited out.
    static let storeOutageGrace = TimeAmount.seconds(6)
    /// Sessions ended per heartbeat (2 s), so the servers they go to are not all hit at once.
    static let clientsMovedPerBeat = 100

    /// On every heartbeat: tells the links whether this server takes clients (`ServerManager.takesClients`, in
    /// this beat's LOAD), and past the grace ends up to `clientsMovedPerBeat` sessions that accept redirects, were
    /// here before the outage, and fit in the room linked servers report. Each reconnects (as tchat does, with back-off) and its HELLO here is answered with a
    /// REDIRECT to a server that has the store; one that reaches a linked server directly stays there.
    func watchStore(now: NIODeadline) {
        guard let log = channels.store.commitLog else { return }
        let reachable = log.isReachable
        let wasTaking = servers.takesClients.exchange(reachable, ordering: .relaxed)
        if wasTaking != reachable {
            logger.warning(
                reachable
                    ? "the message store is reachable again: taking clients"
                    : "the message store cannot be reached: taking no clients")
        }
        let lost: (for: TimeAmount, at: Timestamp)? = state.withLock { state in
            guard !reachable else {
                state.storeLostSince = nil
                state.storeLostAt = nil
                return nil
            }
            let since = state.storeLostSince ?? now
            let at = state.storeLostAt ?? .now()
            state.storeLostSince = since
            state.storeLostAt = at
            return (now - since, at)
        }
        guard let lost, lost.for >= Self.storeOutageGrace else { return }
        let lostFor = lost.for
        var moved = 0
        // No more than the linked servers have room for: the rest would only come back here.
        var room = [false: servers.roomElsewhere(overTLS: false), true: servers.roomElsewhere(overTLS: true)]
        for (session, _) in clients.localClients()
        where session.hello.acceptsRedirect && session.connectedAt.milliseconds < lost.at.milliseconds {
            guard moved < Self.clientsMovedPerBeat else { break }
            let overTLS = session.overTLS
            guard room[overTLS, default: 0] > 0 else { continue }
            room[overTLS, default: 0] -= 1
            ConnectionHandler.end(
                session.channel,
                ProtocolError(
                    .storageFailure,
                    "\(servers.name) cannot reach the message store: reconnect, and it sends you to a server that can"))
            moved += 1
        }
        if moved > 0 {
            logger.warning(
                "clients sent to servers that can reach the message store",
                metadata: ["clients": "\(moved)", "outage": "\(lostFor.nanoseconds / 1_000_000_000) s"])
        }
    }
}
