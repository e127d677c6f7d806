import Foundation
import TChatAuth
import TChatProtocol
import Testing

@testable import TChatServer

/// Server operators (`--operator`): ending a session, banning an account from the server, closing a channel.
@Suite struct ServerOperatorTests {
    /// A server whose operator `root` is logged in on the returned connection.
    static func withOperator() async throws -> (TestServer, RawConnection) {
        // The operator's account exists before the server starts, as `tchatd account add` would leave it.
        let directory = TestServer.temporaryDirectory()
        try AccountAdministration.add(
            "root", password: AccountTests.password, in: AccountFile(directory: directory),
            iterations: ScramKeys.minimumIterations)
        let server = try await TestServer(directory: directory) {
            $0.operators = ["root"]
            $0.scramIterations = ScramKeys.minimumIterations
        }
        let root = try await RawConnection.connect(to: server.address)
        let answer = try await AccountTests.login(root, account: "root", password: AccountTests.password)
        #expect(answer.contains(.loggedIn(account: "root")))
        try await root.hello("root")
        return (server, root)
    }

    @Test func onlyOperatorsEndSessionsAndTheEndedOneIsToldWhy() async throws {
        let (server, root) = try await Self.withOperator()
        defer { server.removeData() }
        let bob = try await ChannelOperatorTests.hello("bob", on: server)
        try await bob.send(.kill(nick: "root", reason: "coup"), id: 2)
        #expect(AccountTests.errorCode(await bob.reply(to: 2)) == .notServerOperator)
        try await root.send(.kill(nick: "bob", reason: "flooding"), id: 3)
        #expect(await root.reply(to: 3) == [.ok])
        #expect(
            await eventually {
                bob.frames.contains {
                    if case .error(let e) = $0.frame {
                        e.code == .killed && e.message.contains("flooding")
                    } else {
                        false
                    }
                }
            })
        #expect(await eventually { bob.isClosed })
        await server.stop()
    }

    @Test func aBannedAccountIsPutOutAndCannotLogInAgain() async throws {
        let (server, root) = try await Self.withOperator()
        defer { server.removeData() }
        let eve = try await AccountTests.registered("eve", on: server)
        // Another of eve's connections has logged in and not said hello yet when the ban comes.
        let waiting = try await RawConnection.connect(to: server.address)
        let early = try await AccountTests.login(waiting, account: "eve", password: AccountTests.password)
        #expect(early.contains(.loggedIn(account: "eve")))
        try await root.send(.serverBan(mask: "account:Eve", reason: "spam"), id: 3)
        #expect(await root.reply(to: 3, within: .seconds(30)) == [.ok])
        #expect(await eventually { eve.isClosed })
        #expect(eve.frames.contains { if case .error(let e) = $0.frame { e.code == .serverBanned } else { false } })
        try await waiting.send(
            .hello(Hello(nick: "eve", clientName: "raw", clientVersion: "1", processID: 1, host: "h")), id: 1)
        #expect(AccountTests.errorCode(await waiting.reply(to: 1)) == .serverBanned)
        let again = try await RawConnection.connect(to: server.address)
        let answer = try await AccountTests.login(again, account: "eve", password: AccountTests.password)
        #expect(AccountTests.errorCode(answer) == .serverBanned)
        #expect(await eventually { again.isClosed })
        try await root.send(.serverBan(mask: "", reason: ""), id: 4)
        let listed = await root.reply(to: 4)
        #expect(listed.contains { if case .text(let t) = $0 { t.hasPrefix("account:eve by root") } else { false } })
        try await root.send(.serverBan(mask: "eve", reason: ""), id: 5)
        #expect(AccountTests.errorCode(await root.reply(to: 5)) == .invalidArgument, "a mask says what it bans")
        await server.stop()
    }

    @Test func aClosedChannelIsEmptiedAndKeptClosed() async throws {
        let (server, root) = try await Self.withOperator()
        defer { server.removeData() }
        let bob = try await ChannelOperatorTests.hello("bob", on: server)
        try await bob.send(.join(channel: "#spam", history: 0), id: 2)
        _ = await bob.reply(to: 2)
        try await root.send(.closeChannel(channel: "#spam", reason: "abuse"), id: 3)
        #expect(await root.reply(to: 3) == [.ok])
        #expect(
            await eventually {
                bob.frames.contains {
                    if case .kicked("#spam", "*", "root", "abuse", _) = $0.frame { true } else { false }
                }
            })
        try await bob.send(.join(channel: "#spam", history: 0), id: 4)
        #expect(AccountTests.errorCode(await bob.reply(to: 4)) == .inviteOnly)
        await server.stop()
    }

    @Test func serverBanMasksNameAnAccountOrAnAddress() throws {
        #expect(try ConnectionHandler.serverBanMask("account:EvIl") == "account:" + Nick.key(for: "EvIl"))
        #expect(try ConnectionHandler.serverBanMask("address:203.0.113.9") == "address:203.0.113.9")
        #expect(try ConnectionHandler.serverBanMask("address:::1") == "address:::1")
        for bad in ["eve", "address:nowhere", "account:", "account:9lives"] {
            #expect(throws: ProtocolError.self, "\(bad)") { try ConnectionHandler.serverBanMask(bad) }
        }
    }
}
