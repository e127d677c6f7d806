import Foundation
import TChatAuth
import TChatProtocol

/// Accounts and server bans kept alike on every server of a network: what a change here tells the others, and how
/// what they tell is merged into `accounts.json`. Pure: no I/O, no clock of its own.
///
/// Of two copies of an account the one made first wins (a later one is someone registering the name during a
/// split), then the one changed last (`Account.updated`); of two bans the newer (`ServerBan.time`). A removal wins
/// over copies from before it, and is kept for `removalLifetime` (at most `maxRemovals` of each kind) so that a
/// server that missed it does not bring the account or ban back. Equal times: the larger content wins, so every
/// server picks the same one whatever order it heard them in.
enum AccountSync {
    static let maxRemovals = 10_000
    /// 30 days, in milliseconds: a server apart from the network longer than that may bring back what was removed.
    static let removalLifetime: UInt64 = 30 * 24 * 3600 * 1000

    // MARK: - Telling

    /// What a newly linked server is told: every account, ban and removal.
    static func records(of file: AccountsFile) -> [NetworkRecord] {
        file.accounts.map { .account(shared($0)) }
            + (file.dropped ?? []).compactMap { removal in
                Timestamp(iso8601: removal.time).map { .accountDropped(name: removal.name, time: $0) }
            }
            + (file.serverBans ?? []).compactMap(record(of:))
            + (file.unbanned ?? []).compactMap { removal in
                Timestamp(iso8601: removal.time).map { .serverUnban(mask: removal.name, time: $0) }
            }
    }

    /// What changed from `before` to `after` (both as read from the store), as records for the network.
    static func changes(from before: AccountsFile, to after: AccountsFile) -> [NetworkRecord] {
        let old = Dictionary(before.accounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let new = Dictionary(after.accounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var records: [NetworkRecord] = after.accounts.filter { old[$0.key] != $0 }.map { .account(shared($0)) }
        let droppedTimes = Dictionary(
            (after.dropped ?? []).map { (Nick.key(for: $0.name), $0.time) }, uniquingKeysWith: { _, last in last })
        for (key, account) in old where new[key] == nil {
            let time = droppedTimes[key].flatMap(Timestamp.init(iso8601:)) ?? .now()
            records.append(.accountDropped(name: account.name, time: time))
        }
        let oldBans = Dictionary((before.serverBans ?? []).map { ($0.mask, $0) }, uniquingKeysWith: { f, _ in f })
        let newBans = Dictionary((after.serverBans ?? []).map { ($0.mask, $0) }, uniquingKeysWith: { f, _ in f })
        records += (after.serverBans ?? []).filter { oldBans[$0.mask] != $0 }.compactMap(record(of:))
        let liftedTimes = Dictionary(
            (after.unbanned ?? []).map { ($0.name, $0.time) }, uniquingKeysWith: { _, last in last })
        for mask in oldBans.keys where newBans[mask] == nil {
            let time = liftedTimes[mask].flatMap(Timestamp.init(iso8601:)) ?? .now()
            records.append(.serverUnban(mask: mask, time: time))
        }
        return records
    }

    static func shared(_ account: Account) -> SharedAccount {
        SharedAccount(
            name: account.name, passwordHash: account.password.text, scramSalt: account.scram.salt,
            scramIterations: UInt32(clamping: account.scram.iterations), storedKey: account.scram.storedKey,
            serverKey: account.scram.serverKey, created: account.created, updated: account.updated,
            welcome: account.welcome)
    }

    private static func record(of ban: ServerBan) -> NetworkRecord? {
        Timestamp(iso8601: ban.time).map { .serverBan(mask: ban.mask, reason: ban.reason, by: ban.by, time: $0) }
    }

    // MARK: - Hearing

    /// Why a record heard from a linked server was not kept.
    enum Refusal: Error, Equatable {
        /// Something here is as new or newer, or it removes what is not here.
        case stale
        /// It breaks a rule `PeerFrameCheck` cannot see (a hash whose parameters this server will not run).
        case invalid(String)
        case full
    }

    /// Merges one record into `file`; throws why it was not kept.
    static func merge(
        _ record: NetworkRecord, into file: inout AccountsFile, now: Timestamp, maxAccounts: Int, maxBans: Int,
        operators: Set<String> = []
    ) throws(Refusal) {
        var merger = Merger(file, now: now, maxAccounts: maxAccounts, maxBans: maxBans, operators: operators)
        try merger.merge(record)
        merger.finish(into: &file)
    }

    /// Merges many records into one file, each looked up by key: a link's burst of every account costs its length,
    /// not its square.
    struct Merger {
        private var accounts: [String: Account] = [:]
        private var order: [String] = []
        private var bans: [String: ServerBan] = [:]
        private var banOrder: [String] = []
        private var dropped: [String: Removal] = [:]
        private var unbanned: [String: Removal] = [:]
        private let now: Timestamp
        private let maxAccounts: Int
        private let maxBans: Int
        /// Account keys this server's `--operator` names: their accounts are made here (`tchatd account add`), never
        /// first heard of from the network, which would let whoever registered the name elsewhere operate here.
        private let operators: Set<String>
        private(set) var kept = 0

        init(_ file: AccountsFile, now: Timestamp, maxAccounts: Int, maxBans: Int, operators: Set<String>) {
            for account in file.accounts where accounts[account.key] == nil {
                accounts[account.key] = account
                order.append(account.key)
            }
            for ban in file.serverBans ?? [] where bans[ban.mask] == nil {
                bans[ban.mask] = ban
                banOrder.append(ban.mask)
            }
            for removal in file.dropped ?? [] { dropped[Nick.key(for: removal.name)] = removal }
            for removal in file.unbanned ?? [] { unbanned[removal.name] = removal }
            self.now = now
            self.maxAccounts = maxAccounts
            self.maxBans = maxBans
            self.operators = operators
        }

        mutating func merge(_ record: NetworkRecord) throws(Refusal) {
            switch record {
            case .account(let shared):
                let incoming = try account(from: shared)
                let key = incoming.key
                // A drop ends the account as it was then; one registered after it is another.
                if let removal = time(of: dropped[key]), incoming.created <= removal { throw .stale }
                if let existing = accounts[key] {
                    guard wins(incoming, over: existing) else { throw .stale }
                    // An operator's account changes from the network only as itself, never as an older namesake.
                    guard !operators.contains(key) || incoming.created == existing.created else {
                        throw .invalid("\(shared.name) is a server operator here: its account is made here")
                    }
                } else {
                    guard !operators.contains(key) else {
                        throw .invalid("\(shared.name) is a server operator here: its account is made here")
                    }
                    guard accounts.count < maxAccounts else { throw .full }
                    order.append(key)
                }
                accounts[key] = incoming
                dropped[key] = nil
            case .accountDropped(let name, let time):
                let key = Nick.key(for: name)
                if let existing = accounts[key] {
                    guard existing.created <= time else { throw .stale }
                    accounts[key] = nil
                } else {
                    // Only a drop this server heard of before moves on: unknown names would push real ones out.
                    guard let known = self.time(of: dropped[key]), known < time else { throw .stale }
                }
                dropped[key] = Removal(name: name, time: time.iso8601)
            case .serverBan(let mask, let reason, let by, let time):
                if let removal = self.time(of: unbanned[mask]), removal >= time { throw .stale }
                let ban = ServerBan(mask: mask, reason: reason, by: by, time: time.iso8601)
                if let existing = bans[mask] {
                    let held = Timestamp(iso8601: existing.time) ?? Timestamp(milliseconds: 0)
                    guard time > held || (time == held && (reason, by) > (existing.reason, existing.by)) else {
                        throw .stale
                    }
                } else {
                    guard bans.count < maxBans else { throw .full }
                    banOrder.append(mask)
                }
                bans[mask] = ban
                unbanned[mask] = nil
            case .serverUnban(let mask, let time):
                if let existing = bans[mask] {
                    guard let banned = Timestamp(iso8601: existing.time), banned <= time else { throw .stale }
                    bans[mask] = nil
                } else {
                    guard let known = self.time(of: unbanned[mask]), known < time else { throw .stale }
                }
                unbanned[mask] = Removal(name: mask, time: time.iso8601)
            default:
                throw .invalid("not an account record")
            }
            kept += 1
        }

        private func time(of removal: Removal?) -> Timestamp? { removal.flatMap { Timestamp(iso8601: $0.time) } }

        /// Writes the merged state back, removals pruned as `AccountsFile.note` prunes them.
        func finish(into file: inout AccountsFile) {
            file.accounts = order.compactMap { accounts[$0] }
            file.serverBans = banOrder.compactMap { bans[$0] }
            file.dropped = Self.pruned(Array(dropped.values), now: now)
            file.unbanned = Self.pruned(Array(unbanned.values), now: now)
        }

        private static func pruned(_ removals: [Removal], now: Timestamp) -> [Removal] {
            let oldest = now.milliseconds > removalLifetime ? now.milliseconds - removalLifetime : 0
            let recent = removals.compactMap { removal in
                Timestamp(iso8601: removal.time).flatMap { $0.milliseconds >= oldest ? ($0, removal) : nil }
            }
            return recent.sorted { $0.0 < $1.0 }.suffix(maxRemovals).map(\.1)
        }
    }

    /// Of two copies of one name: the account made first (a copy made later, during a split, is someone else's
    /// registration of the name); of the same account, the one changed last; at equal times the larger content, so
    /// every server picks the same.
    static func wins(_ incoming: Account, over existing: Account) -> Bool {
        if incoming.created != existing.created { return incoming.created < existing.created }
        if incoming.updated != existing.updated { return incoming.updated > existing.updated }
        return canonical(incoming) > canonical(existing)
    }

    private static func canonical(_ account: Account) -> String {
        [
            account.password.text, account.welcome, Data(account.scram.salt).base64EncodedString(),
            String(account.scram.iterations), Data(account.scram.storedKey).base64EncodedString(),
            Data(account.scram.serverKey).base64EncodedString(), account.name,
        ].joined(separator: "\n")
    }

    /// The account a record describes, refused when its hash asks for more work than this server's own hashes (a
    /// login to it would cost more than any other) or its SCRAM keys are not whole.
    static func account(from shared: SharedAccount) throws(Refusal) -> Account {
        let standard = PasswordHash.standard
        guard let hash = PasswordHash(shared.passwordHash), (10...standard.logN).contains(hash.logN),
            (1...standard.blockSize).contains(hash.blockSize), (1...standard.parallelism).contains(hash.parallelism)
        else { throw .invalid("the password hash asks for more than this server's own") }
        guard (1...SharedAccount.maxSaltBytes).contains(shared.scramSalt.count),
            shared.storedKey.count == SharedAccount.keyBytes, shared.serverKey.count == SharedAccount.keyBytes,
            Int(shared.scramIterations) >= ScramKeys.minimumIterations,
            Int(shared.scramIterations) <= ScramClient.maximumIterations
        else { throw .invalid("the SCRAM keys are not whole") }
        return Account(
            name: shared.name, password: hash,
            scram: ScramKeys(
                salt: shared.scramSalt, iterations: Int(shared.scramIterations), storedKey: shared.storedKey,
                serverKey: shared.serverKey),
            created: shared.created, updated: shared.updated, welcome: shared.welcome)
    }
}

extension AccountsFile {
    /// Records a removal, forgetting the same name's earlier one, those older than `AccountSync.removalLifetime`
    /// and, past `AccountSync.maxRemovals`, the oldest.
    mutating func note(_ removal: Removal, in list: WritableKeyPath<AccountsFile, [Removal]?>, now: Timestamp) {
        let isAccount = list == \AccountsFile.dropped
        let same: (Removal) -> Bool =
            isAccount ? { Nick.key(for: $0.name) == Nick.key(for: removal.name) } : { $0.name == removal.name }
        let oldest = now.milliseconds > AccountSync.removalLifetime ? now.milliseconds - AccountSync.removalLifetime : 0
        var kept = (self[keyPath: list] ?? []).filter {
            !same($0) && (Timestamp(iso8601: $0.time)?.milliseconds ?? 0) >= oldest
        }
        kept.append(removal)
        if kept.count > AccountSync.maxRemovals { kept.removeFirst(kept.count - AccountSync.maxRemovals) }
        self[keyPath: list] = kept
    }
}
