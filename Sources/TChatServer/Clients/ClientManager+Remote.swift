import TChatProtocol

/// Clients of linked servers, as the nick table keeps them beside ours.
extension ClientManager {
    func addRemote(_ client: RemoteClient, serverID: UInt64, serverName: String) throws(ProtocolError)
        -> RemoteChange?
    {
        try state.withLock { (state) throws(ProtocolError) -> RemoteChange? in
            try state.nicks.addRemote(client, serverID: serverID, serverName: serverName, at: .now())
        }
    }

    func renameRemote(from old: String, to new: String, serverID: UInt64) throws(ProtocolError) -> RemoteChange? {
        try state.withLock { (state) throws(ProtocolError) -> RemoteChange? in
            let change = try state.nicks.renameRemote(from: old, to: new, serverID: serverID, at: .now())
            state.moveAway(from: old, to: new)
            return change
        }
    }

    func removeRemote(_ nick: String, serverID: UInt64) -> String? {
        state.withLock { state in
            let removed = state.nicks.removeRemote(nick, serverID: serverID)
            if let removed { state.away[Nick.key(for: removed)] = nil }
            return removed
        }
    }

    func remoteNick(_ nick: String, on serverID: UInt64) -> String? {
        state.withLock { $0.nicks.remoteNick(nick, on: serverID) }
    }

    func removeRemotes(of serverID: UInt64) -> [String] {
        state.withLock { state in
            let removed = state.nicks.removeRemotes(of: serverID)
            for nick in removed { state.away[Nick.key(for: nick)] = nil }
            return removed
        }
    }

    func remoteInfo(named nick: String) -> ClientInfo? {
        state.withLock { state in state.nicks.remote[Nick.key(for: nick)].map { info(of: $0) } }
    }
}
