import TChatProtocol

/// Who is in a channel: sessions connected here, grouped by event loop for delivery, and nicks on linked servers.
struct ChannelMembers {
    /// Sessions connected to this server.
    var local = SubscriberSet()
    /// Members connected to linked servers: nick key to nick.
    private(set) var remote: [String: String] = [:]

    var count: Int { local.count + remote.count }

    /// Returns false if the nick was already a member.
    mutating func addRemote(_ nick: String) -> Bool {
        remote.updateValue(nick, forKey: Nick.key(for: nick)) == nil
    }

    /// Returns false if the nick was not a member.
    mutating func removeRemote(_ nick: String) -> Bool {
        remote.removeValue(forKey: Nick.key(for: nick)) != nil
    }

    /// Returns false if `old` was not a member.
    mutating func renameRemote(from old: String, to new: String) -> Bool {
        guard remote.removeValue(forKey: Nick.key(for: old)) != nil else { return false }
        remote[Nick.key(for: new)] = new
        return true
    }
}
