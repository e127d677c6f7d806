import NIOCore
import TChatProtocol

/// Server bans (`SERVER_BAN`, kept in `accounts.json` with the accounts, so that they too are shared with linked
/// servers and outlive restarts).
extension AccountBook {
    /// Most server bans kept.
    static let maxServerBans = 10_000

    func ban(forAccount key: String) -> ServerBan? {
        state.withLock { $0.bans["account:" + key] }
    }

    func ban(forAddress ip: String) -> ServerBan? {
        state.withLock { $0.bans.isEmpty ? nil : $0.bans["address:" + ip] }
    }

    var serverBans: [ServerBan] { state.withLock { $0.bans.values.sorted { $0.mask < $1.mask } } }

    /// Adds (or replaces) a server ban; the store is written off the loop.
    func addBan(_ ban: ServerBan, on loop: any EventLoop) -> EventLoopFuture<Void> {
        offLoop(on: loop) { book in
            try book.change { file in
                var bans = (file.serverBans ?? []).filter { $0.mask != ban.mask }
                guard bans.count < Self.maxServerBans else {
                    throw ProtocolError(.invalidArgument, "the server keeps at most \(Self.maxServerBans) bans")
                }
                bans.append(ban)
                file.serverBans = bans
                file.unbanned?.removeAll { $0.name == ban.mask }
            }
        }
    }

    func removeBan(_ mask: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        offLoop(on: loop) { book in
            try book.change { file in
                guard (file.serverBans ?? []).contains(where: { $0.mask == mask }) else {
                    throw ProtocolError(.invalidArgument, "there is no server ban \(mask)")
                }
                file.serverBans = (file.serverBans ?? []).filter { $0.mask != mask }
                file.note(Removal(name: mask, time: Timestamp.now().iso8601), in: \.unbanned, now: .now())
            }
        }
    }

}
