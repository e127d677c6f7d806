import Foundation
import TChatAuth
import TChatProtocol

/// Accounts and server bans kept alike on every server of a network: what a change here tells the others, and how
/// what they tell is merged into `accounts.json`. Pure: no I/O, no clock of its own.
///
/// Of two copies of an account or a ban the newer wins (`Account.updated`, `ServerBan.time`); a removal wins over
/// copies older than it, and is kept for `removalLifetime` (at most `maxRemovals` of each kind) so that a server
/// that missed it does not bring the account or ban back. Equal times: the larger content wins, so every server
/// picks the same one whatever order it heard them in.
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
        /// Something here is as new or newer.
        case stale
        /// It breaks a rule `PeerFrameCheck` cannot see (a hash whose parameters this server will not run).
        case invalid(String)
        case full
    }

    /// Merges one record into `file`; throws why it was not kept. `maxAccounts` bounds the accounts, as
    /// registering here does.
    static func merge(
        _ record: NetworkRecord, into file: inout AccountsFile, now: Timestamp, maxAccounts: Int, maxBans: Int
    ) throws(Refusal) {
        switch record {
        case .account(let shared):
            let incoming = try account(from: shared)
            let key = incoming.key
            if let removal = file.removal(of: key, in: \.dropped), removal >= incoming.updated { throw .stale }
            if let index = file.accounts.firstIndex(where: { $0.key == key }) {
                guard wins(incoming, over: file.accounts[index]) else { throw .stale }
                file.accounts[index] = incoming
            } else {
                guard file.accounts.count < maxAccounts else { throw .full }
                file.accounts.append(incoming)
            }
            file.dropped?.removeAll { Nick.key(for: $0.name) == key }
        case .accountDropped(let name, let time):
            let key = Nick.key(for: name)
            if let removal = file.removal(of: key, in: \.dropped), removal >= time { throw .stale }
            if let existing = file.accounts.first(where: { $0.key == key }), existing.updated > time { throw .stale }
            file.accounts.removeAll { $0.key == key }
            file.note(Removal(name: name, time: time.iso8601), in: \.dropped, now: now)
        case .serverBan(let mask, let reason, let by, let time):
            if let removal = file.removal(of: mask, in: \.unbanned), removal >= time { throw .stale }
            let ban = ServerBan(mask: mask, reason: reason, by: by, time: time.iso8601)
            var bans = file.serverBans ?? []
            if let index = bans.firstIndex(where: { $0.mask == mask }) {
                let existing = Timestamp(iso8601: bans[index].time) ?? Timestamp(milliseconds: 0)
                guard time > existing || (time == existing && ban.reason > bans[index].reason) else { throw .stale }
                bans[index] = ban
            } else {
                guard bans.count < maxBans else { throw .full }
                bans.append(ban)
            }
            file.serverBans = bans
            file.unbanned?.removeAll { $0.name == mask }
        case .serverUnban(let mask, let time):
            if let removal = file.removal(of: mask, in: \.unbanned), removal >= time { throw .stale }
            if let existing = file.serverBans?.first(where: { $0.mask == mask }),
                let banned = Timestamp(iso8601: existing.time), banned > time
            {
                throw .stale
            }
            file.serverBans?.removeAll { $0.mask == mask }
            file.note(Removal(name: mask, time: time.iso8601), in: \.unbanned, now: now)
        default:
            throw .invalid("not an account record")
        }
    }

    /// The newer copy wins; at equal times the one with the larger hash, the same choice on every server.
    static func wins(_ incoming: Account, over existing: Account) -> Bool {
        if incoming.updated != existing.updated { return incoming.updated > existing.updated }
        return incoming.password.text > existing.password.text
    }

    /// The account a record describes, refused when its hash asks for more work than this server runs or its SCRAM
    /// keys are not whole.
    static func account(from shared: SharedAccount) throws(Refusal) -> Account {
        guard let hash = PasswordHash(shared.passwordHash), (10...PasswordHash.limits.logN).contains(hash.logN),
            (1...PasswordHash.limits.blockSize).contains(hash.blockSize),
            (1...PasswordHash.limits.parallelism).contains(hash.parallelism)
        else { throw .invalid("the password hash is not one this server checks") }
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
    /// When the account with this key (or the ban with this mask) was removed, if it was.
    func removal(of name: String, in list: KeyPath<AccountsFile, [Removal]?>) -> Timestamp? {
        let matches: (Removal) -> Bool =
            list == \AccountsFile.dropped ? { Nick.key(for: $0.name) == name } : { $0.name == name }
        return self[keyPath: list]?.last(where: matches).flatMap { Timestamp(iso8601: $0.time) }
    }

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
