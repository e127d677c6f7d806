import Logging
import NIOCore
import Synchronization
import TChatAuth
import TChatProtocol

/// Who is connected, under which nick, and what is remembered of every nick that ever connected.
///
/// Nicks are unique by skeleton: case-insensitively, and look-alikes are one nick across the network (`NickTable` holds who has which, and the collision
/// rule). Each finished connection is appended to `clients.jsonl`; welcome texts and per-nick totals live in
/// `nicks.json`, rewritten by the store writer.
final class ClientManager: Sendable {
    typealias Remote = RemoteDirectory.Entry
    typealias LocalRename = NickTable<ClientSession>.LocalRename
    typealias RemoteChange = NickTable<ClientSession>.RemoteChange

    /// Where a nick is connected.
    enum Location {
        case local(ClientSession)
        case remote(serverID: UInt64, nick: String)
    }

    struct State {
        /// Our clients (with their sessions) and linked servers' clients.
        var nicks: NickTable<ClientSession>
        /// Nick key to what is remembered of it.
        var known = KnownNicks()
        /// At most this many nicks are remembered (see `forgetOldest`).
        var knownLimit = ClientManager.defaultKnownLimit
        /// The account each logged-in session of ours is logged in to.
        var accountOf: [UInt64: LoggedIn] = [:]
        /// Sessions whose connection closed, being taken out: no new session shares a nick with them alone.
        var leaving: Set<UInt64> = []
        /// Away texts of our sessions, by session id: kept with the session, not its nick, so a rename or a
        /// collision cannot leave one behind or hand it to someone else, and it goes when the session does.
        /// (Linked servers' clients keep theirs in their `RemoteDirectory` entry.)
        var awayOfSession: [UInt64: String] = [:]
        /// Accounts dropped lately, for a login recorded after its account was checked (`RecentDrops`).
        var drops = RecentDrops()

        /// A session now shares a nick: it is away as the others holding it are, so they stay one person.
        mutating func inheritAway(_ session: UInt64, holding key: String) {
            let others = nicks.sessions(holding: key).filter { $0 != session }
            awayOfSession[session] = others.first.flatMap { awayOfSession[$0] }
        }

        /// Whether a session logged in to `account` takes `nick` as a companion of the session holding it: it is
        /// the same account's.
        func shares(_ nick: Nick, with account: String?) -> Bool {
            guard let account else { return false }
            let staying = nicks.sessions(holding: nick.key).filter { !leaving.contains($0) }
            return staying.first.map { accountOf[$0]?.key == account } ?? false
        }

        func sessions(_ ids: [UInt64]) -> [ClientSession] {
            ids.compactMap { nicks.locals[$0]?.value }
        }

        /// What is remembered of a nick, or a fresh record first seen at `time`.
        func record(for nick: Nick, at time: Timestamp) -> NickRecord {
            known[nick.key]
                ?? NickRecord(
                    nick: nick.name, welcome: "", firstSeen: time, lastSeen: time, connections: 0,
                    connectedMs: 0)
        }

        /// Records that `nick`, spelled so, is in use at `time`.
        mutating func markSeen(_ nick: Nick, at time: Timestamp, connecting: Bool) -> NickRecord {
            var record = record(for: nick, at: time)
            record.nick = nick.name
            record.lastSeen = time
            if connecting { record.connections += 1 }
            known[nick.key] = record
            if known.count > knownLimit { forgetOldest() }
            return record
        }

        /// Every new nick is remembered, so a client cycling through random nicks would grow `nicks.json` and the
        /// server's memory without end: past the limit, the tenth seen longest ago (and not connected) is
        /// forgotten, their welcome text with them. Done a tenth at a time so that the sort is rare.
        mutating func forgetOldest() {
            let nicks = self.nicks
            let candidates = known.records.filter { !nicks.isTaken($0.key) }.sorted {
                $0.value.lastSeen < $1.value.lastSeen
            }
            for (key, _) in candidates.prefix(max(knownLimit / 10, 1)) { known[key] = nil }
        }
    }

    let state: Mutex<State>
    private let store: any ChatStorage
    /// Who owns which nick; nil (tests, `tchat --local`'s server before accounts) or turned off: nobody does.
    let accounts: AccountBook?
    /// Where arrivals, renames and departures go for the rest of the network.
    let feed: ChangeFeed
    private let serverName: String
    /// This server's id, after which our clients that lose a nick collision are renamed.
    let serverID: UInt64
    private let logger: Logger

    /// Nicks remembered at most; the default for `knownLimit`.
    static let defaultKnownLimit = 100_000

    init(
        store: any ChatStorage, known: [NickRecord], serverName: String, serverID: UInt64 = 0,
        knownLimit: Int = ClientManager.defaultKnownLimit, feed: ChangeFeed = ChangeFeed(),
        accounts: AccountBook? = nil, logger: Logger
    ) {
        var initial = State(nicks: NickTable<ClientSession>(ourServerID: serverID))
        initial.knownLimit = knownLimit
        // Nicks an older version kept apart can share a skeleton now (`Nick.key(for:)`): the one seen first stays,
        // since a look-alike is more likely a later impersonator than the nick's first owner.
        for record in known {
            let key = Nick.key(for: record.nick)
            if let kept = initial.known[key], kept.firstSeen <= record.firstSeen { continue }
            initial.known[key] = record
        }
        _ = initial.known.takeChanges()  // as stored
        self.state = Mutex(initial)
        self.store = store
        self.accounts = accounts?.isEnabled == true ? accounts : nil
        self.feed = feed
        self.serverName = serverName
        self.serverID = serverID
        self.logger = logger
    }

    /// The records changed since last asked, and how many nicks are remembered: for the nick journal.
    func takeNickChanges() -> (changes: [(key: String, record: NickRecord?)], total: Int) {
        state.withLock { state in (state.known.takeChanges(), state.known.count) }
    }

    /// Clients connected to this server (not the network).
    var count: Int { state.withLock { $0.nicks.locals.count } }

    /// The contents of `nicks.json`.
    func snapshot() -> NicksFile {
        let known = state.withLock { $0.known.records }
        // Sorted by the keys already made, not by lowercasing two nicks per comparison.
        return NicksFile(version: 1, nicks: known.sorted { $0.key < $1.key }.map(\.value), journal: nil)
    }

    // Arrivals, renames and departures are emitted while the nick table's lock is held, so the network hears of two
    // clients trading a nick in the order the table saw it (the feed only queues; see `ChangeReplicator`).

    /// What admitting a session gave it.
    struct Admission {
        /// The account's welcome text when accounts are on, else the nick's.
        var welcome: String
        /// The sessions of its account it shares its nick with (empty: it is a client of its own).
        var companions: [ClientSession]
    }

    /// Registers a session under its nick, logged in to `account` (a key) or not. A nick held by a session logged in
    /// to the same account is shared with it: the network hears of no new client.
    ///
    /// `greet` makes the session's first frames from its welcome text; they are posted before the nick table lets
    /// go, so that nothing sent to the nick from elsewhere (a direct message to the sessions sharing it) comes first.
    func admit(
        _ session: ClientSession, nick: Nick, account: String? = nil, keys: ScramKeys? = nil,
        checkedAt mark: UInt64? = nil, greet: (String) -> ByteBuffer? = { _ in nil }
    ) throws(ProtocolError) -> Admission {
        try checkOwnership(of: nick, by: account)
        // Read before the nick table's lock, which never waits for the accounts' own; a drop after the caller
        // checked the login (`mark`) is caught under the lock (`RecentDrops`). `keys`: the ones the login proved,
        // so that an account dropped and made again by someone else in between is not taken for it.
        let mark = mark ?? dropMark
        let accounts = self.accounts
        var registered = account.flatMap { accounts?.account(forKey: $0) }
        if let keys, registered?.scram != keys { registered = nil }
        let accountWelcome = registered?.welcome ?? ""
        let (welcome, companions) = try state.withLock {
            (state) throws(ProtocolError) -> (String, [ClientSession]) in
            // An account dropped since its login logs nobody in: the hello is refused, and a client may come again
            // without it. Admitted as nobody, it would hold the account's nick and pass --require-account.
            if let account { try state.drops.check(account, since: mark) }
            let loggedIn = account.flatMap { key in registered.map { LoggedIn(key: key, name: $0.name) } }
            if let account, loggedIn == nil {
                throw ProtocolError(.loginFailed, "the account \(account) was dropped while you logged in")
            }
            let sharing = state.shares(nick, with: loggedIn?.key)
            try state.nicks.admitLocal(
                nick, session: session.id, value: session, at: session.connectedAt, sharing: sharing)
            state.accountOf[session.id] = loggedIn
            if sharing { state.inheritAway(session.id, holding: nick.key) }
            if !sharing {
                feed.emit(.clientAdded(session.remoteClient(nick: nick)))
                if let loggedIn { feed.emit(.record(.loggedIn(nick: nick.name, account: loggedIn.name))) }
            }
            var welcome = state.markSeen(nick, at: session.connectedAt, connecting: true).welcome
            if accounts != nil { welcome = accountWelcome }
            if let greeting = greet(welcome) { session.send(greeting) }
            return (welcome, state.sessions(state.nicks.companions(of: session.id)))
        }
        store.nicksChanged()
        return Admission(welcome: welcome, companions: companions)
    }

    /// A session's connection closed: from now on no new session shares its nick with it alone. Returns the
    /// sessions that share its nick and are not leaving (its channels then hear nothing of its going).
    func beginLeaving(_ session: ClientSession) -> [ClientSession] {
        state.withLock { state in
            state.leaving.insert(session.id)
            return state.sessions(state.nicks.companions(of: session.id).filter { !state.leaving.contains($0) })
        }
    }

    /// A registered nick is its account's: anyone else asking for it is refused, not renamed, so that a client
    /// learns at once that it cannot have it.
    private func checkOwnership(of nick: Nick, by account: String?) throws(ProtocolError) {
        guard let accounts, accounts.isRegistered(nick.key), account != nick.key else { return }
        throw ProtocolError(
            .nickRegistered, "the nick \(nick.name) is registered: log in to use it, or choose another")
    }

    /// What a rename did, for the channels and the sessions concerned.
    enum Rename {
        /// The session and its companions (all of them here) have the new nick.
        case renamed(companions: [ClientSession])
        /// The session left its old nick, which no one holds now, to share the new one with these sessions of its
        /// account.
        case joined(companions: [ClientSession])
    }

    /// Renames a session with every session sharing its nick, or lets it join sessions of its account holding the
    /// new nick. Nil when the session is not ours.
    @discardableResult
    func rename(_ session: ClientSession, to nick: Nick) throws(ProtocolError) -> Rename? {
        let account = account(of: session)
        try checkOwnership(of: nick, by: account)
        let outcome = try state.withLock { (state) throws(ProtocolError) -> Rename? in
            guard let old = state.nicks.localNick(session.id) else { return nil }
            let now = Timestamp.now()
            let sharing = state.shares(nick, with: account)
            guard let outcome = try state.nicks.renameLocal(nick, session: session.id, at: now, sharing: sharing)
            else { return nil }
            _ = state.markSeen(nick, at: now, connecting: false)
            let companions = state.sessions(state.nicks.companions(of: session.id))
            switch outcome {
            case .renamed:
                feed.emit(.clientRenamed(old: old.name, new: nick.name))
                return .renamed(companions: companions)
            case .joined:
                state.inheritAway(session.id, holding: nick.key)
                feed.emit(.clientRemoved(nick: old.name, reason: "now a session of \(nick.name)"))
                return .joined(companions: companions)
            }
        }
        guard outcome != nil else { return nil }
        store.nicksChanged()
        return outcome
    }

    /// The other sessions sharing `session`'s nick.
    func companions(of session: ClientSession) -> [ClientSession] {
        state.withLock { $0.sessions($0.nicks.companions(of: session.id)) }
    }

    /// Every session of ours connected as `nick`.
    func sessions(named nick: String) -> [ClientSession] {
        state.withLock { $0.sessions($0.nicks.sessions(holding: Nick.key(for: nick))) }
    }

    /// Forgets a session, logs its connection with `reason` and, when no other session shares its nick, tells the
    /// network it quit with `quitMessage` (what the client said in QUIT, else `reason`); safe to call for a session
    /// never admitted. Returns whether its nick went with it (false: companions keep it).
    @discardableResult
    func remove(_ session: ClientSession, reason: String, quitMessage: String? = nil) -> Bool {
        let now = Timestamp.now()
        let released: (nick: Nick, wasLast: Bool)? = state.withLock { state in
            state.accountOf[session.id] = nil
            state.awayOfSession[session.id] = nil
            state.leaving.remove(session.id)
            guard let (nick, wasLast) = state.nicks.releaseLocal(session.id) else { return nil }
            if wasLast { feed.emit(.clientRemoved(nick: nick.name, reason: quitMessage ?? reason)) }
            let duration = now.milliseconds(since: session.connectedAt)
            state.known[nick.key]?.lastSeen = now
            state.known[nick.key]?.connectedMs += duration
            return (nick, wasLast)
        }
        guard let (removed, wasLast) = released else { return true }
        store.nicksChanged()
        let record = ConnectionRecord(
            nick: removed.name, address: session.address, connected: session.connectedAt.iso8601,
            disconnected: now.iso8601, durationMs: now.milliseconds(since: session.connectedAt),
            client: session.hello.clientName, clientVersion: session.hello.clientVersion, host: session.hello.host,
            pid: session.hello.processID, reason: reason)
        if !store.logConnection(record) {
            logger.warning(
                "connection log entry dropped: the history writer is overloaded", metadata: ["nick": "\(removed)"])
        }
        return wasLast
    }

    /// A session's nick now (a collision with a linked server's client may have changed it).
    func currentNick(of session: ClientSession) -> Nick? {
        state.withLock { $0.nicks.localNick(session.id) }
    }

    func session(named nick: String) -> ClientSession? {
        state.withLock { state in
            state.nicks.localByKey[Nick.key(for: nick)].flatMap { state.nicks.locals[$0]?.value }
        }
    }

    func info(for session: ClientSession) -> ClientInfo? {
        state.withLock { state in info(of: session.id, in: state) }
    }

    func info(named nick: String) -> ClientInfo? {
        state.withLock { state in state.nicks.localByKey[Nick.key(for: nick)].flatMap { info(of: $0, in: state) } }
    }

    /// Every client of the network, or those among `sessions` and the remote `nicks`, sorted by nick.
    /// A listed client with its away text (nil: here) and account (empty: none), read together with it.
    struct Listed {
        let info: ClientInfo
        let away: String?
        let account: String
    }

    func list(_ sessions: [ClientSession]? = nil, remoteNicks: [String] = []) -> [Listed] {
        let found = state.withLock { state in
            if let sessions {
                return sessions.compactMap { listing($0.id, in: state) }
                    + remoteNicks.compactMap { state.nicks.remote[Nick.key(for: $0)].map { listing($0) } }
            }
            return state.nicks.localByKey.values.compactMap { listing($0, in: state) }
                + state.nicks.remote.entries.map { listing($0) }
        }
        // Sessions sharing a nick are one client.
        var seen = Set<String>()
        return found.filter { seen.insert(Nick.key(for: $0.info.nick)).inserted }
            .sorted { $0.info.nick.lowercased() < $1.info.nick.lowercased() }
    }

    private func listing(_ id: UInt64, in state: State) -> Listed? {
        info(of: id, in: state).map {
            Listed(info: $0, away: state.awayOfSession[id], account: state.accountOf[id]?.name ?? "")
        }
    }

    private func listing(_ remote: Remote) -> Listed {
        Listed(info: info(of: remote), away: remote.away.isEmpty ? nil : remote.away, account: remote.account)
    }

    func locate(_ nick: String) -> Location? {
        state.withLock { state in
            let key = Nick.key(for: nick)
            if let id = state.nicks.localByKey[key], let session = state.nicks.locals[id]?.value {
                return .local(session)
            }
            if let remote = state.nicks.remote[key] {
                return .remote(serverID: remote.serverID, nick: remote.client.nick)
            }
            return nil
        }
    }

    /// Our clients, with their nicks, to describe to a newly linked server: one session per nick.
    func localClients() -> [(session: ClientSession, nick: Nick)] {
        state.withLock { state in
            state.nicks.localByKey.values.compactMap { id in state.nicks.locals[id].map { ($0.value, $0.nick) } }
        }
    }

    // MARK: - What is remembered of nicks

    func welcomeText(for nick: Nick) -> String {
        state.withLock { $0.known[nick.key]?.welcome ?? "" }
    }

    func setWelcomeText(_ text: String, for nick: Nick) {
        state.withLock { state in
            var record = state.record(for: nick, at: .now())
            record.welcome = text
            state.known[nick.key] = record
        }
        store.nicksChanged()
    }

    func info(of remote: Remote) -> ClientInfo {
        let client = remote.client
        return ClientInfo(
            nick: client.nick, address: client.address, connectedAt: client.connectedAt,
            durationMilliseconds: Timestamp.now().milliseconds(since: client.connectedAt),
            clientName: client.clientName, clientVersion: client.clientVersion, host: client.host,
            processID: client.processID, server: remote.serverName)
    }

    private func info(of id: UInt64, in state: State) -> ClientInfo? {
        guard let (nick, session) = state.nicks.locals[id] else { return nil }
        return ClientInfo(
            nick: nick.name, address: session.address, connectedAt: session.connectedAt,
            durationMilliseconds: Timestamp.now().milliseconds(since: session.connectedAt),
            clientName: session.hello.clientName,
            clientVersion: session.hello.clientVersion, host: session.hello.host, processID: session.hello.processID,
            server: serverName)
    }
}
