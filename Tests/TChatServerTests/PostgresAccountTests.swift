import Foundation
import Logging
import Synchronization
import TChatAuth
import TChatPostgres
import TChatProtocol
import TChatTestSupport
import Testing

@testable import TChatServer

/// Accounts with `--store postgres://`: kept in the database, so every server on it knows every account whether
/// the servers are linked or not, `tchatd account --store` changes them as a server does, and two writers at once
/// lose nothing.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresAccountTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func address(_ cluster: PostgresCluster) throws -> PostgresStoreAddress {
        try PostgresStoreAddress(parsing: "postgres://\(cluster.user)@127.0.0.1:\(cluster.port)/chat")
    }

    /// A server on `cluster`'s database `chat`, linked to nobody, with cheap SCRAM keys.
    static func server(on cluster: PostgresCluster, name: String, directory: String? = nil) async throws -> TestServer {
        try await PostgresStoreTests.server(on: cluster, name: name, directory: directory) {
            $0.scramIterations = ScramKeys.minimumIterations
        }
    }

    @Test func everyServerOnTheStoreKnowsEveryAccountWithoutALink() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let a = try await Self.server(on: cluster, name: "a")
        defer { a.removeData() }
        let b = try await Self.server(on: cluster, name: "b")
        defer { b.removeData() }
        let ann = try await AccountTests.registered("ann", on: a)
        #expect(try await PostgresStoreTests.count("SELECT count(*) FROM accounts", in: cluster) == 1)
        #expect(
            !FileManager.default.fileExists(atPath: a.directory + "/accounts.json"),
            "the account is in the database, not the data directory")
        // B is linked to nobody, and knows ann from the database alone.
        #expect(await NetworkAccountTests.eventuallyLogin("ann", on: b, succeeds: true))
        let stranger = try await RawConnection.connect(to: b.address)
        try await stranger.send(
            .hello(Hello(nick: "ann", clientName: "x", clientVersion: "1", processID: 1, host: "h")), id: 1)
        #expect(AccountTests.errorCode(await stranger.reply(to: 1)) == .nickRegistered)

        // A new password on A: the old one stops working on B.
        try await ann.send(.setPassword(old: AccountTests.password, new: "a brand new password"), id: 5)
        #expect(await ann.reply(to: 5, within: .seconds(30)).last == .ok)
        #expect(await NetworkAccountTests.eventuallyLogin("ann", on: b, succeeds: false))
        #expect(
            await NetworkAccountTests.eventuallyLogin("ann", password: "a brand new password", on: b, succeeds: true))

        // `tchatd account --store` adds one while both run; both take it within seconds.
        let database = try PostgresDatabase(address: try Self.address(cluster), password: nil, logger: Self.logger)
        defer { database.closeNow() }
        try AccountAdministration.add(
            "dave", password: AccountTests.password, in: database.accounts(seed: nil, logger: Self.logger),
            iterations: ScramKeys.minimumIterations)
        #expect(await NetworkAccountTests.eventuallyLogin("dave", on: a, succeeds: true))
        #expect(await NetworkAccountTests.eventuallyLogin("dave", on: b, succeeds: true))

        // Dropped on B: gone on A.
        let (_, dave) = try await NetworkAccountTests.login("dave", as: "dave", on: b)
        try await dave.send(.dropAccount(password: AccountTests.password), id: 30)
        #expect(await dave.reply(to: 30, within: .seconds(30)).last == .ok)
        #expect(await NetworkAccountTests.eventuallyLogin("dave", on: a, succeeds: false))
        let names = try AccountAdministration.list(in: database.accounts(seed: nil, logger: Self.logger)).map(\.name)
        #expect(names == ["ann"])
        await NetworkTests.stop([a, b])
    }

    @Test func theFirstServerOnTheStoreBringsItsAccountsAlong() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        // A data directory from before the store: one account in accounts.json.
        let directory = TestServer.temporaryDirectory()
        try AccountAdministration.add(
            "old", password: AccountTests.password, in: AccountFile(directory: directory),
            iterations: ScramKeys.minimumIterations)
        let a = try await Self.server(on: cluster, name: "a", directory: directory)
        defer { a.removeData() }
        #expect(await NetworkAccountTests.eventuallyLogin("old", on: a, succeeds: true))
        // Another server's file is not: the database has accounts already, and they are the network's.
        let other = TestServer.temporaryDirectory()
        try AccountAdministration.add(
            "stray", password: AccountTests.password, in: AccountFile(directory: other),
            iterations: ScramKeys.minimumIterations)
        let b = try await Self.server(on: cluster, name: "b", directory: other)
        defer { b.removeData() }
        #expect(await NetworkAccountTests.eventuallyLogin("old", on: b, succeeds: true))
        let (answer, _) = try await NetworkAccountTests.login("stray", on: b)
        #expect(AccountTests.errorCode(answer) == .loginFailed)
        #expect(try await PostgresStoreTests.count("SELECT count(*) FROM accounts", in: cluster) == 1)
        await NetworkTests.stop([a, b])
    }

    @Test func twoWritersAtOnceLoseNoChange() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let first = try PostgresDatabase(address: try Self.address(cluster), password: nil, logger: Self.logger)
        defer { first.closeNow() }
        let second = try PostgresDatabase(address: try Self.address(cluster), password: nil, logger: Self.logger)
        defer { second.closeNow() }
        let stores = [first.accounts(seed: nil, logger: Self.logger), second.accounts(seed: nil, logger: Self.logger)]
        _ = try stores[0].load()
        let template = Account(
            name: "template", password: try PasswordHash.make(password: AccountTests.password),
            scram: try ScramKeys(
                password: AccountTests.password, salt: RandomBytes.make(ScramKeys.saltLength),
                iterations: ScramKeys.minimumIterations),
            created: .now(), welcome: "")
        // Each store adds 25 accounts from its own thread, both at once, each change made to what it read.
        let perStore = 25
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { which in
            for index in 0..<perStore {
                var account = template
                account.name = "user\(which)x\(index)"
                do {
                    _ = try stores[which].update { file in file.accounts.append(account) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let stored = try stores[1].load()
        #expect(stored.file.accounts.count == 2 * perStore)
        #expect(Set(stored.file.accounts.map(\.name)).count == 2 * perStore)
        // One version for the book's making, one per change.
        #expect(stored.version == String(1 + 2 * perStore))
        #expect(try stores[0].load().file == stored.file)
    }
}
