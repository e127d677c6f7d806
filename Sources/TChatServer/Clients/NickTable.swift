import TChatProtocol

/// Which client holds which nick, ours and linked servers', and the rules that keep nicks unique across the
/// network. A value with no lock and no I/O: `ClientManager` keeps it behind its lock (with each of our clients'
/// session as `Local`, so that one table, not two, is kept per client), tests drive it directly.
///
/// When two clients turn out to hold one nick (a link brings together servers that both had one, or two took it
/// at the same moment), neither keeps it: each is renamed after its own server (`collisionName`), which every
/// server computes alike. Letting the earlier one keep it would mean believing another server's clock, and a lying
/// server could then take any nick, and the direct messages sent to it, by claiming an early `connected at`.
///
/// A nick one of our clients lost so is then held back for that client for `holdTime`: a linked server's claim on
/// it is a collision again (its client is renamed), and none of our other clients may take it. Without that, a
/// lying server would take a nick in two steps: claim it (both lose it), then rename its client to it.
///
/// Sessions of one account may share its nick (a laptop and a phone): the first holds it, the others are its
/// companions. To everyone else, here and on linked servers, they are one client, which goes when the last of them
/// does; a rename or a collision moves them all.
struct NickTable<Local> {
    /// Our client that lost its nick in a collision, and its new one.
    struct LocalRename: Equatable {
        let session: UInt64
        let old: String
        let new: String
        /// Sessions sharing the nick with `session`, renamed with it.
        var companions: [UInt64] = []
    }

    /// What a rename of one of our sessions did.
    enum LocalRenameOutcome: Equatable {
        /// These sessions (the one asking and its companions) now have the new nick.
        case renamed([UInt64])
        /// The session left its nick (no other session had it) for one another session of its account holds, and
        /// is that session's companion now.
        case joined
    }

    /// What a linked server's client arriving (or changing nick) did to the nicks here.
    struct RemoteChange: Equatable {
        /// The nick it had here before (nil when it is new here) and has now.
        var from: String?
        var to: String
        /// Our client that held the nick and lost it too.
        var local: LocalRename?
        /// Another server's client that held the nick and lost it too: its nick here before and after.
        var otherRemote: Rename?
    }

    struct Rename: Equatable {
        let from: String
        let to: String
    }

    private struct Hold {
        let session: UInt64
        let until: Timestamp
    }

    /// How long a nick lost in a collision is held back for the client that lost it, in milliseconds.
    static var holdTime: UInt64 { 5 * 60 * 1000 }
    /// Holds kept at most; past it, expired ones are dropped, then the oldest.
    static var maxHolds: Int { 10_000 }

    let ourServerID: UInt64
    /// Clients one linked server may have here (ten times the default `--max-clients` by default), so a lying
    /// server cannot grow this table without end.
    let maxRemotePerServer: Int
    /// Our clients: nick key to session id, and each session's nick and value.
    private(set) var localByKey: [String: UInt64] = [:]
    private(set) var locals: [UInt64: (nick: Nick, value: Local)] = [:]
    /// Nick key to the sessions sharing it with the one in `localByKey`, in the order they came.
    private(set) var companions: [String: [UInt64]] = [:]
    /// Linked servers' clients.
    private(set) var remote = RemoteDirectory()
    private var holds: [String: Hold] = [:]

    /// Sessions that may share one nick.
    static var maxSessionsPerNick: Int { 10 }

    init(ourServerID: UInt64, maxRemotePerServer: Int = 100_000) {
        self.ourServerID = ourServerID
        self.maxRemotePerServer = maxRemotePerServer
    }

    /// Whether a nick key is held by a client here or of a linked server.
    func isTaken(_ key: String) -> Bool { localByKey[key] != nil || remote[key] != nil }

    /// Whether `key` is held back for one of our clients other than `session`.
    func isHeld(_ key: String, against session: UInt64?, at now: Timestamp) -> Bool {
        guard let hold = holds[key], hold.until > now, hold.session != session else { return false }
        return locals[hold.session] != nil  // a client that left has no more claim
    }

    func localNick(_ session: UInt64) -> Nick? { locals[session]?.nick }

    /// Every session of ours holding `key`: the first, then its companions.
    func sessions(holding key: String) -> [UInt64] {
        guard let first = localByKey[key] else { return [] }
        return [first] + (companions[key] ?? [])
    }

    /// The sessions sharing `session`'s nick, itself left out.
    func companions(of session: UInt64) -> [UInt64] {
        guard let nick = locals[session]?.nick else { return [] }
        return sessions(holding: nick.key).filter { $0 != session }
    }

    /// Whether `session` is the one the network knows its nick by (the first of those sharing it).
    func isFirst(_ session: UInt64) -> Bool {
        locals[session].map { localByKey[$0.nick.key] == session } ?? false
    }

    // MARK: - Our clients

    /// Registers a client of ours under its first nick; throws `nick-in-use` saying why not. With `sharing` (the
    /// caller found the nick's holder logged in to the same account) it becomes the holder's companion; returns
    /// whether it did.
    @discardableResult
    mutating func admitLocal(
        _ nick: Nick, session: UInt64, value: Local, at now: Timestamp, sharing: Bool = false
    ) throws(ProtocolError) -> Bool {
        if sharing, localByKey[nick.key] != nil {
            try addCompanion(session, to: nick)
            locals[session] = (nick, value)
            return true
        }
        try check(nick, for: [session], at: now)
        localByKey[nick.key] = session
        locals[session] = (nick, value)
        return false
    }

    private mutating func addCompanion(_ session: UInt64, to nick: Nick) throws(ProtocolError) {
        guard sessions(holding: nick.key).count < Self.maxSessionsPerNick else {
            // Not too-many-connections, which closes: a NICK refused for this leaves the session as it was.
            throw ProtocolError(
                .nickInUse, "\(Self.maxSessionsPerNick) sessions share the nick \(nick.name) already")
        }
        companions[nick.key, default: []].append(session)
    }

    /// Gives a client of ours a new nick, with every session sharing its nick; throws `nick-in-use` saying why not.
    /// With `sharing` (the new nick's holder is logged in to the same account) a session alone on its nick joins
    /// the holder instead. Nil for a session that is not ours.
    @discardableResult
    mutating func renameLocal(
        _ nick: Nick, session: UInt64, at now: Timestamp, sharing: Bool = false
    ) throws(ProtocolError) -> LocalRenameOutcome? {
        guard let old = locals[session] else { return nil }
        let group = sessions(holding: old.nick.key)
        if sharing, let holder = localByKey[nick.key], !group.contains(holder) {
            guard group.count == 1 else {
                throw ProtocolError(
                    .nickInUse,
                    "\(nick.name) is another nick of your account's sessions; a nick shared by several sessions "
                        + "moves as one, to a free nick")
            }
            try addCompanion(session, to: nick)
            localByKey[old.nick.key] = nil
            locals[session] = (nick, old.value)
            return .joined
        }
        try check(nick, for: group, at: now)
        move(group, from: old.nick, to: nick)
        return .renamed(group)
    }

    /// Puts sessions sharing `old` (the first of them first) under `new`.
    private mutating func move(_ group: [UInt64], from old: Nick, to new: Nick) {
        localByKey[old.key] = nil
        let rest = companions.removeValue(forKey: old.key)
        if let first = group.first { localByKey[new.key] = first }
        companions[new.key] = rest
        for id in group {
            if let local = locals[id] { locals[id] = (new, local.value) }
        }
    }

    private func check(_ nick: Nick, for group: [UInt64], at now: Timestamp) throws(ProtocolError) {
        if let holder = localByKey[nick.key], !group.contains(holder) {
            throw ProtocolError(.nickInUse, "the nick \(nick.name) is in use; choose another")
        }
        if remote[nick.key] != nil {
            throw ProtocolError(.nickInUse, "the nick \(nick.name) is in use on another server")
        }
        if let hold = holds[nick.key], !group.contains(hold.session), isHeld(nick.key, against: nil, at: now) {
            throw ProtocolError(
                .nickInUse, "the nick \(nick.name) is held for the client that lost it in a collision; try later")
        }
    }

    /// Forgets a session of ours: its nick, and whether it was the last session holding it.
    @discardableResult
    mutating func releaseLocal(_ session: UInt64) -> (nick: Nick, wasLast: Bool)? {
        guard let local = locals.removeValue(forKey: session) else { return nil }
        let key = local.nick.key
        var rest = companions.removeValue(forKey: key) ?? []
        if localByKey[key] == session {
            guard !rest.isEmpty else {
                localByKey[key] = nil
                return (local.nick, true)
            }
            localByKey[key] = rest.removeFirst()
            // A nick held back for the session that lost it stays held for the sessions still sharing it.
            for (held, hold) in holds where hold.session == session {
                holds[held] = Hold(session: localByKey[key] ?? session, until: hold.until)
            }
        } else {
            rest.removeAll { $0 == session }
        }
        if !rest.isEmpty { companions[key] = rest }
        return (local.nick, false)
    }

    // MARK: - Linked servers' clients

    /// Registers a linked server's client (or updates one it announced before); a nick held here, or held back, is
    /// a collision. Throws when that server has `maxRemotePerServer` clients here already.
    mutating func addRemote(
        _ client: RemoteClient, serverID: UInt64, serverName: String, at now: Timestamp
    ) throws(ProtocolError) -> RemoteChange? {
        if let key = remote.key(of: client.nick, on: serverID), var known = remote.remove(key: key) {
            // Announced again (a second burst): new details, the same name here.
            let shown = known.client.nick
            known.client = client
            known.client.nick = shown
            remote.insert(known)
            return nil
        }
        guard remote.count(of: serverID) < maxRemotePerServer else {
            throw ProtocolError(.serverFull, "it has \(maxRemotePerServer) clients here already")
        }
        let announcedKey = Nick.key(for: client.nick)
        var incoming = RemoteDirectory.Entry(
            serverID: serverID, serverName: serverName, client: client, announcedKey: announcedKey)
        var change = RemoteChange(from: nil, to: client.nick)
        if isTaken(announcedKey) || isHeld(announcedKey, against: nil, at: now) {
            evictHolders(of: announcedKey, into: &change, at: now)
            incoming.client.nick = Self.collisionName(client.nick, serverID: serverID, taken: isTaken)
            change.to = incoming.client.nick
        }
        remote.insert(incoming)
        return change
    }

    /// A linked server's client changed nick (both named as that server names them). Nil when nothing changes
    /// here; throws when it is not one of that server's clients, or the new nick is another of its clients'.
    mutating func renameRemote(
        from old: String, to new: String, serverID: UInt64, at now: Timestamp
    ) throws(ProtocolError) -> RemoteChange? {
        guard let key = remote.key(of: old, on: serverID) else {
            throw ProtocolError(.noSuchNick, "\(old) is not one of its clients")
        }
        if let other = remote.key(of: new, on: serverID), other != key {
            throw ProtocolError(.nickInUse, "\(new) is another of its clients")
        }
        guard var entry = remote.remove(key: key) else { return nil }
        let shownBefore = entry.client.nick
        let newKey = Nick.key(for: new)
        entry.announcedKey = newKey
        var change = RemoteChange(from: shownBefore, to: new)
        if newKey != key, isTaken(newKey) || isHeld(newKey, against: nil, at: now) {
            evictHolders(of: newKey, into: &change, at: now)
            change.to = Self.collisionName(new, serverID: serverID, taken: isTaken)
        }
        entry.client.nick = change.to
        remote.insert(entry)
        return change.to == shownBefore ? nil : change
    }

    /// Forgets a linked server's client, named as that server names it; returns its nick here.
    mutating func removeRemote(_ nick: String, serverID: UInt64) -> String? {
        guard let key = remote.key(of: nick, on: serverID) else { return nil }
        return remote.remove(key: key)?.client.nick
    }

    /// Forgets every client of a server that left the network; returns their nicks here.
    mutating func removeRemotes(of serverID: UInt64) -> [String] {
        remote.removeAll(of: serverID).map(\.client.nick)
    }

    /// The nick shown here of the client `serverID` calls `nick`; nil when it is not one of that server's clients.
    func remoteNick(_ nick: String, on serverID: UInt64) -> String? {
        remote.key(of: nick, on: serverID).flatMap { remote[$0]?.client.nick }
    }

    /// Sets what the client `serverID` calls `nick` told of itself (its away text, its account).
    mutating func setRemote(
        _ field: WritableKeyPath<RemoteDirectory.Entry, String>, to value: String, nick: String, on serverID: UInt64
    ) -> RemoteFieldChange {
        guard let key = remote.key(of: nick, on: serverID), var entry = remote.remove(key: key) else {
            return .notTheirs
        }
        let changed = entry[keyPath: field] != value
        entry[keyPath: field] = value
        remote.insert(entry)
        return changed ? .changed : .unchanged
    }

    // MARK: - Collisions

    /// Whoever holds `key` (our client, or another server's) is renamed after their own server; an evicted client
    /// of ours gets the nick held back for it.
    private mutating func evictHolders(of key: String, into change: inout RemoteChange, at now: Timestamp) {
        if let session = localByKey[key], let local = locals[session] {
            let nick = local.nick
            let new = Self.collisionName(nick.name, serverID: ourServerID, taken: isTaken)
            if let newNick = try? Nick(validating: new) {
                let group = sessions(holding: key)
                move(group, from: nick, to: newNick)
                change.local = LocalRename(
                    session: session, old: nick.name, new: new, companions: Array(group.dropFirst()))
                hold(key, for: session, at: now)
            }
        }
        if var other = remote.remove(key: key) {
            let old = other.client.nick
            other.client.nick = Self.collisionName(old, serverID: other.serverID, taken: isTaken)
            remote.insert(other)
            change.otherRemote = Rename(from: old, to: other.client.nick)
        }
    }

    private mutating func hold(_ key: String, for session: UInt64, at now: Timestamp) {
        if holds.count >= Self.maxHolds {
            holds = holds.filter { $0.value.until > now }
            if holds.count >= Self.maxHolds, let oldest = holds.min(by: { $0.value.until < $1.value.until }) {
                holds[oldest.key] = nil
            }
        }
        let (until, overflow) = now.milliseconds.addingReportingOverflow(Self.holdTime)
        holds[key] = Hold(session: session, until: Timestamp(milliseconds: overflow ? UInt64.max : until))
    }

    /// The name a client that lost a nick collision gets: the nick, `_`, and its server's id in hex, as short as
    /// it can be; failing all of those (each taken), a number after the full id. Never a taken name.
    static func collisionName(_ nick: String, serverID: UInt64, taken: (String) -> Bool) -> String {
        let hex = ServerIdentity.hex(serverID)
        for length in stride(from: 4, through: 16, by: 2) {
            let suffix = "_" + hex.prefix(length)
            let candidate = String(nick.prefix(ProtocolLimits.maxNickLength - suffix.count)) + suffix
            if !taken(Nick.key(for: candidate)) { return candidate }
        }
        var counter = 1
        while true {
            let suffix = "_" + hex.prefix(4) + "\(counter)"
            let candidate = String(nick.prefix(ProtocolLimits.maxNickLength - suffix.count)) + suffix
            if !taken(Nick.key(for: candidate)) { return candidate }
            counter += 1
        }
    }
}

/// What setting a linked server's client's away text or account did (`NickTable.setRemote`).
enum RemoteFieldChange {
    /// The nick is not one of that server's clients.
    case notTheirs
    case unchanged
    case changed
}
