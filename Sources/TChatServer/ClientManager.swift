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

    private struct State {
        var active: [UInt64: Active] = [:]
        /// Nick key to session id.
        var byNick: [String: UInt64] = [:]
        /// Nick key to what is remembered of it.
        var known: [String: NickRecord] = [:]

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
            return record
        }
    }

    private let state: Mutex<State>
    private let store: HistoryStore
    private let serverName: String
    private let logger: Logger

    init(store: HistoryStore, known: [NickRecord], serverName: String, logger: Logger) {
        var initial = State()
        for record in known { initial.known[Nick.key(for: record.nick)] = record }
        self.state = Mutex(initial)
        self.store = store
        self.serverName = serverName
        self.logger = logger
    }

    var count: Int { state.withLock { $0.active.count } }

    /// The contents of `nicks.json`.
    func snapshot() -> NicksFile {
        let known = state.withLock { $0.known }
        return NicksFile(version: 1, nicks: known.values.sorted { $0.nick.lowercased() < $1.nick.lowercased() })
    }

    /// Registers a session under its nick; returns the nick's saved welcome text.
    func admit(_ session: ClientSession, nick: Nick) throws(ProtocolError) -> String {
        let welcome = try state.withLock { (state) throws(ProtocolError) -> String in
            guard state.byNick[nick.key] == nil else {
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

    /// Every connected client, or those among `sessions`, sorted by nick.
    func list(_ sessions: [ClientSession]? = nil) -> [ClientInfo] {
        let infos = state.withLock { state in
            if let sessions {
                return sessions.compactMap { state.active[$0.id].map { info(of: $0) } }
            }
            return state.active.values.map { info(of: $0) }
        }
        return infos.sorted { $0.nick.lowercased() < $1.nick.lowercased() }
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
