import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TChatAuth
import TChatProtocol

/// Every account, which nicks they own, and the work that touches passwords.
///
/// Lookups (is a nick registered, an account's SCRAM keys) are a lock and a dictionary read, fit for an event loop.
/// Anything that hashes a password (scrypt, about 80 ms; PBKDF2 for new SCRAM keys, about 120 ms) or writes the
/// store runs on a thread pool of its own, so a storm of logins delays neither event loops nor history reads, and
/// at most `maxQueuedJobs` wait for it: past that a request is refused as busy rather than queued without end.
final class AccountBook: Sendable {
    struct State {
        var accounts: [String: Account] = [:]
        var decoySecret: [UInt8] = []
        var storedVersion = ""
        var throttle = LoginThrottle()
        /// Server bans by mask (`account:KEY`, `address:IP`).
        var bans: [String: ServerBan] = [:]
        /// The store as last read, to tell the network what changed (`AccountSync`).
        var file: AccountsFile
        /// Records heard from linked servers, waiting to be merged into the store in one write.
        var heard: [NetworkRecord] = []
        var mergeQueued = false
        /// Keys of accounts dropped (kept as removals in the store).
        var droppedKeys: Set<String> = []
        /// Account keys each linked server makes server operators (OPERATORS).
        var remoteOperators: [UInt64: Set<String>] = [:]
    }

    let policy: RegistrationPolicy
    let state: Mutex<State>
    let storage: any AccountStorage
    let pool: NIOThreadPool
    private let queued = Atomic<Int>(0)
    /// A reload is queued or running: the next look waits for it (a database that does not answer would otherwise
    /// pile looks up on the book's one thread, ahead of logins).
    private let reloading = Atomic<Bool>(false)
    /// Account keys (`Nick.key(for:)`) of server operators (`--operator`), and their names as given.
    let operators: Set<String>
    let operatorNames: [String]
    let logger: Logger
    /// SCRAM iterations for new keys; fewer only in tests, where 600,000 would make each registration slow.
    let iterations: Int

    /// Jobs (hashing or writing) waiting or running at most.
    static let maxQueuedJobs = 16
    /// Accounts kept at most: registering more is refused.
    static let maxAccounts = 100_000
    /// Told of every account that no longer exists (dropped here or by `tchatd account drop`), so that no session
    /// stays logged in to it and no channel keeps it as an operator for whoever registers the name next.
    private let dropHandler = Mutex<(@Sendable (String) -> Void)?>(nil)

    func onDrop(_ handler: @escaping @Sendable (String) -> Void) {
        dropHandler.withLock { $0 = handler }
    }

    /// Told of every change to accounts and server bans made here (by a client or `tchatd account`), as records
    /// for the rest of the network; not of what was heard from it.
    private let changeHandler = Mutex<(@Sendable ([NetworkRecord]) -> Void)?>(nil)

    func onChange(_ handler: @escaping @Sendable ([NetworkRecord]) -> Void) {
        changeHandler.withLock { $0 = handler }
    }

    /// Told of every server ban that is new (made here, by `tchatd account`, or heard from the network), so that
    /// whoever it names is put out at once.
    private let banHandler = Mutex<(@Sendable (ServerBan) -> Void)?>(nil)

    func onBan(_ handler: @escaping @Sendable (ServerBan) -> Void) {
        banHandler.withLock { $0 = handler }
    }

    /// Records heard at most while waiting to be merged; past it, more are dropped (the next link brings them).
    static let maxHeard = 200_000

    init(
        storage: any AccountStorage, loaded: StoredAccounts, policy: RegistrationPolicy, operators: [String],
        pool: NIOThreadPool, iterations: Int = ScramKeys.standardIterations, logger: Logger
    ) {
        self.storage = storage
        self.policy = policy
        self.pool = pool
        self.operators = Set(operators.map { Nick.key(for: $0) })
        self.operatorNames = operators
        self.iterations = iterations
        self.logger = logger
        var initial = State(file: loaded.file)
        Self.apply(loaded.file, to: &initial)
        initial.storedVersion = loaded.version
        state = Mutex(initial)
    }

    /// Whether accounts are in use at all (`--registration off` turns them off).
    var isEnabled: Bool { policy != .off }

    var count: Int { state.withLock { $0.accounts.count } }

    /// Whether the nick with this key belongs to an account.
    func isRegistered(_ key: String) -> Bool {
        isEnabled && state.withLock { $0.accounts[key] != nil }
    }

    func account(forKey key: String) -> Account? {
        state.withLock { $0.accounts[key] }
    }

    /// Whether an account is a server operator: named by `--operator` here or on a linked server.
    func isOperator(_ key: String) -> Bool {
        operators.contains(key) || state.withLock { $0.remoteOperators.values.contains { $0.contains(key) } }
    }

    /// The account's SCRAM keys, and the decoy that stands in when there is no such account.
    func scramKeys(forKey key: String) -> (keys: ScramKeys?, decoy: ScramKeys) {
        state.withLock { state in
            (state.accounts[key]?.scram, ScramKeys.decoy(for: key, secret: state.decoySecret, iterations: iterations))
        }
    }

    // MARK: - Throttling (see `LoginThrottle`)

    func throttleWait(account key: String, address: String) -> UInt64? {
        state.withLock { $0.throttle.wait(account: key, address: address, at: .now()) }
    }

    func loginFailed(account key: String, address: String) {
        state.withLock { $0.throttle.failed(account: key, address: address, at: .now()) }
    }

    func loginSucceeded(account key: String) {
        state.withLock { $0.throttle.succeeded(account: key) }
    }

    func registrationWait(address: String) -> UInt64? {
        state.withLock { $0.throttle.registrationWait(address: address, at: .now()) }
    }

    func registered(address: String) {
        state.withLock { $0.throttle.registered(address: address, at: .now()) }
    }

    // MARK: - Work off the event loops

    /// Creates the account `nick` with `password`; fails with `already-registered` when it exists.
    func register(_ nick: Nick, password: String, on loop: any EventLoop) -> EventLoopFuture<Account> {
        let iterations = self.iterations
        return offLoop(on: loop) { book in
            let account = Account(
                name: nick.name, password: try PasswordHash.make(password: password),
                scram: try ScramKeys(
                    password: password, salt: RandomBytes.make(ScramKeys.saltLength), iterations: iterations),
                created: .now(), welcome: "")
            try book.change { file in
                guard !file.accounts.contains(where: { $0.key == nick.key }) else {
                    throw ProtocolError(.alreadyRegistered, "the nick \(nick.name) is registered already")
                }
                guard file.accounts.count < Self.maxAccounts else {
                    throw ProtocolError(.registrationClosed, "this server has as many accounts as it takes")
                }
                file.accounts.append(account)
                file.dropped?.removeAll { Nick.key(for: $0.name) == nick.key }
            }
            return account
        }
    }

    /// The account when `password` is its password; nil otherwise, including when there is no such account (which
    /// takes as long to say: a decoy hash is checked).
    func verify(key: String, password: String, on loop: any EventLoop) -> EventLoopFuture<Account?> {
        offLoop(on: loop) { book in
            guard let account = book.account(forKey: key) else {
                _ = try? Self.decoyHash.verify(password)
                return nil
            }
            return try account.password.verify(password) ? account : nil
        }
    }

    /// Replaces the password of `key`'s account when `old` is its password now; fails with `login-failed`
    /// otherwise.
    func changePassword(key: String, old: String, new: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let iterations = self.iterations
        return offLoop(on: loop) { book in
            guard let account = book.account(forKey: key), try account.password.verify(old) else {
                throw ProtocolError(.loginFailed, "that is not your current password; nothing was changed")
            }
            let hash = try PasswordHash.make(password: new)
            let scram = try ScramKeys(
                password: new, salt: RandomBytes.make(ScramKeys.saltLength), iterations: iterations)
            try book.change { file in
                guard let index = file.accounts.firstIndex(where: { $0.key == key }) else {
                    throw ProtocolError(.notLoggedIn, "the account \(account.name) no longer exists")
                }
                file.accounts[index].password = hash
                file.accounts[index].scram = scram
                file.accounts[index].updated = file.accounts[index].nextChange
            }
        }
    }

    /// Deletes `key`'s account when `password` is its password; fails with `login-failed` otherwise.
    func drop(key: String, password: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        offLoop(on: loop) { book in
            guard let account = book.account(forKey: key), try account.password.verify(password) else {
                throw ProtocolError(.loginFailed, "that is not your password; the account was not dropped")
            }
            try book.change { file in
                file.accounts.removeAll { $0.key == key }
                file.note(Removal(name: account.name, time: account.nextChange.iso8601), in: \.dropped, now: .now())
            }
        }
    }

    func setWelcome(_ text: String, key: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        offLoop(on: loop) { book in
            try book.change { file in
                guard let index = file.accounts.firstIndex(where: { $0.key == key }) else {
                    throw ProtocolError(.notLoggedIn, "your account no longer exists")
                }
                file.accounts[index].welcome = text
                file.accounts[index].updated = file.accounts[index].nextChange
            }
        }
    }

    /// Reads the store again when another process (`tchatd account`) changed it. Blocking: on a thread pool.
    func reloadIfChanged() {
        let version = storage.version()
        guard version != state.withLock({ $0.storedVersion }) else { return }
        do {
            let stored = try storage.load()
            adopt(stored.file, version: stored.version)
            logger.info("accounts reloaded", metadata: ["accounts": "\(stored.file.accounts.count)"])
        } catch {
            logger.error("accounts not reloaded", metadata: ["error": "\(error)"])
        }
    }

    /// Starts reloading the store every `interval` when it changed, on `loop`'s schedule and this book's pool.
    func watchStore(on loop: any EventLoop, every interval: TimeAmount = .seconds(2)) -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            guard queued.load(ordering: .relaxed) == 0,
                !reloading.exchange(true, ordering: .acquiring)
            else { return }
            pool.submit { [self] state in
                defer { reloading.store(false, ordering: .releasing) }
                if case .active = state { reloadIfChanged() }
            }
        }
    }

    // MARK: - Helpers

    /// Runs `work` on the pool unless `maxQueuedJobs` are waiting already.
    func offLoop<T: Sendable>(
        on loop: any EventLoop, _ work: @escaping @Sendable (AccountBook) throws -> T
    ) -> EventLoopFuture<T> {
        guard queued.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxQueuedJobs else {
            queued.wrappingSubtract(1, ordering: .relaxed)
            return loop.makeFailedFuture(
                ProtocolError(.loginThrottled, "the server is busy checking passwords; try again in a few seconds"))
        }
        return pool.runIfActive(eventLoop: loop) { [self] in
            defer { queued.wrappingSubtract(1, ordering: .relaxed) }
            return try work(self)
        }
    }

    /// Changes the store, then this book to match what is stored.
    func change(_ body: (inout AccountsFile) throws -> Void) throws {
        let stored = try storage.update(body)
        adopt(stored.file, version: stored.version)
    }

    /// Takes what the store holds as this book's, and tells of the accounts that are gone, and the network what
    /// changed but what it told us itself (`heard`: a change by `tchatd account` can be in the same read).
    func adopt(_ file: AccountsFile, version: String, heard: Set<NetworkRecord> = []) {
        // Worked out outside the lock (it reads every account): the book's one thread is the only one that adopts.
        let changes = AccountSync.changes(from: state.withLock { $0.file }, to: file).filter { !heard.contains($0) }
        let (dropped, newBans) = state.withLock { state in
            let before = state.accounts
            let bansBefore = state.bans
            Self.apply(file, to: &state)
            state.file = file
            state.storedVersion = version
            return (Self.gone(before, now: state.accounts), state.bans.filter { bansBefore[$0.key] == nil })
        }
        tellDropped(dropped)
        if !newBans.isEmpty, let handler = banHandler.withLock({ $0 }) {
            for ban in newBans.values { handler(ban) }
        }
        if !changes.isEmpty, let handler = changeHandler.withLock({ $0 }) { handler(changes) }
    }

    /// Accounts that are no longer the ones they were: dropped, or dropped and made again (another creation time)
    /// between two reads of the store.
    private static func gone(_ before: [String: Account], now: [String: Account]) -> Set<String> {
        Set(before.filter { now[$0.key]?.created != $0.value.created }.keys)
    }

    /// Every account key there is.
    var keys: Set<String> { state.withLock { Set($0.accounts.keys) } }

    private func tellDropped(_ keys: Set<String>) {
        guard !keys.isEmpty, let handler = dropHandler.withLock({ $0 }) else { return }
        for key in keys { handler(key) }
    }

    private static func apply(_ file: AccountsFile, to state: inout State) {
        var accounts: [String: Account] = [:]
        for account in file.accounts { accounts[account.key] = account }
        state.accounts = accounts
        state.decoySecret = file.secretBytes
        state.droppedKeys = Set((file.dropped ?? []).map { Nick.key(for: $0.name) })
        state.bans = Dictionary((file.serverBans ?? []).map { ($0.mask, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Checked when an account does not exist, so that answering takes as long as for one that does.
    private static let decoyHash: PasswordHash = {
        (try? PasswordHash.make(password: "decoy"))
            ?? PasswordHash(logN: 15, blockSize: 8, parallelism: 1, salt: [0], hash: [])
    }()

    /// A new password's rules: long enough, not too long once normalized. Checked before any hashing.
    static func checkNewPassword(_ password: String) throws(ProtocolError) {
        guard password.count >= ProtocolLimits.minPasswordCharacters else {
            throw ProtocolError(
                .invalidArgument, "a password needs at least \(ProtocolLimits.minPasswordCharacters) characters")
        }
        try checkPassword(password)
    }

    /// Any password sent: within the byte limit, normalized too, and without control characters.
    static func checkPassword(_ password: String) throws(ProtocolError) {
        let normalized = password.precomposedStringWithCompatibilityMapping
        guard password.utf8.count <= ProtocolLimits.maxPasswordBytes,
            normalized.utf8.count <= ProtocolLimits.maxPasswordBytes
        else {
            throw ProtocolError(.fieldTooLong, "a password is at most \(ProtocolLimits.maxPasswordBytes) bytes")
        }
        guard !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ProtocolError(.invalidArgument, "a password may not contain control characters")
        }
    }
}
