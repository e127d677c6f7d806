import NIOCore
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// Several sessions of one account at once (a laptop and a phone), against a real server: they share the account's
/// nick, its channels and its direct messages, and are one client to everyone else.
@Suite struct SharedSessionTests {
    /// Events (request id 0) a connection has received.
    static func events(_ connection: RawConnection) -> [ServerFrame] {
        connection.frames.filter { $0.id == 0 }.map(\.frame)
    }

    /// A second session logged in to `account` before its hello, as `nick`.
    static func session(of account: String, as nick: String? = nil, on server: TestServer) async throws
        -> RawConnection
    {
        let connection = try await RawConnection.connect(to: server.address)
        let answer = try await AccountTests.login(connection, account: account, password: AccountTests.password)
        #expect(answer.contains(.loggedIn(account: account)), "\(answer)")
        try await connection.hello(nick ?? account)
        return connection
    }

    static func join(_ connection: RawConnection, _ channel: String, id: UInt32) async throws -> ChannelInfo? {
        try await connection.send(.join(channel: channel, history: 0), id: id)
        if case .channelInfo(let info)? = await connection.reply(to: id).first { return info }
        return nil
    }

    @Test func sessionsOfAnAccountShareItsNickChannelsAndDirectMessages() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)
        let phone = try await Self.session(of: "alice", on: server)
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")

        // One client to everyone else.
        try await bob.send(.listClients(channel: ""), id: 3)
        let listed = await bob.reply(to: 3).compactMap { if case .clientInfo(let info) = $0 { info.nick } else { nil } }
        #expect(listed == ["alice", "bob"])

        // A join by one session is a join by both; the other hears JOINED for its own nick.
        #expect(try await Self.join(laptop, "#team", id: 4) != nil)
        #expect(await eventually { Self.events(phone).contains { $0.isJoined("#team", "alice") } })
        let info = try await Self.join(bob, "#team", id: 5)
        #expect(info?.members == 2, "alice once, and bob")
        // The phone is in the channel already: its own JOIN changes nothing for anyone.
        #expect(try await Self.join(phone, "#team", id: 6)?.members == 2)
        try await Task.sleep(for: .milliseconds(100))
        #expect(Self.events(bob).filter { $0.isJoined("#team", "alice") }.isEmpty)

        // Channel messages reach both.
        try await bob.send(.send(channel: "#team", body: MessageBody(.text, "hello team")), id: 7)
        #expect(await bob.reply(to: 7).last == .ok)
        for session in [laptop, phone] {
            #expect(await eventually { Self.events(session).contains { $0.isMessage("hello team") } })
        }

        // Direct messages reach both, and what one sends the other sees too.
        try await bob.send(.sendDirect(nick: "alice", body: MessageBody(.text, "psst")), id: 8)
        #expect(await bob.reply(to: 8).last == .ok)
        for session in [laptop, phone] {
            #expect(await eventually { Self.events(session).contains { $0.isDirect(from: "bob", "psst") } })
        }
        try await phone.send(.sendDirect(nick: "bob", body: MessageBody(.text, "from my phone")), id: 9)
        #expect(await phone.reply(to: 9).last == .ok)
        #expect(await eventually { Self.events(bob).contains { $0.isDirect(from: "alice", "from my phone") } })
        #expect(await eventually { Self.events(laptop).contains { $0.isDirect(from: "alice", "from my phone") } })
        #expect(!Self.events(phone).contains { $0.isDirect(from: "alice", "from my phone") }, "no echo to the sender")
    }

    @Test func theNickLeavesWhenItsLastSessionDoes() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)
        let phone = try await Self.session(of: "alice", on: server)
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        _ = try await Self.join(laptop, "#team", id: 4)
        _ = try await Self.join(bob, "#team", id: 5)

        try await laptop.send(.quit(reason: "laptop closed"), id: 6)
        _ = await laptop.reply(to: 6)
        try await Task.sleep(for: .milliseconds(200))
        #expect(!Self.events(bob).contains { $0.type == .quitted }, "alice is still here, on her phone")
        try await bob.send(.whois(nick: "alice"), id: 7)
        #expect(await bob.reply(to: 7).last == .ok)
        #expect(try await Self.join(bob, "#team", id: 8)?.members == 2)

        try await phone.send(.quit(reason: "phone off"), id: 9)
        _ = await phone.reply(to: 9)
        #expect(await eventually { Self.events(bob).contains { $0.type == .quitted } })
        try await bob.send(.whois(nick: "alice"), id: 10)
        #expect(AccountTests.errorCode(await bob.reply(to: 10)) == .noSuchNick)
    }

    @Test func partingRenamingAndKickingMoveEverySession() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)
        let phone = try await Self.session(of: "alice", on: server)
        let bob = try await AccountTests.registered("bob", on: server)
        _ = try await Self.join(bob, "#bobs", id: 3)  // bob's channel: he is its operator
        _ = try await Self.join(laptop, "#bobs", id: 4)
        _ = try await Self.join(laptop, "#team", id: 5)
        #expect(await eventually { Self.events(phone).contains { $0.isJoined("#team", "alice") } })

        // A part by the phone takes the laptop out too.
        try await phone.send(.part(channel: "#team", reason: ""), id: 6)
        #expect(await phone.reply(to: 6).last == .ok)
        #expect(await eventually { Self.events(laptop).contains { $0.type == .parted } })

        // A nick change by one renames both; bob hears it once.
        try await laptop.send(.nick("alicia"), id: 7)
        #expect(await laptop.reply(to: 7).last == .ok)
        #expect(
            await eventually {
                Self.events(phone).contains { $0 == .nickChanged(old: "alice", new: "alicia", time: $0.time) }
            })
        try await Task.sleep(for: .milliseconds(100))
        #expect(Self.events(bob).filter { $0.type == .nickChanged }.count == 1)

        // A kick puts out every session.
        try await bob.send(.kick(channel: "#bobs", nick: "alicia", reason: "bye"), id: 8)
        #expect(await bob.reply(to: 8).last == .ok)
        for session in [laptop, phone] {
            #expect(await eventually { Self.events(session).contains { $0.type == .kicked } })
        }
        try await laptop.send(.send(channel: "#bobs", body: MessageBody(.text, "still here?")), id: 9)
        try await phone.send(.listClients(channel: "#bobs"), id: 40)
        let listing = await phone.reply(to: 40)
        #expect(AccountTests.errorCode(listing) != nil, "the phone is out too: \(listing)")
    }

    @Test func aSessionHearsItsWelcomeBeforeAnythingSentToItsNick() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        _ = try await AccountTests.registered("alice", on: server)
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        // Direct messages to alice all along, while her phone connects.
        let flood = Task {
            for index in 0..<300 {
                try await bob.send(.sendDirect(nick: "alice", body: MessageBody(.text, "dm \(index)")), id: 100)
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let phone = try await Self.session(of: "alice", on: server)
        try await flood.value
        let afterLogin = phone.frames.drop { $0.id != 1 }
        #expect(afterLogin.first?.frame.type == .welcome, "\(phone.frames.prefix(4))")
        #expect(phone.frames.prefix { $0.id != 1 }.allSatisfy { $0.id != 0 }, "nothing before the welcome")
    }

    @Test func anInvitationIsUsedUpForEverySessionSharingTheNick() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)
        let phone = try await Self.session(of: "alice", on: server)
        let ann = try await AccountTests.registered("ann", on: server)
        _ = try await Self.join(ann, "#priv", id: 3)
        try await ann.send(.channelMode(channel: "#priv", change: "+i"), id: 4)
        #expect(await ann.reply(to: 4).last == .ok)
        try await ann.send(.invite(channel: "#priv", nick: "alice"), id: 5)
        #expect(await ann.reply(to: 5).last == .ok)
        #expect(try await Self.join(laptop, "#priv", id: 6) != nil)
        try await ann.send(.kick(channel: "#priv", nick: "alice", reason: "out"), id: 7)
        #expect(await ann.reply(to: 7).last == .ok)
        try await phone.send(.join(channel: "#priv", history: 0), id: 40)
        #expect(AccountTests.errorCode(await phone.reply(to: 40)) == .inviteOnly, "the phone's copy was used up too")
    }

    @Test func aSessionThatLogsInLaterTakesItsAccountsNickByRenaming() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)
        _ = try await Self.join(laptop, "#team", id: 3)
        // Connected before logging in: the account's nick was not its to take.
        let phone = try await RawConnection.connect(to: server.address)
        try await phone.hello("alice_")
        _ = try await Self.join(phone, "#lobby", id: 2)
        let answer = try await AccountTests.login(phone, account: "alice", password: AccountTests.password, id: 20)
        #expect(answer.contains(.loggedIn(account: "alice")))
        try await phone.send(.nick("alice"), id: 30)
        let reply = await phone.reply(to: 30)
        #expect(reply.last == .ok)
        // It leaves alice_'s channels and is in alice's, told in that order around the OK.
        let events = phone.frames.filter { $0.id == 0 || $0.id == 30 }.map(\.frame)
        let parted = events.firstIndex { $0.type == .parted }
        let ok = events.firstIndex { $0 == .ok }
        let joined = events.lastIndex { $0.isJoined("#team", "alice") }
        #expect(parted != nil && ok != nil && joined != nil)
        if let parted, let ok, let joined { #expect(parted < ok && ok < joined) }
        // The network forgot alice_.
        try await laptop.send(.whois(nick: "alice_"), id: 31)
        #expect(AccountTests.errorCode(await laptop.reply(to: 31)) == .noSuchNick)
    }
}

extension ServerFrame {
    fileprivate func isJoined(_ channel: String, _ nick: String) -> Bool {
        if case .joined(let c, let n, _) = self { return c == channel && n == nick }
        return false
    }

    fileprivate func isMessage(_ text: String) -> Bool {
        if case .message(let message) = self { return message.body.text == text }
        return false
    }

    fileprivate func isDirect(from nick: String, _ text: String) -> Bool {
        if case .direct(let message) = self { return message.from == nick && message.body.text == text }
        return false
    }

    fileprivate var time: Timestamp {
        if case .nickChanged(_, _, let time) = self { return time }
        return Timestamp(milliseconds: 0)
    }
}

/// `ChatSession` (what tchat runs) with another session of its account: it follows that session's joins and parts.
@Suite struct SharedChatSessionTests {
    /// A running `ChatSession` as `nick`, logging in to `account`; what it tells its interface is recorded.
    static func start(
        _ nick: String, account: String, on server: TestServer
    ) -> (ChatSession, SessionTests.Recorder, Task<Void, Never>) {
        let recorder = SessionTests.Recorder()
        var options = ConnectOptions(server: server.address, nick: nick)
        options.keepAlive = nil
        options.credentials = Credentials(account: account, password: AccountTests.password)
        let session = ChatSession(options: options, initialHistory: 0, onEvent: recorder.record)
        return (session, recorder, Task { await session.run() })
    }

    static func connections(_ recorder: SessionTests.Recorder) -> Int {
        recorder.count { if case .connected = $0 { true } else { false } }
    }

    /// Disconnections because the server refused the stored login.
    static func refusedLogins(_ recorder: SessionTests.Recorder) -> Int {
        recorder.count {
            if case .disconnected(let reason, _) = $0 {
                reason.contains("reconnecting without logging in")
            } else {
                false
            }
        }
    }

    @Test func aSessionFollowsTheChannelsAnotherSessionOfItsAccountJoinsAndLeaves() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)
        _ = try await SharedSessionTests.join(laptop, "#team", id: 3)

        let (phone, recorder, running) = Self.start("alice", account: "alice", on: server)
        defer { phone.stop() }
        // In the account's channel from the start, as if it had joined it.
        #expect(
            await eventually(within: .seconds(30)) {
                recorder.count { if case .joined(let info, _) = $0 { info.name == "#team" } else { false } } == 1
            })
        // Joined by the laptop later: joined here too.
        _ = try await SharedSessionTests.join(laptop, "#later", id: 4)
        #expect(
            await eventually {
                recorder.count { if case .joined(let info, _) = $0 { info.name == "#later" } else { false } } == 1
            })
        // Left by the laptop: left here.
        try await laptop.send(.part(channel: "#team", reason: ""), id: 5)
        #expect(await laptop.reply(to: 5).last == .ok)
        #expect(
            await eventually { recorder.count { if case .parted("#team") = $0 { true } else { false } } == 1 })
        phone.stop()
        await running.value
    }

    @Test func aSessionWhoseAccountIsDroppedElsewhereIsToldAndReconnectsWithoutIt() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let laptop = try await AccountTests.registered("alice", on: server)

        let (phone, recorder, running) = Self.start("alice", account: "alice", on: server)
        defer { phone.stop() }
        #expect(await eventually(within: .seconds(30)) { Self.connections(recorder) == 1 })

        try await laptop.send(.dropAccount(password: AccountTests.password), id: 3)
        #expect(await laptop.reply(to: 3, within: .seconds(30)).last == .ok)
        #expect(await eventually { recorder.count { $0 == .event(.loggedIn(account: "")) } == 1 })
        // Its next connection does not log in to the account that is gone (which would fail, again and again).
        phone.submit(.reconnect)
        #expect(await eventually(within: .seconds(30)) { Self.connections(recorder) == 2 })
        #expect(recorder.count { if case .failed = $0 { true } else { false } } == 0)
        #expect(Self.refusedLogins(recorder) == 0, "the event said so: no login was tried")
        phone.stop()
        await running.value
    }

    /// Offline when its account was dropped (or its password changed), a session finds its login refused on
    /// reconnecting: it connects without it once, rather than failing the same login forever.
    @Test func aRefusedLoginOnReconnectingIsNotTriedAgain() async throws {
        let server = try await AccountTests.server()
        defer { server.removeData() }
        let (session, recorder, running) = Self.start("ghost", account: "ghost", on: server)
        defer { session.stop() }
        #expect(await eventually(within: .seconds(30)) { Self.connections(recorder) == 1 })
        #expect(Self.refusedLogins(recorder) == 1)
        session.stop()
        await running.value
    }
}
