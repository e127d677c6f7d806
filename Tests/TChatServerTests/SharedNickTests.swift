import TChatProtocol
import Testing

@testable import TChatServer

/// Sessions of one account sharing its nick, as `NickTable` keeps them: one client to everyone else, going when the
/// last of them goes, renamed as one.
@Suite struct SharedNickTests {
    typealias Table = NickTable<String>
    static let now = NickTableTests.now

    static func shared(_ count: Int, nick: String = "alice") throws -> Table {
        var table = Table(ourServerID: 0xAAAA_0000_0000_0000)
        for session in 1...UInt64(count) {
            try table.admitLocal(
                Nick(validating: nick), session: session, value: "\(session)", at: now, sharing: session > 1)
        }
        return table
    }

    @Test func theFirstSessionHoldsTheNickAndTheOthersAreItsCompanions() throws {
        let table = try Self.shared(3)
        #expect(table.localByKey[Nick.key(for: "alice")] == 1)
        #expect(table.sessions(holding: Nick.key(for: "alice")) == [1, 2, 3])
        #expect(table.companions(of: 2) == [1, 3])
        #expect(table.isFirst(1) && !table.isFirst(2))
        #expect(table.locals.count == 3)
    }

    @Test func withoutSharingTheNickIsInUse() throws {
        var table = try Self.shared(1)
        #expect(throws: ProtocolError.self) {
            try table.admitLocal(Nick(validating: "ALICE"), session: 2, value: "2", at: Self.now)
        }
        #expect(table.sessions(holding: Nick.key(for: "alice")) == [1])
    }

    @Test func theNickGoesWithTheLastSessionAndTheNextOneHoldsItMeanwhile() throws {
        var table = try Self.shared(3)
        #expect(table.releaseLocal(1)?.wasLast == false)
        #expect(table.localByKey[Nick.key(for: "alice")] == 2)
        #expect(table.sessions(holding: Nick.key(for: "alice")) == [2, 3])
        #expect(table.releaseLocal(3)?.wasLast == false)
        #expect(table.sessions(holding: Nick.key(for: "alice")) == [2])
        #expect(table.releaseLocal(2)?.wasLast == true)
        #expect(!table.isTaken(Nick.key(for: "alice")))
        #expect(table.companions.isEmpty)
    }

    @Test func aRenameMovesEverySessionSharingTheNick() throws {
        var table = try Self.shared(2)
        let outcome = try table.renameLocal(Nick(validating: "alicia"), session: 2, at: Self.now)
        #expect(outcome == .renamed([1, 2]))
        #expect(table.localNick(1)?.name == "alicia" && table.localNick(2)?.name == "alicia")
        #expect(table.sessions(holding: Nick.key(for: "alicia")) == [1, 2])
        #expect(!table.isTaken(Nick.key(for: "alice")))
        // A change of case stays the same nick, for all of them.
        #expect(try table.renameLocal(Nick(validating: "Alicia"), session: 1, at: Self.now) == .renamed([1, 2]))
        #expect(table.localNick(2)?.name == "Alicia")
    }

    @Test func aSessionAloneOnItsNickJoinsItsAccountsNickByRenaming() throws {
        var table = try Self.shared(1)
        try table.admitLocal(Nick(validating: "alice_"), session: 2, value: "2", at: Self.now)
        #expect(throws: ProtocolError.self) {
            try table.renameLocal(Nick(validating: "alice"), session: 2, at: Self.now)  // not the same account
        }
        #expect(try table.renameLocal(Nick(validating: "alice"), session: 2, at: Self.now, sharing: true) == .joined)
        #expect(table.sessions(holding: Nick.key(for: "alice")) == [1, 2])
        #expect(!table.isTaken(Nick.key(for: "alice_")))
    }

    @Test func sessionsSharingANickMoveOnlyTogether() throws {
        var table = try Self.shared(2)
        try table.admitLocal(Nick(validating: "al"), session: 3, value: "3", at: Self.now)
        let error = #expect(throws: ProtocolError.self) {
            try table.renameLocal(Nick(validating: "al"), session: 1, at: Self.now, sharing: true)
        }
        #expect(error?.code == .nickInUse)
        #expect(table.sessions(holding: Nick.key(for: "alice")) == [1, 2])
    }

    @Test func atMostTenSessionsShareANick() throws {
        var table = try Self.shared(Table.maxSessionsPerNick)
        let error = #expect(throws: ProtocolError.self) {
            try table.admitLocal(Nick(validating: "alice"), session: 99, value: "99", at: Self.now, sharing: true)
        }
        #expect(error?.code == .nickInUse && error?.message.contains("10 sessions") == true)
        #expect(table.locals[99] == nil)
    }

    @Test func aCollisionWithALinkedServersClientRenamesEverySession() throws {
        var table = try Self.shared(2)
        let change = try table.addRemote(
            NickTableTests.client("alice"), serverID: NickTableTests.b, serverName: "b", at: Self.now)
        let local = try #require(change?.local)
        #expect(local.session == 1 && local.companions == [2])
        #expect(table.localNick(1)?.name == local.new && table.localNick(2)?.name == local.new)
        #expect(table.sessions(holding: Nick.key(for: local.new)) == [1, 2])
        // Held back for them: either may take it back once it is free.
        _ = table.removeRemote(change?.to ?? "", serverID: NickTableTests.b)
        #expect(try table.renameLocal(Nick(validating: "alice"), session: 2, at: Self.now) == .renamed([1, 2]))
    }
}
