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
}
