import TChatAuth
import TChatProtocol
import Testing

@testable import TChatServer

/// How accounts and server bans heard from linked servers are merged: the newer copy wins, a removal keeps older
/// copies out, and a hash this server would not run is refused.
@Suite struct AccountSyncTests {
    static let t0 = Timestamp(milliseconds: 1_764_000_000_000)

    static func account(_ name: String = "ann", created: UInt64 = 0, updated: UInt64 = 0, welcome: String = "") throws
        -> Account
    {
        Account(
            name: name,
            password: try #require(PasswordHash("scrypt$15$8$1$AAE=$" + String(repeating: "A", count: 43) + "=")),
            scram: ScramKeys(
                salt: [1], iterations: 4096, storedKey: Array(repeating: 1, count: 32),
                serverKey: Array(repeating: 2, count: 32)),
            created: Timestamp(milliseconds: t0.milliseconds + created),
            updated: Timestamp(milliseconds: t0.milliseconds + max(created, updated)), welcome: welcome)
    }

    static func merge(_ record: NetworkRecord, into file: inout AccountsFile) -> AccountSync.Refusal? {
        do {
            try AccountSync.merge(
                record, into: &file, now: Timestamp(milliseconds: t0.milliseconds + 10_000), maxAccounts: 10,
                maxBans: 10)
            return nil
        } catch {
            return error
        }
    }

    @Test func theNewerCopyWinsWhateverTheOrder() throws {
        var file = AccountsFile.empty()
        let older = try Self.account(updated: 1, welcome: "old")
        let newer = try Self.account(updated: 2, welcome: "new")
        #expect(Self.merge(.account(AccountSync.shared(newer)), into: &file) == nil)
        #expect(Self.merge(.account(AccountSync.shared(older)), into: &file) == .stale)
        #expect(file.accounts.map(\.welcome) == ["new"])
    }

    @Test func aDropKeepsOlderCopiesOutButNotNewerOnes() throws {
        var file = AccountsFile.empty()
        file.accounts = [try Self.account(updated: 1)]
        #expect(
            Self.merge(
                .accountDropped(name: "ann", time: Timestamp(milliseconds: Self.t0.milliseconds + 5)), into: &file)
                == nil)
        #expect(file.accounts.isEmpty && file.dropped?.count == 1)
        #expect(Self.merge(.account(AccountSync.shared(try Self.account(updated: 3))), into: &file) == .stale)
        #expect(file.accounts.isEmpty, "a server that missed the drop does not bring it back")
        #expect(Self.merge(.account(AccountSync.shared(try Self.account(updated: 9))), into: &file) == .stale)
        #expect(file.accounts.isEmpty, "changed after the drop, but the same account: dropped")
        #expect(Self.merge(.account(AccountSync.shared(try Self.account(created: 9))), into: &file) == nil)
        #expect(file.accounts.count == 1, "registered again after the drop")
    }

    @Test func theAccountMadeFirstKeepsItsNameAgainstOneRegisteredDuringASplit() throws {
        var file = AccountsFile.empty()
        let owner = try Self.account(created: 0, welcome: "the owner")
        let squatter = try Self.account(created: 50, updated: 60, welcome: "registered during a split")
        file.accounts = [owner]
        #expect(Self.merge(.account(AccountSync.shared(squatter)), into: &file) == .stale)
        var other = AccountsFile.empty()
        other.accounts = [squatter]
        #expect(Self.merge(.account(AccountSync.shared(owner)), into: &other) == nil)
        #expect(file.accounts == other.accounts, "both servers keep the owner's")
    }

    @Test func anOperatorsAccountIsMadeHereNotHeardOf() throws {
        var file = AccountsFile.empty()
        let root = AccountSync.shared(try Self.account("root"))
        do {
            try AccountSync.merge(
                .account(root), into: &file, now: Self.t0, maxAccounts: 10, maxBans: 10, operators: ["root"])
            Issue.record("an account named by --operator was taken from the network")
        } catch {
            #expect(file.accounts.isEmpty)
        }
    }

    @Test func aDropOfANameNeverSeenChangesNothing() {
        var file = AccountsFile.empty()
        #expect(Self.merge(.accountDropped(name: "nobody", time: Self.t0), into: &file) == .stale)
        #expect(file.dropped?.isEmpty ?? true, "made-up drops cannot push real ones out")
    }

    @Test func aHashThisServerWouldNotRunIsRefused() throws {
        var shared = AccountSync.shared(try Self.account())
        shared.passwordHash = "scrypt$30$8$1$AAE=$" + String(repeating: "A", count: 43) + "="
        var file = AccountsFile.empty()
        guard case .invalid? = Self.merge(.account(shared), into: &file) else {
            Issue.record("a hash asking for 2^30 was taken")
            return
        }
        #expect(file.accounts.isEmpty)
    }

    @Test func bansAndTheirLiftingFollowTheSameRule() {
        var file = AccountsFile.empty()
        let at = { (offset: UInt64) in Timestamp(milliseconds: Self.t0.milliseconds + offset) }
        #expect(
            Self.merge(.serverBan(mask: "account:eve", reason: "spam", by: "root", time: at(1)), into: &file) == nil)
        #expect(Self.merge(.serverUnban(mask: "account:eve", time: at(2)), into: &file) == nil)
        #expect(file.serverBans?.isEmpty == true)
        #expect(
            Self.merge(.serverBan(mask: "account:eve", reason: "spam", by: "root", time: at(1)), into: &file) == .stale)
        #expect(
            Self.merge(.serverBan(mask: "account:eve", reason: "again", by: "root", time: at(3)), into: &file) == nil)
        #expect(file.serverBans?.map(\.reason) == ["again"])
    }

    @Test func aChangeHereBecomesRecordsForTheNetwork() throws {
        let before = AccountsFile.empty()
        var after = before
        after.accounts = [try Self.account()]
        #expect(AccountSync.changes(from: before, to: after).map(\.type) == [.account])
        var dropped = after
        dropped.accounts = []
        dropped.note(Removal(name: "ann", time: Self.t0.iso8601), in: \.dropped, now: Self.t0)
        #expect(AccountSync.changes(from: after, to: dropped) == [.accountDropped(name: "ann", time: Self.t0)])
        #expect(AccountSync.changes(from: after, to: after).isEmpty)
    }

    @Test func accountsAreBounded() throws {
        var file = AccountsFile.empty()
        for index in 0..<10 { file.accounts.append(try Self.account("user\(index)")) }
        #expect(Self.merge(.account(AccountSync.shared(try Self.account("onemore"))), into: &file) == .full)
    }
}
