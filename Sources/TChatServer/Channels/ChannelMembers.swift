import TChatProtocol

/// Who is in a channel: sessions connected here, grouped by event loop for delivery, and nicks on linked servers.
struct ChannelMembers {
    /// Sessions connected to this server.
    var local = SubscriberSet()
    /// Members connected to linked servers: nick key to nick and the server it is on.
    private(set) var remote: [String: RemoteMember] = [:]
    /// How many of `remote` each linked server has: the servers a message committed here must reach
    /// (`ChannelManager.deliverCommitted`), as a server with nobody in the channel reads it from the store if ever
    /// someone joins.
    private(set) var remoteServers: [UInt64: Int] = [:]
    /// Sessions in `local` that share a nick with another session in it (`NickTable`'s companions): one member
    /// each fewer than sessions.
    var sharedSessions = 0

    /// Members, a nick shared by several sessions counted once.
    var count: Int { max(local.count - sharedSessions, 0) + remote.count }

    /// Adds sessions sharing the nick of a member here; returns those that were not in yet.
    mutating func addCompanions(_ sessions: [ClientSession]) -> [ClientSession] {
        let added = sessions.filter { local.insert($0) }
        sharedSessions += added.count
        return added
    }

    /// Takes out sessions that shared a nick with a member here; returns those that were in.
    @discardableResult
    mutating func removeCompanions(_ sessions: [ClientSession]) -> [ClientSession] {
        let removed = sessions.filter { local.remove($0) }
        sharedSessions = max(sharedSessions - removed.count, 0)
        return removed
    }

    /// Returns false if the nick was already a member.
    mutating func addRemote(_ nick: String, on serverID: UInt64) -> Bool {
        let key = Nick.key(for: nick)
        guard remote[key] == nil else { return false }
        remote[key] = RemoteMember(nick: nick, serverID: serverID)
        remoteServers[serverID, default: 0] += 1
        return true
    }

    /// Returns false if the nick was not a member.
    mutating func removeRemote(_ nick: String) -> Bool {
        guard let member = remote.removeValue(forKey: Nick.key(for: nick)) else { return false }
        let left = (remoteServers[member.serverID] ?? 1) - 1
        remoteServers[member.serverID] = left > 0 ? left : nil
        return true
    }

    /// Returns false if `old` was not a member.
    mutating func renameRemote(from old: String, to new: String) -> Bool {
        guard let member = remote.removeValue(forKey: Nick.key(for: old)) else { return false }
        // Nick tables keep one nick per member network-wide; should one hold the new nick here anyway, it is counted
        // out before it is replaced, so `remoteServers` stays what `remote` holds.
        _ = removeRemote(new)
        remote[Nick.key(for: new)] = RemoteMember(nick: new, serverID: member.serverID)
        return true
    }
}

/// A channel member connected to a linked server.
struct RemoteMember {
    let nick: String
    let serverID: UInt64
}
