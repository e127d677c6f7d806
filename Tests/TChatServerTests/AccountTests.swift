import Foundation
import NIOCore
import TChatAuth
import TChatProtocol
import Testing

@testable import TChatServer

/// Accounts against a real server: registering, logging in with SCRAM, nick ownership, throttling, what belongs to
/// an account, and the operator's `tchatd account`.
@Suite struct AccountTests {
    static let password = "correct horse battery"

    /// A server with cheap SCRAM keys (4,096 iterations: the hashing cost is not what these tests are about).
    static func server(_ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws
        -> TestServer
    {
        try await TestServer { configuration in
            configuration.scramIterations = ScramKeys.minimumIterations
            configure(&configuration)
        }
    }

    /// Connects as `nick` and registers it.
    static func registered(_ nick: String, on server: TestServer) async throws -> RawConnection {
        let connection = try await RawConnection.connect(to: server.address)
        try await connection.hello(nick)
        try await connection.send(.register(password: password), id: 2)
        // Hashing takes a moment, more while other tests hash in parallel on two cores.
        #expect(await connection.reply(to: 2, within: .seconds(30)) == [.loggedIn(account: nick), .ok])
        return connection
    }

    /// A SCRAM-SHA-256 login over `connection` (request ids `id` and `id + 1`); the final answer's frames.
    static func login(
        _ connection: RawConnection, account: String, password: String, id: UInt32 = 10
    ) async throws -> [ServerFrame] {
        var client = ScramClient(account: account, password: password, nonce: RandomBytes.nonce())
        try await connection.send(.login(mechanism: "SCRAM-SHA-256", data: try client.clientFirst()), id: id)
        let first = await connection.reply(to: id)
        guard case .authData(let serverFirst)? = first.first, first.last == .ok else { return first }
        let final = try client.receiveServerFirst(serverFirst)
        try await connection.send(.loginContinue(data: final), id: id + 1)
        let answer = await connection.reply(to: id + 1)
        if case .authData(let serverFinal)? = answer.first {
            try client.receiveServerFinal(serverFinal)  // the server proved it holds the account
        }
        return answer
    }

    static func errorCode(_ frames: [ServerFrame]) -> ErrorCode? {
        if case .error(let error)? = frames.last { return error.code }
        return nil
    }

    @Test func registeringKeepsOnlyHashesInAFileOnlyTheServerCanRead() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await Self.registered("ann", on: server)
        await server.stop()
        let path = server.directory + "/accounts.json"
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"name\" : \"ann\""))
        #expect(text.contains("scrypt$15$8$1$"))
        #expect(!text.contains(Self.password) && !text.contains("horse"))
        _ = ann
    }

    @Test func aRegisteredNickIsRefusedToEveryoneElseAndItsLookAlikesToo() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await Self.registered("ann", on: server)
        try await ann.send(.quit(reason: ""), id: 3)
        _ = await ann.reply(to: 3)

        for nick in ["ann", "ANN", "AnN"] {
            let stranger = try await RawConnection.connect(to: server.address)
            try await stranger.send(
                .hello(Hello(nick: nick, clientName: "raw", clientVersion: "1", processID: 1, host: "h")), id: 1)
            let reply = await stranger.reply(to: 1)
            #expect(Self.errorCode(reply) == .nickRegistered, "\(nick): \(reply)")
            #expect(await eventually { stranger.isClosed })
        }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        try await bob.send(.nick("Ann"), id: 2)
        let renamed = await bob.reply(to: 2)
        #expect(Self.errorCode(renamed) == .nickRegistered)
        if case .error(let error)? = renamed.last { #expect(error.message.contains("log in")) }
        #expect(!bob.isClosed)
        await server.stop()
    }

    @Test func scramLoginBeforeHelloGetsTheRegisteredNickAndItsWelcomeText() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await Self.registered("ann", on: server)
        try await ann.send(.setWelcome("only for ann"), id: 3)
        #expect(await ann.reply(to: 3) == [.ok])
        try await ann.send(.quit(reason: ""), id: 4)
        _ = await ann.reply(to: 4)

        let again = try await RawConnection.connect(to: server.address)
        let answer = try await Self.login(again, account: "ann", password: Self.password)
        #expect(answer.count == 3 && answer[1] == .loggedIn(account: "ann") && answer[2] == .ok, "\(answer)")
        try await again.send(
            .hello(Hello(nick: "ann", clientName: "raw", clientVersion: "1", processID: 1, host: "h")), id: 1)
        let welcome = await again.reply(to: 1)
        guard case .welcome(let details)? = welcome.first else {
            Issue.record("no welcome: \(welcome)")
            return
        }
        #expect(details.welcomeText == "only for ann")
        await server.stop()
    }

    @Test func aWrongPasswordAnUnknownAccountAndAReplayAreRefusedAlike() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        _ = try await Self.registered("ann", on: server)

        let guesser = try await RawConnection.connect(to: server.address)
        let wrong = try await Self.login(guesser, account: "ann", password: "not the password")
        let unknown = try await Self.login(guesser, account: "nobody", password: "not the password", id: 20)
        #expect(Self.errorCode(wrong) == .loginFailed)
        #expect(Self.errorCode(unknown) == .loginFailed)
        #expect(wrong.last == unknown.last, "the refusals differ, which tells whether an account exists")

        // A recorded client-final message is refused in a new exchange (its proof is bound to the old nonces).
        var client = ScramClient(account: "ann", password: Self.password, nonce: "recordednonce")
        let first = try client.clientFirst()
        try await guesser.send(.login(mechanism: "SCRAM-SHA-256", data: first), id: 30)
        guard case .authData(let serverFirst)? = await guesser.reply(to: 30).first else {
            Issue.record("no server-first")
            return
        }
        let recorded = try client.receiveServerFirst(serverFirst)
        try await guesser.send(.loginContinue(data: recorded), id: 31)
        #expect(await guesser.reply(to: 31).dropFirst().first == .loggedIn(account: "ann"))

        let replayer = try await RawConnection.connect(to: server.address)
        try await replayer.send(.login(mechanism: "SCRAM-SHA-256", data: first), id: 40)
        _ = await replayer.reply(to: 40)
        try await replayer.send(.loginContinue(data: recorded), id: 41)
        #expect(Self.errorCode(await replayer.reply(to: 41)) == .loginFailed)
        await server.stop()
    }

    @Test func oneHundredFailedLoginsFromOneAddressAreSlowedAfterFive() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        _ = try await Self.registered("ann", on: server)
        let guesser = try await RawConnection.connect(to: server.address)
        var failed = 0
        var throttled = 0
        for attempt in 0..<100 {
            let id = UInt32(100 + attempt * 2)
            let answer = try await Self.login(guesser, account: "ann", password: "guess \(attempt)", id: id)
            switch Self.errorCode(answer) {
            case .loginFailed?: failed += 1
            case .loginThrottled?: throttled += 1
            default: Issue.record("attempt \(attempt): \(answer)")
            }
        }
        // Six are checked (five free, and the one that starts the wait); the rest wait a second, then two, ... so
        // at most a stray one more is checked while this loop runs.
        #expect((6...7).contains(failed), "\(failed) checked")
        #expect(throttled == 100 - failed)
        await server.stop()
    }

    @Test func passwordsTravelOnlyOverTLSOrFromThisHostAndPlainOnlyOverTLS() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.send(.login(mechanism: "PLAIN", data: "\0bob\0secretpassword"), id: 5)
        #expect(Self.errorCode(await bob.reply(to: 5)) == .insecureTransport)
        try await bob.send(.login(mechanism: "DIGEST-MD5", data: ""), id: 6)
        #expect(Self.errorCode(await bob.reply(to: 6)) == .invalidArgument)
        await server.stop()
    }

    @Test func welcomeTextsBelongToAccountsNotToWhoeverHoldsANick() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let guest = try await RawConnection.connect(to: server.address)
        try await guest.hello("carol")
        try await guest.send(.setWelcome("planted"), id: 2)
        #expect(Self.errorCode(await guest.reply(to: 2)) == .notLoggedIn)
        try await guest.send(.getWelcome, id: 3)
        #expect(Self.errorCode(await guest.reply(to: 3)) == .notLoggedIn)
        await server.stop()
    }

    @Test func closedRegistrationAndRequiredAccounts() async throws {
        let server = try await Self.server {
            $0.registration = .closed
            $0.requireAccount = true
        }
        defer { server.removeData() }
        let stranger = try await RawConnection.connect(to: server.address)
        try await stranger.send(
            .hello(Hello(nick: "dave", clientName: "raw", clientVersion: "1", processID: 1, host: "h")), id: 1)
        #expect(Self.errorCode(await stranger.reply(to: 1)) == .accountRequired)
        #expect(await eventually { stranger.isClosed })

        // The operator adds an account while the server runs; the server reads it within seconds.
        try AccountAdministration.add(
            "dave", password: Self.password, in: AccountFile(directory: server.directory),
            iterations: ScramKeys.minimumIterations)
        let dave = try await RawConnection.connect(to: server.address)
        var answer: [ServerFrame] = []
        var id: UInt32 = 10
        #expect(
            await eventually(within: .seconds(8)) {
                answer = (try? await Self.login(dave, account: "dave", password: Self.password, id: id)) ?? []
                id += 2
                return answer.contains(.loggedIn(account: "dave"))
            }, "\(answer)")
        try await dave.hello("dave")
        try await dave.send(.register(password: "another password"), id: 99)
        #expect(Self.errorCode(await dave.reply(to: 99)) == .registrationClosed)
        await server.stop()
    }

    @Test func changingThePasswordAndDroppingTheAccount() async throws {
        let server = try await Self.server()
        defer { server.removeData() }
        let ann = try await Self.registered("ann", on: server)
        try await ann.send(.setPassword(old: "wrong password", new: "a new password"), id: 3)
        #expect(Self.errorCode(await ann.reply(to: 3)) == .loginFailed)
        try await ann.send(.setPassword(old: Self.password, new: "short"), id: 4)
        #expect(Self.errorCode(await ann.reply(to: 4)) == .invalidArgument)
        try await ann.send(.setPassword(old: Self.password, new: "a new password"), id: 5)
        #expect(await ann.reply(to: 5) == [.ok])

        let other = try await RawConnection.connect(to: server.address)
        #expect(Self.errorCode(try await Self.login(other, account: "ann", password: Self.password)) == .loginFailed)
        let answer = try await Self.login(other, account: "ann", password: "a new password", id: 20)
        #expect(answer.contains(.loggedIn(account: "ann")))

        try await ann.send(.dropAccount(password: "a new password"), id: 6)
        #expect(await ann.reply(to: 6) == [.ok])
        try await ann.send(.quit(reason: ""), id: 7)
        _ = await ann.reply(to: 7)
        let eve = try await RawConnection.connect(to: server.address)
        try await eve.hello("ann")  // free again
        await server.stop()
    }

    @Test func anOperatorSeesWhereClientsConnectFrom() async throws {
        let server = try await Self.server { $0.operators = ["root"] }
        defer { server.removeData() }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        // An operator's account is made by the operator of the machine, never by REGISTER.
        try AccountAdministration.add(
            "root", password: Self.password, in: AccountFile(directory: server.directory),
            iterations: ScramKeys.minimumIterations)
        let root = try await RawConnection.connect(to: server.address)
        var id: UInt32 = 10
        #expect(
            await eventually(within: .seconds(8)) {
                let answer = (try? await Self.login(root, account: "root", password: Self.password, id: id)) ?? []
                id += 2
                return answer.contains(.loggedIn(account: "root"))
            })
        try await root.hello("root")
        try await root.send(.whois(nick: "bob"), id: 3)
        guard case .clientInfo(let info)? = await root.reply(to: 3).first else {
            Issue.record("no client info")
            return
        }
        #expect(info.address.hasPrefix("127.0.0.1:") && info.processID == 1)
        try await bob.send(.whois(nick: "root"), id: 4)
        guard case .clientInfo(let hidden)? = await bob.reply(to: 4).first else {
            Issue.record("no client info")
            return
        }
        #expect(hidden.address.isEmpty)
        await server.stop()
    }

    @Test func withRegistrationOffNicksAreFirstComeFirstServed() async throws {
        let server = try await Self.server { $0.registration = .off }
        defer { server.removeData() }
        let ann = try await RawConnection.connect(to: server.address)
        try await ann.hello("ann")
        try await ann.send(.register(password: Self.password), id: 2)
        #expect(Self.errorCode(await ann.reply(to: 2)) == .invalidArgument)
        try await ann.send(.setWelcome("mine"), id: 3)
        #expect(await ann.reply(to: 3) == [.ok])
        #expect(!FileManager.default.fileExists(atPath: server.directory + "/accounts.json"))
        await server.stop()
    }
}

/// The throttle's arithmetic with a clock of the test's own.
@Suite struct LoginThrottleTests {
    @Test func failuresBeyondTheFreeOnesDoubleTheWaitUpToTheMaximum() {
        var throttle = LoginThrottle()
        var now = Timestamp(milliseconds: 1_800_000_000_000)
        for _ in 0..<5 {
            #expect(throttle.wait(account: "ann", address: "10.0.0.1", at: now) == nil)
            throttle.failed(account: "ann", address: "10.0.0.1", at: now)
        }
        #expect(throttle.wait(account: "ann", address: "10.0.0.1", at: now) == nil)
        var waits: [UInt64] = []
        for _ in 0..<9 {
            throttle.failed(account: "ann", address: "10.0.0.1", at: now)
            let wait = throttle.wait(account: "x", address: "10.0.0.1", at: now) ?? 0
            waits.append(wait)
            now = Timestamp(milliseconds: now.milliseconds + wait)
        }
        #expect(waits == [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000])
        // Another address is not slowed by this one's failures, until the account has had its own 20 free ones;
        // then the account waits, but never more than 15 s, so nobody can lock its owner out for long.
        #expect(throttle.wait(account: "ann", address: "10.0.0.2", at: now) == nil)
        for _ in 0..<10 { throttle.failed(account: "ann", address: "10.0.0.1", at: now) }
        let accountWait = throttle.wait(account: "ann", address: "10.0.0.2", at: now)
        #expect(accountWait != nil && accountWait! <= 15_000)
        #expect(throttle.wait(account: "bob", address: "10.0.0.2", at: now) == nil)
        throttle.succeeded(account: "ann")
        #expect(throttle.wait(account: "ann", address: "10.0.0.2", at: now) == nil)
    }

    @Test func countsAreForgottenAfterAQuietQuarterOfAnHour() {
        var throttle = LoginThrottle()
        let start = Timestamp(milliseconds: 1_800_000_000_000)
        for _ in 0..<6 { throttle.failed(account: "ann", address: "a", at: start) }
        #expect(throttle.failures(fromAddress: "a", at: start) == 6)
        let later = Timestamp(milliseconds: start.milliseconds + 15 * 60_000 + 1)
        #expect(throttle.failures(fromAddress: "a", at: later) == 0)
        #expect(throttle.wait(account: "ann", address: "a", at: later) == nil)
    }

    @Test func theTablesStayBounded() {
        var limits = LoginThrottle.Limits()
        limits.maxEntries = 100
        var throttle = LoginThrottle(limits: limits)
        let now = Timestamp(milliseconds: 1_800_000_000_000)
        for index in 0..<1000 {
            let time = Timestamp(milliseconds: now.milliseconds + UInt64(index))
            throttle.failed(account: "a\(index)", address: "10.0.\(index)", at: time)
        }
        // The newest is kept, the oldest went to make room.
        #expect(throttle.failures(fromAddress: "10.0.999", at: now) == 1)
        #expect(throttle.failures(fromAddress: "10.0.0", at: now) == 0)
    }
}
