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
        #expect(drops.dropped("old", since: mark) == false, "dropped before the login read the book, which said so")
        drops.record("alice")
        drops.record("bob")
        #expect(drops.dropped("alice", since: mark) == true)
        #expect(drops.dropped("bob", since: mark) == true)
        #expect(drops.dropped("carol", since: mark) == false)
        #expect(drops.dropped("alice", since: drops.mark) == false)
        #expect(throws: ProtocolError(.loginFailed, "the account alice was dropped while you logged in")) {
            try drops.check("alice", since: mark)
        }
    }

    /// Past what it remembers it cannot tell: the login is refused as one to try again, never as a wrong password
    /// (a client forgets credentials refused so).
    @Test func moreDropsThanItKeepsDuringOneLoginRefuseItAsOneToTryAgain() {
        var drops = RecentDrops()
        let mark = drops.mark
        for index in 0..<RecentDrops.kept { drops.record("account\(index)") }
        #expect(drops.dropped("alice", since: mark) == false, "every drop since the mark is still known")
        drops.record("one-more")
        #expect(drops.dropped("alice", since: mark) == nil, "a drop it no longer remembers may have been alice's")
        #expect {
            try drops.check("alice", since: mark)
        } throws: { ($0 as? ProtocolError)?.code == .storageFailure }
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

    /// A LOGIN before the HELLO, then the password changed (or the account dropped) before the HELLO: the HELLO is
    /// refused with 214, not admitted as a guest that believes it is logged in.
    @Test func aHelloAfterALoginWhoseAccountChangedSinceIsRefused() async throws {
        let server = try await AccountTests.server()
        defer { Task { await server.stop() } }
        let ann = try await AccountTests.registered("ann", on: server)
        let phone = try await RawConnection.connect(to: server.address)
        let login = try await AccountTests.login(phone, account: "ann", password: AccountTests.password)
        #expect(login.contains(.loggedIn(account: "ann")))
        try await ann.send(.setPassword(old: AccountTests.password, new: "a brand new password"), id: 3)
        #expect(await ann.reply(to: 3, within: .seconds(30)) == [.ok])
        try await phone.send(
            .hello(Hello(nick: "ann", clientName: "raw", clientVersion: "1", processID: 1, host: "h")), id: 1)
        #expect(AccountTests.errorCode(await phone.reply(to: 1)) == .loginFailed)
        #expect(server.server.context?.clients.sessions(named: "ann").count == 1)
    }
}
