import NIOCore
import TChatAuth
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// Accounts, server bans, operators and channels' access across two linked servers: a user logs in, and a channel's
/// rules hold, on either.
@Suite struct NetworkAccountTests {
    /// A server with accounts (cheap SCRAM keys) and quick heartbeats, for a network.
    static func server(
        _ name: String, _ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        try await TestServer(name: name) {
            $0.heartbeat = .milliseconds(200)
            $0.scramIterations = ScramKeys.minimumIterations
            configure(&$0)
        }
    }

    /// Two linked servers with accounts (cheap SCRAM keys); `root` is A's server operator.
    static func pair() async throws -> (TestServer, TestServer) {
        let a = try await Self.server("A") {
            $0.operators = ["root"]
        }
        let b = try await Self.server("B") {
            $0.peers = [a.peerAddress]
        }
        #expect(await NetworkTests.linked([a, b]))
        return (a, b)
    }

    /// Logs in to `account` on `server`, then says hello as `nick` if given; the login's answer, and the connection.
    /// (The account's own nick is taken while a session on the other server holds it: sessions share a nick on one
    /// server only.)
    static func login(
        _ account: String, password: String = AccountTests.password, as nick: String? = nil, on server: TestServer
    ) async throws -> (answer: [ServerFrame], connection: RawConnection) {
        let connection = try await RawConnection.connect(to: server.address)
        let answer = try await AccountTests.login(connection, account: account, password: password)
        if let nick, answer.contains(.loggedIn(account: account)) { try await connection.hello(nick) }
        return (answer, connection)
    }

    /// Waits until a login to `account` on `server` ends as `succeeds` says (the account travels in the background).
    static func eventuallyLogin(
        _ account: String, password: String = AccountTests.password, on server: TestServer, succeeds: Bool
    )
        async -> Bool
    {
        await eventually(within: .seconds(10)) {
            guard let (answer, _) = try? await login(account, password: password, on: server) else { return false }
            return answer.contains(.loggedIn(account: account)) == succeeds
        }
    }

    @Test func anAccountRegisteredOnOneServerLogsInOnTheOtherAndItsChangesFollow() async throws {
        let (a, b) = try await Self.pair()
        defer { Task { await NetworkTests.stop([a, b]) } }
        let ann = try await AccountTests.registered("ann", on: a)
        #expect(await Self.eventuallyLogin("ann", on: b, succeeds: true))

        // The nick is the account's on B too.
        let stranger = try await RawConnection.connect(to: b.address)
        try await stranger.send(
            .hello(Hello(nick: "ann", clientName: "x", clientVersion: "1", processID: 1, host: "h")), id: 1)
        #expect(AccountTests.errorCode(await stranger.reply(to: 1)) == .nickRegistered)

        // A new password on A: the old one stops working on B.
        try await ann.send(.setPassword(old: AccountTests.password, new: "a brand new password"), id: 5)
        #expect(await ann.reply(to: 5, within: .seconds(30)).last == .ok)
        #expect(await Self.eventuallyLogin("ann", on: b, succeeds: false))
        #expect(await Self.eventuallyLogin("ann", password: "a brand new password", on: b, succeeds: true))

        // Dropped on B: gone on A, and not brought back by A's older copy.
        let (_, onB) = try await Self.login("ann", password: "a brand new password", as: "annb", on: b)
        try await onB.send(.dropAccount(password: "a brand new password"), id: 6)
        #expect(await onB.reply(to: 6, within: .seconds(30)).last == .ok)
        #expect(await Self.eventuallyLogin("ann", password: "a brand new password", on: a, succeeds: false))
        try await Task.sleep(for: .milliseconds(500))
        #expect(a.server.context?.clients.accounts?.account(forKey: "ann") == nil)
        #expect(b.server.context?.clients.accounts?.account(forKey: "ann") == nil)
    }

    @Test func aSessionOfAnAccountIsSentToTheServerWhereItsNickIs() async throws {
        let (a, b) = try await Self.pair()
        defer { Task { await NetworkTests.stop([a, b]) } }
        _ = try await AccountTests.registered("ann", on: a)
        #expect(await Self.eventuallyLogin("ann", on: b, succeeds: true))
        #expect(await eventually { b.server.context?.clients.remoteInfo(named: "ann") != nil })
        // Her phone asks B for her nick, logged in: B sends it to A, where it shares the nick with the laptop.
        var options = ConnectOptions(server: b.address, nick: "ann")
        options.keepAlive = nil
        options.credentials = Credentials(account: "ann", password: AccountTests.password)
        let phone = try await ChatConnection.connect(options)
        #expect(phone.server == a.address)
        #expect(phone.welcome.nick == "ann")
        #expect(a.server.context?.clients.sessions(named: "ann").count == 2)
        await phone.quit()
    }

    @Test func aServerThatWasApartCatchesUpOnLinking() async throws {
        let a = try await Self.server("A")
        _ = try await AccountTests.registered("early", on: a)
        let b = try await Self.server("B") {
            $0.peers = [a.peerAddress]
        }
        defer { Task { await NetworkTests.stop([a, b]) } }
        #expect(await NetworkTests.linked([a, b]))
        #expect(await Self.eventuallyLogin("early", on: b, succeeds: true))
    }

    @Test func channelRulesSetOnOneServerHoldOnTheOther() async throws {
        let (a, b) = try await Self.pair()
        defer { Task { await NetworkTests.stop([a, b]) } }
        let ann = try await AccountTests.registered("ann", on: a)
        try await ann.send(.join(channel: "#priv", history: 0), id: 3)
        #expect(await ann.reply(to: 3).last == .ok)
        try await ann.send(.channelMode(channel: "#priv", change: "+i"), id: 4)
        #expect(await ann.reply(to: 4).last == .ok)

        let bob = try await RawConnection.connect(to: b.address)
        try await bob.hello("bob")
        #expect(
            await eventually {
                try? await bob.send(.join(channel: "#priv", history: 0), id: 5)
                return AccountTests.errorCode(await bob.reply(to: 5)) == .inviteOnly
            })
        // Invited from A, bob joins on B.
        try await ann.send(.invite(channel: "#priv", nick: "bob"), id: 6)
        #expect(await ann.reply(to: 6).last == .ok)
        #expect(await eventually { bob.frames.contains { $0.frame.type == .invited } })
        try await bob.send(.join(channel: "#priv", history: 0), id: 7)
        #expect(await bob.reply(to: 7).last == .ok)
        // Modes are changed from B by an operator logged in there, and A hears the change.
        let (_, annOnB) = try await Self.login("ann", as: "annb", on: b)
        try await annOnB.send(.join(channel: "#priv", history: 0), id: 8)
        #expect(await annOnB.reply(to: 8).last == .ok)
        try await annOnB.send(.channelMode(channel: "#priv", change: "+m"), id: 9)
        #expect(await annOnB.reply(to: 9).last == .ok)
        #expect(
            await eventually {
                ann.frames.contains {
                    if case .modeChanged(_, "annb", "+m", _) = $0.frame { true } else { false }
                }
            })
        // A kick from A puts bob out on B.
        try await ann.send(.kick(channel: "#priv", nick: "bob", reason: "bye"), id: 10)
        #expect(await ann.reply(to: 10).last == .ok)
        #expect(await eventually { bob.frames.contains { $0.frame.type == .kicked } })
        try await bob.send(.send(channel: "#priv", body: MessageBody(.text, "still in?")), id: 11)
        #expect(AccountTests.errorCode(await bob.reply(to: 11)) != nil, "+m and out: bob cannot speak")
    }

    @Test func aChannelMadeDuringASplitLosesToTheOlderOne() async throws {
        let a = try await Self.server("A")
        let ann = try await AccountTests.registered("ann", on: a)
        try await ann.send(.join(channel: "#team", history: 0), id: 3)
        #expect(await ann.reply(to: 3).last == .ok)
        try await ann.send(.channelMode(channel: "#team", change: "+s"), id: 4)
        #expect(await ann.reply(to: 4).last == .ok)
        try await Task.sleep(for: .milliseconds(20))
        // Apart from A, mallory makes a #team of her own on B, and runs it.
        let b = try await Self.server("B")
        let mallory = try await AccountTests.registered("mallory", on: b)
        try await mallory.send(.join(channel: "#team", history: 0), id: 3)
        #expect(await mallory.reply(to: 3).last == .ok)
        try await mallory.send(.channelMode(channel: "#team", change: "+k letmein"), id: 4)
        #expect(await mallory.reply(to: 4).last == .ok)
        await b.stop()
        let linked = try await TestServer(directory: b.directory) {
            $0.heartbeat = .milliseconds(200)
            $0.scramIterations = ScramKeys.minimumIterations
            $0.peers = [a.peerAddress]
        }
        defer { Task { await NetworkTests.stop([a, linked]) } }
        #expect(await NetworkTests.linked([a, linked]))
        // Both servers keep ann's rules: the older channel's.
        for (index, server) in [a, linked].enumerated() {
            #expect(
                await eventually {
                    let access = server.server.context?.channels.directory.channel(
                        try! ChannelName(validating: "#team"))?
                        .withState { $0.access }
                    return access?.operators.keys.sorted() == ["ann"] && access?.secret == true && access?.key == nil
                }, "server \(index)")
        }
    }

    @Test func closingAChannelAndLiftingABanReachTheOtherServer() async throws {
        let (a, b) = try await Self.pair()
        defer { Task { await NetworkTests.stop([a, b]) } }
        try AccountAdministration.add(
            "root", password: AccountTests.password, in: AccountFile(directory: a.directory),
            iterations: ScramKeys.minimumIterations)
        #expect(await Self.eventuallyLogin("root", on: a, succeeds: true))  // read within 2 s
        let (_, root) = try await Self.login("root", as: "root", on: a)
        let bob = try await RawConnection.connect(to: b.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#room", history: 0), id: 2)
        #expect(await bob.reply(to: 2).last == .ok)
        let room = try ChannelName(validating: "#room")
        #expect(await eventually { a.server.context?.channels.hasRemoteMember("bob", in: room) == true })
        // Closed on A: bob, on B, is put out, and A hears him leave.
        try await root.send(.closeChannel(channel: "#room", reason: "spam"), id: 3)
        #expect(await root.reply(to: 3).last == .ok)
        #expect(await eventually { bob.frames.contains { $0.frame.type == .kicked } })
        #expect(await eventually { a.server.context?.channels.hasRemoteMember("bob", in: room) == false })
        #expect(b.server.context?.channels.isClosed(room) == true)
        // A ban lifted on A lets eve log in on B again.
        _ = try await AccountTests.registered("eve", on: b)
        try await root.send(.serverBan(mask: "account:eve", reason: "spam"), id: 4)
        #expect(await root.reply(to: 4, within: .seconds(30)).last == .ok)
        #expect(
            await eventually(within: .seconds(10)) {
                guard let (answer, _) = try? await Self.login("eve", on: b) else { return false }
                return AccountTests.errorCode(answer) == .serverBanned
            })
        try await root.send(.serverUnban(mask: "account:eve"), id: 5)
        #expect(await root.reply(to: 5, within: .seconds(30)).last == .ok)
        #expect(await Self.eventuallyLogin("eve", on: b, succeeds: true))
        // Once the link is gone, A's operator is no operator on B.
        #expect(b.server.context?.clients.accounts?.isOperator("root") == true)
        await a.stop()
        #expect(await eventually { b.server.context?.clients.accounts?.isOperator("root") == false })
    }

    @Test func serverOperatorsAndBansReachEveryServer() async throws {
        let (a, b) = try await Self.pair()
        defer { Task { await NetworkTests.stop([a, b]) } }
        try AccountAdministration.add(
            "root", password: AccountTests.password, in: AccountFile(directory: a.directory),
            iterations: ScramKeys.minimumIterations)
        _ = try await AccountTests.registered("eve", on: b)
        // root, an operator of A's, logs in on B and is one there too.
        #expect(await Self.eventuallyLogin("root", on: b, succeeds: true))
        let (_, root) = try await Self.login("root", as: "root", on: b)
        try await root.send(.serverBan(mask: "account:eve", reason: "spam"), id: 5)
        #expect(await root.reply(to: 5, within: .seconds(30)).last == .ok)
        // Banned on A too.
        #expect(
            await eventually(within: .seconds(10)) {
                guard let (answer, _) = try? await Self.login("eve", on: a) else { return false }
                return AccountTests.errorCode(answer) == .serverBanned
            })
        // A KILL from B ends a session on A.
        let carol = try await RawConnection.connect(to: a.address)
        try await carol.hello("carol")
        #expect(await eventually { b.server.context?.clients.remoteInfo(named: "carol") != nil })
        try await root.send(.kill(nick: "carol", reason: "bye"), id: 6)
        #expect(await root.reply(to: 6).last == .ok)
        #expect(await eventually { carol.isClosed })
    }
}
