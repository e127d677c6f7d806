import NIOCore
import NIOEmbedded
import TChatProtocol
import Testing

@testable import TChatServer

/// A login is checked against the account book and recorded later, under the client manager's lock: a drop in
/// between must undo it, and one of another account must not.
@Suite struct RecentDropsTests {
    @Test func aDropAfterTheMarkIsSeenAndOneBeforeItIsNot() {
        var drops = RecentDrops()
        drops.record("old")
        let mark = drops.mark
        #expect(!drops.dropped("old", since: mark), "dropped before the login read the book, which then said so")
        drops.record("alice")
        drops.record("bob")
        #expect(drops.dropped("alice", since: mark))
        #expect(drops.dropped("bob", since: mark))
        #expect(!drops.dropped("carol", since: mark))
        #expect(!drops.dropped("alice", since: drops.mark))
    }

    @Test func moreDropsThanItKeepsDuringOneLoginRefuseIt() {
        var drops = RecentDrops()
        let mark = drops.mark
        for index in 0..<RecentDrops.kept { drops.record("account\(index)") }
        #expect(!drops.dropped("alice", since: mark), "every drop since the mark is still known")
        drops.record("one-more")
        #expect(drops.dropped("alice", since: mark), "a drop it no longer remembers may have been alice's")
    }

    @Test func aLoginRecordedAfterItsAccountWasDroppedIsRefused() throws {
        let fixture = try ManagerTests.Fixture()
        let (alice, _) = try fixture.session("alice")
        let account = ClientManager.LoggedIn(key: "alice", name: "Alice")
        // The book said yes, then the account was dropped (every session of it logged out), then the login lands.
        let mark = fixture.clients.dropMark
        fixture.clients.forgetAccount("alice")
        #expect {
            try fixture.clients.setAccount(account, for: alice, checkedAt: mark)
        } throws: { ($0 as? ProtocolError)?.code == .loginFailed }
        #expect(fixture.clients.account(of: alice) == nil)

        // Another account's drop in between changes nothing.
        let later = fixture.clients.dropMark
        fixture.clients.forgetAccount("carol")
        #expect(try fixture.clients.setAccount(account, for: alice, checkedAt: later) != nil)
        #expect(fixture.clients.account(of: alice) == "alice")
        // A drop after the login logs it out, as before.
        #expect(fixture.clients.forgetAccount("alice").loggedOut.map(\.id) == [alice.id])
        #expect(fixture.clients.account(of: alice) == nil)
    }

    /// A HELLO after a LOGIN: the proof was checked, then the account was dropped, then the hello is admitted. It
    /// is refused, not admitted as nobody holding the account's nick.
    @Test func aHelloWhoseAccountWasDroppedAfterItsLoginWasCheckedIsRefused() async throws {
        let server = try await AccountTests.server()
        defer { Task { await server.stop() } }
        let first = try await AccountTests.registered("ann", on: server)
        defer { first.channel.close(promise: nil) }
        let clients = try #require(server.server.context?.clients)
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4000)).get()
        let phone = ClientSession(
            id: 9_999, channel: channel, address: "127.0.0.1:4000", connectedAt: .now(),
            hello: Hello(nick: "ann", clientName: "unit", clientVersion: "1", processID: 1, host: "h"))
        let mark = clients.dropMark
        clients.forgetAccount("ann")  // the drop lands after the check, before the hello is recorded
        #expect {
            try clients.admit(phone, nick: Nick(validating: "ann"), account: "ann", checkedAt: mark)
        } throws: { ($0 as? ProtocolError)?.code == .loginFailed }
        #expect(clients.sessions(named: "ann").count == 1, "the phone holds nothing")
        #expect(clients.account(of: phone) == nil)
    }
}
