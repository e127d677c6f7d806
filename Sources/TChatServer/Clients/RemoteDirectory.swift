import TChatProtocol

/// The clients of linked servers as this server knows them: by the nick shown here (which a collision may have
/// changed) and by the nick their own server uses for them (what its frames say).
///
/// Every frame a linked server sends about one of its clients names it the way that server does; looking it up
/// here both translates the name and proves the client is that server's, so no server can speak for another's
/// clients or for ours.
struct RemoteDirectory {
    /// A client of a linked server.
    struct Entry: Sendable {
        let serverID: UInt64
        let serverName: String
        /// Its details, `nick` being the name shown here.
        var client: RemoteClient
        /// The lookup key of the nick its own server uses for it.
        var announcedKey: String
        /// Its away text (PEER_AWAY), empty when not away: it moves and goes with the entry.
        var away = ""
        /// The name of the account it is logged in to (PEER_LOGGED_IN), empty when none: it goes with the entry too.
        var account = ""
    }

    /// Shown nick key → client.
    private(set) var byKey: [String: Entry] = [:]
    /// Server id → announced nick key → shown nick key.
    private var announced: [UInt64: [String: String]] = [:]

    subscript(key: String) -> Entry? { byKey[key] }

    var entries: Dictionary<String, Entry>.Values { byKey.values }

    /// How many clients `serverID` has here.
    func count(of serverID: UInt64) -> Int { announced[serverID]?.count ?? 0 }

    /// The shown key of the client `serverID` calls `nick`, if it is one of that server's.
    func key(of nick: String, on serverID: UInt64) -> String? {
        announced[serverID]?[Nick.key(for: nick)]
    }

    mutating func insert(_ entry: Entry) {
        let key = Nick.key(for: entry.client.nick)
        byKey[key] = entry
        announced[entry.serverID, default: [:]][entry.announcedKey] = key
    }

    @discardableResult
    mutating func remove(key: String) -> Entry? {
        guard let entry = byKey.removeValue(forKey: key) else { return nil }
        announced[entry.serverID]?[entry.announcedKey] = nil
        return entry
    }

    /// Every client of `serverID`, removed.
    mutating func removeAll(of serverID: UInt64) -> [Entry] {
        let keys = announced.removeValue(forKey: serverID)?.values ?? [:].values
        return keys.compactMap { byKey.removeValue(forKey: $0) }
    }
}
