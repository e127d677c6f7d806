import Foundation
import TChatAuth
import TChatProtocol
import Testing

@testable import TChatServer

/// What an outside reviewer found against the first version of accounts and channel modes, each now refused.
@Suite struct AccountAbuseTests {
    static func server(_ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws
        -> TestServer
    {
        try await AccountTests.server(configure)
    }

    static func startScram(_ connection: RawConnection, account: String, id: UInt32) async throws
        -> (ScramClient, [ServerFrame])
    {
        var client = ScramClient(account: account, password: "x", nonce: RandomBytes.nonce())
        try await connection.send(.login(mechanism: "SCRAM-SHA-256", data: try client.clientFirst()), id: id)
        return (client, await connection.reply(to: id))
    }

    @Test func exchangesHeldOpenDoNotGetPastTheThrottle() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        _ = try await AccountTests.registered("victim", on: server)
        // Forty exchanges started while the count is low, then all finished with guesses.
        var held: [(RawConnection, ScramClient, String)] = []
        for index in 0..<40 {
            let connection = try await RawConnection.connect(to: server.address)
            let (client, answer) = try await Self.startScram(connection, account: "victim", id: UInt32(10 + index))
            guard case .authData(let first)? = answer.first else { continue }
            held.append((connection, client, first))
        }
        var checked = 0
        var refused = 0
        for (index, entry) in held.enumerated() {
            var (connection, client, first) = entry
            let final = try client.receiveServerFirst(first)  // the password "x" is wrong
            try await connection.send(.loginContinue(data: final), id: UInt32(100 + index))
            switch AccountTests.errorCode(await connection.reply(to: UInt32(100 + index))) {
            case .loginFailed?: checked += 1
            case .loginThrottled?: refused += 1
            default: Issue.record("exchange \(index) got neither")
            }
        }
        // The throttle is asked again before each proof is checked: held exchanges get no more guesses than new ones.
        #expect(checked <= LoginThrottle.Limits().freePerAddress + 1, "\(checked) proofs checked")
        #expect(refused == held.count - checked)
        await server.stop()
    }

    @Test func aLoginStartedBeforeAPasswordChangeCannotFinishAfterIt() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await AccountTests.registered("ann", on: server)
        let thief = try await RawConnection.connect(to: server.address)
        var client = ScramClient(account: "ann", password: AccountTests.password, nonce: RandomBytes.nonce())
        try await thief.send(.login(mechanism: "SCRAM-SHA-256", data: try client.clientFirst()), id: 5)
        guard case .authData(let first)? = await thief.reply(to: 5).first else {
            Issue.record("no challenge")
            return
        }
        let final = try client.receiveServerFirst(first)
        try await ann.send(.setPassword(old: AccountTests.password, new: "a brand new password"), id: 3)
        #expect(await ann.reply(to: 3, within: .seconds(30)) == [.ok])
        try await thief.send(.loginContinue(data: final), id: 6)
        #expect(AccountTests.errorCode(await thief.reply(to: 6)) == .loginFailed)
        await server.stop()
    }

    @Test func aDroppedAccountsChannelsAreNotInheritedByTheNextOwnerOfTheName() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.join(channel: "#team", history: 0), id: 3)
        _ = await ann.reply(to: 3)
        try await ann.send(.channelMode(channel: "#team", change: "+i"), id: 4)
        #expect(await ann.reply(to: 4).last == .ok)
        try await ann.send(.part(channel: "#team", reason: ""), id: 5)
        _ = await ann.reply(to: 5)
        try await ann.send(.join(channel: "#open", history: 0), id: 8)
        _ = await ann.reply(to: 8)
        try await ann.send(.dropAccount(password: AccountTests.password), id: 6)
        #expect(await ann.reply(to: 6) == [.ok])
        try await ann.send(.quit(reason: ""), id: 7)
        _ = await ann.reply(to: 7)
        let eve = try await AccountTests.registered("ann", on: server)  // the name is free: eve takes it
        try await eve.send(.join(channel: "#team", history: 0), id: 3)
        #expect(AccountTests.errorCode(await eve.reply(to: 3)) == .inviteOnly, "no operator rights came with the name")
        // A channel whose operator is gone cannot be claimed either: only a server operator gives it out again.
        try await eve.send(.join(channel: "#open", history: 0), id: 4)
        _ = await eve.reply(to: 4)
        try await eve.send(.channelMode(channel: "#open", change: "+o ann"), id: 5)
        #expect(AccountTests.errorCode(await eve.reply(to: 5)) == .notChannelOperator)
        await server.stop()
    }

    @Test func aServerOperatorsNameCannotBeRegisteredByAnyone() async throws {
        let server = try await Self.server { $0.operators = ["admin"] }
        defer { server.removeData() }
        let stranger = try await RawConnection.connect(to: server.address)
        try await stranger.hello("ADMlN")
        try await stranger.send(.register(password: AccountTests.password), id: 2)
        #expect(AccountTests.errorCode(await stranger.reply(to: 2)) == .registrationClosed)
        await server.stop()
    }

    @Test func aSecretChannelIsAnsweredForAsIfItDidNotExist() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.join(channel: "#hidden", history: 0), id: 3)
        _ = await ann.reply(to: 3)
        try await ann.send(.channelMode(channel: "#hidden", change: "+s"), id: 4)
        _ = await ann.reply(to: 4)
        let eve = try await ChannelOperatorTests.hello("eve", on: server)
        try await eve.send(.part(channel: "#hidden", reason: ""), id: 2)
        #expect(AccountTests.errorCode(await eve.reply(to: 2)) == .noSuchChannel)
        try await eve.send(.setTopic(channel: "#hidden", topic: "hi"), id: 3)
        #expect(AccountTests.errorCode(await eve.reply(to: 3)) == .noSuchChannel)
        try await eve.send(.send(channel: "#hidden", body: .text("anyone?")), id: 4)
        #expect(AccountTests.errorCode(await eve.reply(to: 4)) == .noSuchChannel)
        await server.stop()
    }

    @Test func channelKeysCannotBeGuessedQuickly() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.join(channel: "#safe", history: 0), id: 3)
        _ = await ann.reply(to: 3)
        try await ann.send(.channelMode(channel: "#safe", change: "+k 7781"), id: 4)
        _ = await ann.reply(to: 4)
        let eve = try await ChannelOperatorTests.hello("eve", on: server)
        var codes: [ErrorCode] = []
        for guess in 0..<30 {
            try await eve.send(.joinKeyed(channel: "#safe", key: "\(guess)", history: 0), id: UInt32(10 + guess))
            if let code = AccountTests.errorCode(await eve.reply(to: UInt32(10 + guess))) { codes.append(code) }
        }
        #expect(codes.filter { $0 == .badChannelKey }.count <= LoginThrottle.Limits().freePerAddress + 1)
        #expect(codes.filter { $0 == .loginThrottled }.count >= 20)
        await server.stop()
    }

    @Test func invitationsAndAGuestsVoiceAreForTheSessionNotTheNick() throws {
        var access = ChannelAccessTests.operated()
        let bob = ChannelAccess.Member(nick: "bob", account: nil, session: 7)
        let lookAlike = ChannelAccess.Member(nick: "B0B", account: nil, session: 8)
        access.inviteOnly = true
        access.invited.insert(bob.session)
        #expect(throws: ProtocolError.self) { try access.checkJoin(lookAlike, key: "") }
        try access.checkJoin(bob, key: "")
        _ = try access.apply(.voice("bob", on: true), by: ChannelAccessTests.ann, target: bob)
        #expect(access.isVoiced(bob) && !access.isVoiced(lookAlike))
    }
}
