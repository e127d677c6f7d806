import Foundation
import TChatAuth
import TChatProtocol
import Testing

@testable import TChatServer

/// Channel operators against a real server: the account that makes a channel runs it, invite-only, keys, kicks,
/// secret channels, members-only history and member lists, and all of it across a restart.
@Suite struct ChannelOperatorTests {
    static func hello(_ nick: String, on server: TestServer) async throws -> RawConnection {
        let connection = try await RawConnection.connect(to: server.address)
        try await connection.hello(nick)
        return connection
    }

    static func code(_ frames: [ServerFrame]) -> ErrorCode? { AccountTests.errorCode(frames) }

    @Test func theCreatorRunsAnInviteOnlyChannelAndOthersSeeNothingOfIt() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TestServer(directory: directory) { $0.scramIterations = ScramKeys.minimumIterations }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.join(channel: "#ops", history: 0), id: 3)
        #expect(await ann.reply(to: 3).last == .ok)
        try await ann.send(.send(channel: "#ops", body: .text("the deploy key is in the vault")), id: 4)
        _ = await ann.reply(to: 4)
        for (id, change) in [(5, "+i"), (6, "+s")] {
            try await ann.send(.channelMode(channel: "#ops", change: change), id: UInt32(id))
            #expect(await ann.reply(to: UInt32(id)).last == .ok, "\(change)")
        }

        let bob = try await Self.hello("bob", on: server)
        // bob cannot join, read, list or even see the channel.
        try await bob.send(.join(channel: "#ops", history: 10), id: 2)
        #expect(Self.code(await bob.reply(to: 2)) == .inviteOnly)
        try await bob.send(.history(channel: "#ops", before: 0, limit: 10), id: 3)
        #expect(Self.code(await bob.reply(to: 3)) == .noSuchChannel)
        try await bob.send(.listClients(channel: "#ops"), id: 4)
        #expect(Self.code(await bob.reply(to: 4)) == .noSuchChannel)
        try await bob.send(.listChannels, id: 5)
        #expect(await bob.reply(to: 5) == [.ok])
        try await bob.send(.whois(nick: "ann"), id: 6)
        #expect(!(await bob.reply(to: 6)).contains { if case .channelInfo = $0 { true } else { false } })
        try await bob.send(.send(channel: "#ops", body: .text("let me in")), id: 7)
        #expect(Self.code(await bob.reply(to: 7)) == .noSuchChannel, "secret: as if it did not exist")
        try await bob.send(.channelMode(channel: "#ops", change: "+o bob"), id: 8)
        #expect(Self.code(await bob.reply(to: 8)) == .noSuchChannel)
        #expect(!bob.frames.contains { if case .message = $0.frame { true } else { false } })

        // ann invites him: he joins and reads.
        try await ann.send(.invite(channel: "#ops", nick: "bob"), id: 7)
        #expect(await ann.reply(to: 7) == [.ok])
        #expect(
            await eventually {
                bob.frames.contains {
                    if case .invited(let c, let by, _) = $0.frame { c == "#ops" && by == "ann" } else { false }
                }
            })
        try await bob.send(.join(channel: "#ops", history: 10), id: 9)
        let joined = await bob.reply(to: 9)
        #expect(joined.last == .ok && joined.contains { if case .message = $0 { true } else { false } })

        // bob is no operator; ann kicks him.
        try await bob.send(.kick(channel: "#ops", nick: "ann", reason: "mine now"), id: 10)
        #expect(Self.code(await bob.reply(to: 10)) == .notChannelOperator)
        try await ann.send(.kick(channel: "#ops", nick: "bob", reason: "bye"), id: 8)
        #expect(await ann.reply(to: 8) == [.ok])
        #expect(
            await eventually {
                bob.frames.contains { if case .kicked(_, "bob", "ann", "bye", _) = $0.frame { true } else { false } }
            })
        try await bob.send(.history(channel: "#ops", before: 0, limit: 10), id: 11)
        #expect(Self.code(await bob.reply(to: 11)) == .noSuchChannel, "kicked: no longer a member")
        try await bob.send(.join(channel: "#ops", history: 0), id: 12)
        #expect(Self.code(await bob.reply(to: 12)) == .inviteOnly, "the invitation was used")
        await server.stop()

        // Operators and modes survive a restart.
        let again = try await TestServer(directory: directory) { $0.scramIterations = ScramKeys.minimumIterations }
        let carol = try await Self.hello("carol", on: again)
        try await carol.send(.join(channel: "#ops", history: 0), id: 2)
        #expect(Self.code(await carol.reply(to: 2)) == .inviteOnly)
        let annAgain = try await RawConnection.connect(to: again.address)
        let login = try await AccountTests.login(annAgain, account: "ann", password: AccountTests.password)
        #expect(login.contains(.loggedIn(account: "ann")))
        try await annAgain.hello("ann")
        try await annAgain.send(.join(channel: "#ops", history: 0), id: 20)
        #expect(await annAgain.reply(to: 20).last == .ok)
        try await annAgain.send(.channelMode(channel: "#ops", change: ""), id: 21)
        let modes = await annAgain.reply(to: 21)
        #expect(modes.first == .channelModes(channel: "#ops", modes: "+is", operators: "ann", voiced: "", bans: ""))
        await again.stop()
    }

    @Test func keysModerationAndTopicLocks() async throws {
        let server = try await TestServer { $0.scramIterations = ScramKeys.minimumIterations }
        defer { server.removeData() }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.join(channel: "#dev", history: 0), id: 3)
        _ = await ann.reply(to: 3)
        for (id, change) in [(4, "+k hunter2"), (5, "+m"), (6, "+t")] {
            try await ann.send(.channelMode(channel: "#dev", change: change), id: UInt32(id))
            #expect(await ann.reply(to: UInt32(id)).last == .ok, "\(change)")
        }
        #expect(
            !ann.frames.contains {
                if case .modeChanged(_, _, let change, _) = $0.frame { change.contains("hunter2") } else { false }
            }, "the key is never announced")
        let bob = try await Self.hello("bob", on: server)
        try await bob.send(.join(channel: "#dev", history: 0), id: 2)
        #expect(Self.code(await bob.reply(to: 2)) == .badChannelKey)
        try await bob.send(.joinKeyed(channel: "#dev", key: "hunter2", history: 0), id: 3)
        #expect(await bob.reply(to: 3).last == .ok)
        try await bob.send(.send(channel: "#dev", body: .text("hello?")), id: 4)
        #expect(Self.code(await bob.reply(to: 4)) == .cannotSend)
        try await bob.send(.setTopic(channel: "#dev", topic: "bob was here"), id: 5)
        #expect(Self.code(await bob.reply(to: 5)) == .notChannelOperator)
        try await ann.send(.channelMode(channel: "#dev", change: "+v bob"), id: 7)
        #expect(await ann.reply(to: 7).last == .ok)
        try await bob.send(.send(channel: "#dev", body: .text("now I speak")), id: 6)
        #expect(await bob.reply(to: 6).last == .ok)
        await server.stop()
    }
}
