import Logging
import Synchronization
import TChatProtocol

/// Who is connected, under which nick, and what is remembered of every nick that ever connected.
///
/// Nicks are unique case-insensitively among connected clients. Each finished connection is appended to
/// `clients.jsonl`; welcome texts and per-nick totals live in `nicks.json`, rewritten by the store writer.
final class ClientManager: Sendable {
    private struct Active {
        let session: ClientSession
        var nick: Nick
    }

    typealias Remote = RemoteDirectory.Entry

    /// Where a nick is connected.
    enum Location {
        case local(ClientSession)
        case remote(serverID: UInt64, nick: String)
    }

    /// Our client that lost its nick in a collision, and its new one.
    struct LocalRename: Equatable {
        let session: UInt64
        let old: String
        let new: String
    }

    /// What a linked server's client arriving (or changing nick) did to the nicks here.
    struct RemoteChange: Equatable {
        /// The nick it had here before (nil when it is new here) and has now.
        var from: String?
        var to: String
        /// Our client that held the nick and lost it too.
        var local: LocalRename?
        /// Another server's client that held the nick and lost it too: its nick here before and after.
        var otherRemote: (from: String, to: String)?

        static func == (lhs: RemoteChange, rhs: RemoteChange) -> Bool {
            lhs.from == rhs.from && lhs.to == rhs.to && lhs.local == rhs.local
                && lhs.otherRemote?.from == rhs.otherRemote?.from && lhs.otherRemote?.to == rhs.otherRemote?.to
        }
    }

    private struct State {
        var active: [UInt64: Active] = [:]
        /// Nick key to session id.
        var byNick: [String: UInt64] = [:]
        /// Linked servers' clients.
        var remote = RemoteDirectory()
        /// Nick key to what is remembered of it.
        var known: [String: NickRecord] = [:]
        /// At most this many nicks are remembered (see `forgetOldest`).
        var knownLimit = ClientManager.defaultKnownLimit

        /// What is remembered of a nick, or a fresh record first seen at `time`.
        func record(for nick: Nick, at time: Timestamp) -> NickRecord {
            known[nick.key]
                ?? NickRecord(
                    nick: nick.name, welcome: "", firstSeen: time.iso8601, lastSeen: time.iso8601, connections: 0,
                    connectedMs: 0)
        }

        /// Records that `nick`, spelled so, is in use at `time`.
        mutating func markSeen(_ nick: Nick, at time: Timestamp, connecting: Bool) -> NickRecord {
            var record = record(for: nick, at: time)
            record.nick = nick.name
            record.lastSeen = time.iso8601
            if connecting { record.connections += 1 }
            known[nick.key] = record
            if known.count > knownLimit { forgetOldest() }
            return record
        }

        /// Whether a nick key is held by a client here or of a linked server.
        func isTaken(_ key: String) -> Bool { byNick[key] != nil || remote[key] != nil }

        /// A nick collision: whoever holds `key` (our client, or another server's) is renamed after their own
        /// server, and `change` records it.
        mutating func evictHolders(of key: String, into change: inout RemoteChange, ourServerID: UInt64) {
            if let id = byNick[key], let local = active[id] {
                let new = ClientManager.collisionName(local.nick.name, serverID: ourServerID, taken: isTaken)
                if let newNick = try? Nick(validating: new) {
                    byNick[key] = nil
                    byNick[newNick.key] = id
                    active[id]?.nick = newNick
                    change.local = LocalRename(session: id, old: local.nick.name, new: new)
                }
            }
            if var other = remote.remove(key: key) {
                let old = other.client.nick
                other.client.nick = ClientManager.collisionName(old, serverID: other.serverID, taken: isTaken)
                remote.insert(other)
                change.otherRemote = (old, other.client.nick)
            }
        }

        /// Every new nick is remembered, so a client cycling through random nicks would grow `nicks.json` and the
        /// server's memory without end: past the limit, the tenth seen longest ago (and not connected) is
        /// forgotten, their welcome text with them. Done a tenth at a time so that the sort is rare.
        mutating func forgetOldest() {
            let connected = byNick
            let candidates = known.filter { connected[$0.key] == nil && remote[$0.key] == nil }
                .sorted { $0.value.lastSeen < $1.value.lastSeen }
            for (key, _) in candidates.prefix(max(knownLimit / 10, 1)) { known[key] = nil }
        }
    }

    private let state: Mutex<State>
    private let store: HistoryStore
    private let serverName: String
    /// This server's id, which breaks ties between two clients that took the same nick at the same millisecond.
    let serverID: UInt64
    private let logger: Logger

    /// Nicks remembered at most; the default for `knownLimit`.
    static let defaultKnownLimit = 100_000

    init(
        store: HistoryStore, known: [NickRecord], serverName: String, serverID: UInt64 = 0,
        knownLimit: Int = ClientManager.defaultKnownLimit, logger: Logger
    ) {
        var initial = State()
        initial.knownLimit = knownLimit
        for record in known { initial.known[Nick.key(for: record.nick)] = record }
        self.state = Mutex(initial)
        self.store = store
        self.serverName = serverName
        self.serverID = serverID
        self.logger = logger
    }

    /// Clients connected to this server (not the network).
    var count: Int { state.withLock { $0.active.count } }

    /// The contents of `nicks.json`.
    func snapshot() -> NicksFile {
        let known = state.withLock { $0.known }
        return NicksFile(version: 1, nicks: known.values.sorted { $0.nick.lowercased() < $1.nick.lowercased() })
    }

    /// Registers a session under its nick; returns the nick's saved welcome text.
    func admit(_ session: ClientSession, nick: Nick) throws(ProtocolError) -> String {
        let welcome = try state.withLock { (state) throws(ProtocolError) -> String in
            guard state.byNick[nick.key] == nil, state.remote[nick.key] == nil else {
                throw ProtocolError(.nickInUse, "the nick \(nick.name) is in use; choose another")
            }
            state.byNick[nick.key] = session.id
            state.active[session.id] = Active(session: session, nick: nick)
            return state.markSeen(nick, at: session.connectedAt, connecting: true).welcome
        }
        store.writer.markNicksChanged()
        return welcome
    }

    func rename(_ session: ClientSession, to nick: Nick) throws(ProtocolError) {
        try state.withLock { (state) throws(ProtocolError) in
            guard var active = state.active[session.id] else { return }
            if let holder = state.byNick[nick.key], holder != session.id {
                throw ProtocolError(.nickInUse, "the nick \(nick.name) is in use")
            }
            if state.remote[nick.key] != nil {
                throw ProtocolError(.nickInUse, "the nick \(nick.name) is in use on another server")
            }
            state.byNick[active.nick.key] = nil
            state.byNick[nick.key] = session.id
            active.nick = nick
            state.active[session.id] = active
            _ = state.markSeen(nick, at: .now(), connecting: false)
        }
        store.writer.markNicksChanged()
    }

    /// Forgets a session and logs its connection; safe to call for a session never admitted.
    func remove(_ session: ClientSession, reason: String) {
        let now = Timestamp.now()
        let removed: Active? = state.withLock { state in
            guard let active = state.active.removeValue(forKey: session.id) else { return nil }
            state.byNick[active.nick.key] = nil
            let duration = now.milliseconds(since: session.connectedAt)
            state.known[active.nick.key]?.lastSeen = now.iso8601
            state.known[active.nick.key]?.connectedMs += duration
            return active
        }
        guard let removed else { return }
        store.writer.markNicksChanged()
        let record = ConnectionRecord(
            nick: removed.nick.name, address: session.address, connected: session.connectedAt.iso8601,
            disconnected: now.iso8601, durationMs: now.milliseconds(since: session.connectedAt),
            client: session.hello.clientName, clientVersion: session.hello.clientVersion, host: session.hello.host,
            pid: session.hello.processID, reason: reason)
        if !store.writer.enqueue(.connection(record)) {
            logger.warning(
                "connection log entry dropped: the history writer is overloaded", metadata: ["nick": "\(removed.nick)"])
        }
    }

    /// A session's nick now (a collision with a linked server's client may have changed it).
    func currentNick(of session: ClientSession) -> Nick? {
        state.withLock { $0.active[session.id]?.nick }
    }

    func session(named nick: String) -> ClientSession? {
        state.withLock { state in state.byNick[Nick.key(for: nick)].flatMap { state.active[$0]?.session } }
    }

    func info(for session: ClientSession) -> ClientInfo? {
        state.withLock { state in state.active[session.id].map { info(of: $0) } }
    }

    func info(named nick: String) -> ClientInfo? {
        state.withLock { state in
            state.byNick[Nick.key(for: nick)].flatMap { state.active[$0] }.map { info(of: $0) }
        }
    }

    /// Every client of the network, or those among `sessions` and the remote `nicks`, sorted by nick.
    func list(_ sessions: [ClientSession]? = nil, remoteNicks: [String] = []) -> [ClientInfo] {
        let infos = state.withLock { state in
            if let sessions {
                return sessions.compactMap { state.active[$0.id].map { info(of: $0) } }
                    + remoteNicks.compactMap { state.remote[Nick.key(for: $0)].map { info(of: $0) } }
            }
            return state.active.values.map { info(of: $0) } + state.remote.entries.map { info(of: $0) }
        }
        return infos.sorted { $0.nick.lowercased() < $1.nick.lowercased() }
    }

    func locate(_ nick: String) -> Location? {
        state.withLock { state in
            let key = Nick.key(for: nick)
            if let id = state.byNick[key], let active = state.active[id] { return .local(active.session) }
            if let remote = state.remote[key] { return .remote(serverID: remote.serverID, nick: remote.client.nick) }
            return nil
        }
    }

    /// Our clients, with their nicks, to describe to a newly linked server.
    func localClients() -> [(session: ClientSession, nick: Nick)] {
        state.withLock { $0.active.values.map { ($0.session, $0.nick) } }
    }

    // MARK: - Clients of linked servers

    /// The name a client that lost a nick collision gets: the nick, `_`, and its server's id in hex, as short as
    /// it can be. Both servers of a collision compute it alike.
    static func collisionName(_ nick: String, serverID: UInt64, taken: (String) -> Bool) -> String {
        let hex = ServerIdentity.hex(serverID)
        for length in stride(from: 4, through: 16, by: 2) {
            let suffix = "_" + hex.prefix(length)
            let candidate = String(nick.prefix(ProtocolLimits.maxNickLength - suffix.count)) + suffix
            if !taken(Nick.key(for: candidate)) { return candidate }
        }
        return String(nick.prefix(ProtocolLimits.maxNickLength - 17)) + "_" + hex
    }

    /// Registers a linked server's client (or updates one it announced before). When the nick is held here, by
    /// our client or another server's, every holder loses it: each is renamed by `collisionName` after its own
    /// server. Every server applies the same rule and reaches the same names without asking the others.
    ///
    /// Nobody keeps the nick because no server can tell which client came first without believing another
    /// server's clock, and believing it would let a lying server take any nick (and the direct messages sent to it)
    /// by claiming an early `connected at`. A renamed user can take the nick back with `/nick` once it is free.
    func addRemote(_ client: RemoteClient, serverID: UInt64, serverName: String) -> RemoteChange? {
        state.withLock { state in
            let announcedKey = Nick.key(for: client.nick)
            if let key = state.remote.key(of: client.nick, on: serverID), var known = state.remote.remove(key: key) {
                // Announced again (a second burst): new details, the same name here.
                let shown = known.client.nick
                known.client = client
                known.client.nick = shown
                state.remote.insert(known)
                return nil
            }
            var incoming = Remote(
                serverID: serverID, serverName: serverName, client: client, announcedKey: announcedKey)
            guard state.byNick[announcedKey] != nil || state.remote[announcedKey] != nil else {
                state.remote.insert(incoming)
                return RemoteChange(from: nil, to: client.nick)
            }
            var change = RemoteChange(from: nil, to: client.nick)
            state.evictHolders(of: announcedKey, into: &change, ourServerID: self.serverID)
            incoming.client.nick = Self.collisionName(client.nick, serverID: serverID, taken: state.isTaken)
            state.remote.insert(incoming)
            change.to = incoming.client.nick
            return change
        }
    }

    /// Forgets a linked server's client, named as that server names it; returns its nick here.
    func removeRemote(_ nick: String, serverID: UInt64) -> String? {
        state.withLock { state in
            guard let key = state.remote.key(of: nick, on: serverID) else { return nil }
            return state.remote.remove(key: key)?.client.nick
        }
    }

    /// A linked server's client changed nick (both named as that server names them). Nil when it is not one of
    /// that server's clients, or nothing changes here; a new nick held here is a collision, as in `addRemote`.
    func renameRemote(from old: String, to new: String, serverID: UInt64) -> RemoteChange? {
        state.withLock { state in
            guard let key = state.remote.key(of: old, on: serverID), var entry = state.remote.remove(key: key) else {
                return nil
            }
            let shownBefore = entry.client.nick
            let newKey = Nick.key(for: new)
            entry.announcedKey = newKey
            var change = RemoteChange(from: shownBefore, to: new)
            if newKey != key, state.byNick[newKey] != nil || state.remote[newKey] != nil {
                state.evictHolders(of: newKey, into: &change, ourServerID: self.serverID)
                change.to = Self.collisionName(new, serverID: serverID, taken: state.isTaken)
            }
            entry.client.nick = change.to
            state.remote.insert(entry)
            return change.to == shownBefore ? nil : change
        }
    }

    /// The nick shown here of the client `serverID` calls `nick`; nil when it is not one of that server's clients.
    func remoteNick(_ nick: String, on serverID: UInt64) -> String? {
        state.withLock { state in state.remote.key(of: nick, on: serverID).flatMap { state.remote[$0]?.client.nick } }
    }

    /// Forgets every client of a server that left the network; returns their nicks.
    func removeRemotes(of serverID: UInt64) -> [String] {
        state.withLock { $0.remote.removeAll(of: serverID).map(\.client.nick) }
    }

    func remoteInfo(named nick: String) -> ClientInfo? {
        state.withLock { state in state.remote[Nick.key(for: nick)].map { info(of: $0) } }
    }

    /// When a nick that is not connected was last seen, for a helpful "no such nick".
    func lastSeen(_ nick: String) -> String? {
        state.withLock { $0.known[Nick.key(for: nick)]?.lastSeen }
    }

    func welcomeText(for nick: Nick) -> String {
        state.withLock { $0.known[nick.key]?.welcome ?? "" }
    }

    func setWelcomeText(_ text: String, for nick: Nick) {
        state.withLock { state in
            var record = state.record(for: nick, at: .now())
            record.welcome = text
            state.known[nick.key] = record
        }
        store.writer.markNicksChanged()
    }

    private func info(of remote: Remote) -> ClientInfo {
        let client = remote.client
        return ClientInfo(
            nick: client.nick, address: client.address, connectedAt: client.connectedAt,
            durationMilliseconds: Timestamp.now().milliseconds(since: client.connectedAt),
            clientName: client.clientName, clientVersion: client.clientVersion, host: client.host,
            processID: client.processID, server: remote.serverName)
    }

    private func info(of active: Active) -> ClientInfo {
        let session = active.session
        return ClientInfo(
            nick: active.nick.name, address: session.address, connectedAt: session.connectedAt,
            durationMilliseconds: Timestamp.now().milliseconds(since: session.connectedAt),
            clientName: session.hello.clientName,
            clientVersion: session.hello.clientVersion, host: session.hello.host, processID: session.hello.processID,
            server: serverName)
    }
}
