import TChatProtocol
import Testing

@testable import TChatServer

/// Who holds which nick across linked servers, as a pure value: collisions, the nick held back for the client that
/// lost it, and frames that try to reach other servers' clients.
@Suite struct NickTableTests {
    static let b: UInt64 = 0xBBBB_0000_0000_0000
    static let c: UInt64 = 0xCCCC_0000_0000_0000
    static let now = Timestamp(milliseconds: 1_764_000_000_000)

    static func client(_ nick: String) -> RemoteClient {
        RemoteClient(
            nick: nick, address: "x", connectedAt: Timestamp(milliseconds: 1), clientName: "c", clientVersion: "v",
            host: "h", processID: 1)
    }

    typealias Table = NickTable<String>

    /// A table whose clients of ours are `locals`, sessions 1, 2..., each with its nick as its value.
    static func table(with locals: [String]) throws -> Table {
        var table = Table(ourServerID: 0xAAAA_0000_0000_0000)
        for (index, nick) in locals.enumerated() {
            try table.admitLocal(Nick(validating: nick), session: UInt64(index + 1), value: nick, at: now)
        }
        return table
    }

    @Test func aCollisionTakesTheNickFromEveryHolderAndNamesThemAfterTheirServers() throws {
        var table = try Self.table(with: ["alice"])
        // B claims an alice "connected" in 1970: nobody keeps the nick.
        let changeResult = try table.addRemote(Self.client("alice"), serverID: Self.b, serverName: "B", at: Self.now)
        let change = try #require(changeResult)
        #expect(change.local == .init(session: 1, old: "alice", new: "alice_aaaa"))
        #expect(change.to == "alice_bbbb")
        #expect(!table.isTaken("alice"))
        // B's frames go on naming its client "alice": that leads to its client, for B only.
        #expect(table.remoteNick("alice", on: Self.b) == "alice_bbbb")
        #expect(table.remoteNick("alice", on: Self.c) == nil)
        #expect(table.remoteNick("alice_aaaa", on: Self.b) == nil, "ours, not B's")
        // B renames its client as the rule says: nothing changes here.
        let unchanged = try table.renameRemote(from: "alice", to: "alice_bbbb", serverID: Self.b, at: Self.now)
        #expect(unchanged == nil)
        // Two linked servers' clients collide on a third: both lose it.
        _ = try table.addRemote(Self.client("bob"), serverID: Self.c, serverName: "C", at: Self.now)
        let secondResult = try table.addRemote(Self.client("bob"), serverID: Self.b, serverName: "B", at: Self.now)
        let second = try #require(secondResult)
        #expect(second.otherRemote == .init(from: "bob", to: "bob_cccc") && second.to == "bob_bbbb")
        #expect(table.removeRemotes(of: Self.b).sorted() == ["alice_bbbb", "bob_bbbb"])
    }

    /// Found by review: after "both lose it", a lying server renamed its client to the freed nick and had it.
    @Test func aNickLostInACollisionIsHeldForItsOwnerAgainstEveryoneElse() throws {
        var table = try Self.table(with: ["alice", "carol"])
        _ = try table.addRemote(Self.client("alice"), serverID: Self.b, serverName: "B", at: Self.now)
        // B's client renames itself to the freed nick: a collision again, and it stays where it was.
        let again = try table.renameRemote(from: "alice", to: "alice", serverID: Self.b, at: Self.now)
        #expect(again == nil)
        #expect(table.remoteNick("alice", on: Self.b) == "alice_bbbb")
        // Nor does a new client of B's, nor another client of ours.
        let newcomerResult = try table.addRemote(Self.client("alice"), serverID: Self.c, serverName: "C", at: Self.now)
        let newcomer = try #require(newcomerResult)
        #expect(newcomer.to != "alice")
        var attempt = table
        #expect(throws: ProtocolError.self) {
            try attempt.renameLocal(Nick(validating: "alice"), session: 2, at: Self.now)
        }
        // The client that lost it takes it back.
        try table.renameLocal(Nick(validating: "alice"), session: 1, at: Self.now)
        #expect(table.localNick(1)?.name == "alice")
        // Once the hold is over (or its owner gone), the nick is anyone's.
        var later = try Self.table(with: ["alice"])
        _ = try later.addRemote(Self.client("alice"), serverID: Self.b, serverName: "B", at: Self.now)
        let afterHold = Timestamp(milliseconds: Self.now.milliseconds + Table.holdTime + 1)
        let taken = try later.renameRemote(from: "alice", to: "alice", serverID: Self.b, at: afterHold)
        #expect(taken?.to == "alice")
    }

    /// Found by review: renaming one of a server's clients onto another of its clients left an entry nobody could
    /// reach or remove, holding a nick until restart.
    @Test func aServerCannotRenameOneOfItsClientsOntoAnotherOrAStranger() throws {
        var table = try Self.table(with: [])
        _ = try table.addRemote(Self.client("a"), serverID: Self.b, serverName: "B", at: Self.now)
        _ = try table.addRemote(Self.client("b"), serverID: Self.b, serverName: "B", at: Self.now)
        var attempt = table
        #expect(throws: ProtocolError.self) {
            try attempt.renameRemote(from: "a", to: "b", serverID: Self.b, at: Self.now)
        }
        #expect(throws: ProtocolError.self) {
            try attempt.renameRemote(from: "a", to: "x", serverID: Self.c, at: Self.now)
        }
        table = attempt
        #expect(table.removeRemotes(of: Self.b).count == 2, "nothing orphaned")
        #expect(!table.isTaken("a") && !table.isTaken("b"))
    }

    @Test func aServerHasAtMostSoManyClientsHere() throws {
        var table = Table(ourServerID: 1, maxRemotePerServer: 3)
        for nick in ["a", "b", "c"] {
            _ = try table.addRemote(Self.client(nick), serverID: Self.b, serverName: "B", at: Self.now)
        }
        var attempt = table
        #expect(throws: ProtocolError.self) {
            try attempt.addRemote(Self.client("d"), serverID: Self.b, serverName: "B", at: Self.now)
        }
        _ = try table.addRemote(Self.client("d"), serverID: Self.c, serverName: "C", at: Self.now)  // another's room
        _ = try table.addRemote(Self.client("a"), serverID: Self.b, serverName: "B", at: Self.now)  // announced again
        #expect(table.removeRemotes(of: Self.b).count == 3)
    }

    @Test func aCollisionNameIsNeverOneThatIsTaken() {
        // Taken is decided on keys (skeletons): the hex digits 0 and 1 fold to o and l.
        let taken = Set(
            stride(from: 4, through: 16, by: 2).map {
                Nick.key(for: "x_" + String(ServerIdentity.hex(Self.b).prefix($0)))
            })
        let name = Table.collisionName("x", serverID: Self.b) { taken.contains($0) }
        #expect(!taken.contains(Nick.key(for: name)) && name.hasPrefix("x_bbbb"))
        let long = String(repeating: "n", count: 32)
        #expect(Table.collisionName(long, serverID: Self.b) { _ in false }.count <= ProtocolLimits.maxNickLength)
    }
}
