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
            try state.nicks.renameRemote(from: old, to: new, serverID: serverID, at: .now())
        }
    }

    func removeRemote(_ nick: String, serverID: UInt64) -> String? {
        state.withLock { $0.nicks.removeRemote(nick, serverID: serverID) }
    }

    func remoteNick(_ nick: String, on serverID: UInt64) -> String? {
        state.withLock { $0.nicks.remoteNick(nick, on: serverID) }
    }

    func removeRemotes(of serverID: UInt64) -> [String] {
        state.withLock { $0.nicks.removeRemotes(of: serverID) }
    }

    func remoteInfo(named nick: String) -> ClientInfo? {
        state.withLock { state in state.nicks.remote[Nick.key(for: nick)].map { info(of: $0) } }
    }
}
