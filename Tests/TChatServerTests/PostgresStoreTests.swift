import Foundation
import Logging
import PostgresNIO
import TChatClient
import TChatPostgres
import TChatProtocol
import TChatTestSupport
import Testing

@testable import TChatServer

/// `--store postgres://`: a real server on a PostgreSQL of the test's own. Messages are numbered and committed
/// there before anyone sees them, history and topics outlive the server, and a database that cannot be reached
/// makes sends fail (retryably), never acknowledges them.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresStoreTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A test server keeping channels and messages in `cluster`'s database `chat` (through `port` when given: a
    /// relay the test can cut).
    static func server(
        on cluster: PostgresCluster, name: String = "pg", logs: LogCapture? = nil,
        linkedTo peers: [ServerAddress]? = nil, database: String = "chat", port: Int? = nil, directory: String? = nil,
        commitInterval: Duration = .zero, configure: @escaping (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let address = try PostgresStoreAddress(
            parsing: "postgres://\(cluster.user)@127.0.0.1:\(port ?? cluster.port)/\(database)")
        return try await TestServer(directory: directory, name: name, logs: logs) { configuration in
            // Linked (to `peers`, or by being dialled) only when asked; otherwise they share the database alone.
            if let peers {
                configuration.peers = peers
            } else {
                configuration.linkSecretFile = nil
            }
            configuration.storage = { files, serverID, logger in
                try PostgresStorage(
                    address: address, password: nil, files: files, serverID: serverID, serverName: name,
                    commitInterval: commitInterval, logger: logger)
            }
            configure(&configuration)
        }
    }

    /// Servers a and b on `cluster`'s database `chat`, b linked to a, once each sees the link.
    static func linkedPair(on cluster: PostgresCluster) async throws -> (a: TestServer, b: TestServer) {
        let a = try await server(on: cluster, name: "a", linkedTo: [])
        do {
            let b = try await server(on: cluster, name: "b", linkedTo: [a.peerAddress])
            #expect(await eventually { a.server.linkedServers == 1 && b.server.linkedServers == 1 })
            return (a, b)
        } catch {
            await a.stop()
            a.removeData()
            throw error
        }
    }

    static func count(_ sql: String, in cluster: PostgresCluster) async throws -> Int {
        let connection = try await cluster.connect(database: "chat")
        defer { Task { try? await connection.close() } }
        var value = 0
        for try await count in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(
            Int.self)
        {
            value = count
        }
        return value
    }

    @Test func messagesAreCommittedBeforeAnyoneSeesThemAndOutliveTheServer() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await Self.server(on: cluster)
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let bob = try await server.connect("bob")
        let bobEvents = EventLog(bob)
        _ = try await alice.join("#ops")
        _ = try await bob.join("#ops")
        for index in 1...50 { _ = alice.submit(.send(channel: "#ops", body: .text("m\(index)"))) }
        let last = try await alice.send(.text("last"), to: "#ops")
        #expect(last.id == 51)
        await bobEvents.wait(for: "51 messages") { _ in bobEvents.messages.count == 51 }
        #expect(bobEvents.messages.map(\.id) == Array(1...51))
        // Acknowledged means committed: every one is in the table already, ids without a gap or a repeat.
        #expect(try await Self.count("SELECT count(*) FROM messages WHERE channel = '#ops'", in: cluster) == 51)
        #expect(try await Self.count("SELECT max(id) FROM messages", in: cluster) == 51)
        #expect(try await Self.count("SELECT last_id FROM channels WHERE key = '#ops'", in: cluster) == 51)
        _ = try await alice.request(.setTopic(channel: "#ops", topic: "deploys at noon"))
        await alice.quit()
        await bob.quit()
        await server.stop()

        // Another server (a new data directory, so another id) on the same database: the history, the topic and
        // the numbering go on; the first server gave its lease up as it stopped.
        let second = try await Self.server(on: cluster, name: "pg2")
        defer { second.removeData() }
        let carol = try await second.connect("carol")
        let (info, replay) = try await carol.join("#ops", history: 10)
        #expect(info.lastMessageID == 51)
        #expect(info.topic == "deploys at noon")
        #expect(replay.map(\.id) == Array(42...51))
        #expect(replay.last?.body == .text("last"))
        let older = try await carol.history("#ops", before: 42, limit: 5)
        #expect(older.map(\.id) == Array(37...41))
        #expect(older.first?.body == .text("m37") && older.first?.from == "alice")
        #expect(try await carol.send(.text("still here"), to: "#ops").id == 52)
        await carol.quit()
        await second.stop()
    }

    @Test func aBusyServerStartsABatchNoSoonerThanTheIntervalAfterTheLastAndAnIdleOneAtOnce() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await Self.server(on: cluster, commitInterval: .milliseconds(1500))
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        _ = try await alice.join("#ops")
        _ = try await alice.send(.text("first"), to: "#ops")  // the writer's connection opened
        // After a pause longer than the interval: at once.
        try await Task.sleep(for: .milliseconds(1600))
        let clock = ContinuousClock()
        let started = clock.now
        #expect(try await alice.send(.text("second"), to: "#ops").id == 2)
        #expect(clock.now - started < .milliseconds(1000), "the last batch started over an interval ago: at once")
        // Right after a commit: these wait until an interval after the last batch started (which was after
        // `started`), and go in one batch, one time stamp.
        for index in 1...20 { _ = alice.submit(.send(channel: "#ops", body: .text("m\(index)"))) }
        #expect(try await alice.send(.text("last"), to: "#ops").id == 23)
        #expect(clock.now - started >= .milliseconds(1490))
        #expect(try await Self.count("SELECT count(DISTINCT sent_at) FROM messages WHERE id > 2", in: cluster) == 1)
        await alice.quit()
        await server.stop()
    }

    @Test func anUnreachableDatabaseRefusesSendsAndAcknowledgesNothing() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let logs = LogCapture()
        let server = try await Self.server(on: cluster, logs: logs)
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        _ = try await alice.join("#ops")
        #expect(try await alice.send(.text("before"), to: "#ops").id == 1)
        try cluster.stopServer()
        var acknowledged = 0
        var refusals: [ProtocolError] = []
        for index in 1...5 {
            do {
                _ = try await alice.send(.text("during \(index)"), to: "#ops")
                acknowledged += 1
            } catch let error as ProtocolError {
                refusals.append(error)
            }
        }
        #expect(acknowledged == 0, "nothing is acknowledged while the database is down")
        #expect(refusals.count == 5)
        #expect(refusals.allSatisfy { $0.code == .storageFailure })
        #expect(refusals.contains { $0.message.contains("try again") })
        try cluster.startServer()
        // Taken again once a probe reaches the database (every second).
        var resumed: UInt64?
        let deadline = ContinuousClock.now + .seconds(15)
        while resumed == nil, ContinuousClock.now < deadline {
            resumed = try? await alice.send(.text("after"), to: "#ops").id
            if resumed == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(resumed == 2, "the next id follows the last committed one")
        // Found by a failed batch, or first by the doorbell's lost connection and an unanswered SELECT 1.
        let failedBatch = await logs.contains("a batch of messages was not committed", level: .error)
        let silentDatabase = await logs.contains("the database does not answer", level: .error)
        #expect(failedBatch || silentDatabase)
        #expect(await logs.contains("the database is reachable again"))
        #expect(try await Self.count("SELECT count(*) FROM messages", in: cluster) == 2)
        await alice.quit()
        await server.stop()
    }

    @Test func linkedServersShareOneNumberingAndDeliverEverythingInOrder() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let (a, b) = try await PostgresStoreTests.linkedPair(on: cluster)
        defer {
            a.removeData()
            b.removeData()
        }
        let alice = try await a.connect("alice")
        let bob = try await b.connect("bob")
        let aliceEvents = EventLog(alice)
        let bobEvents = EventLog(bob)
        _ = try await alice.join("#ops")
        _ = try await bob.join("#ops")
        // Both send at once: one server holds the channel's lease and numbers, the other forwards to it.
        for index in 1...20 {
            _ = alice.submit(.send(channel: "#ops", body: .text("a\(index)")))
            _ = bob.submit(.send(channel: "#ops", body: .text("b\(index)")))
        }
        _ = try await alice.send(.text("a-last"), to: "#ops")
        _ = try await bob.send(.text("b-last"), to: "#ops")
        await aliceEvents.wait(for: "42 messages on a") { _ in aliceEvents.messages.count == 42 }
        await bobEvents.wait(for: "42 messages on b") { _ in bobEvents.messages.count == 42 }
        #expect(aliceEvents.messages.map(\.id) == Array(1...42))
        #expect(bobEvents.messages.map(\.id) == Array(1...42))
        #expect(aliceEvents.messages.map(\.body) == bobEvents.messages.map(\.body), "one order everywhere")
        let fromBob = bobEvents.messages.filter { $0.from == "bob" }.map(\.body)
        #expect(fromBob == (1...20).map { MessageBody.text("b\($0)") } + [.text("b-last")], "each sender's order kept")
        #expect(try await Self.count("SELECT count(DISTINCT id) FROM messages", in: cluster) == 42)
        #expect(try await Self.count("SELECT count(DISTINCT owner_id) FROM channel_leases", in: cluster) == 1)
        await alice.quit()
        await bob.quit()
        await b.stop()
        await a.stop()
    }

    @Test func serversCutOffFromEachOtherStillDeliverThroughTheDoorbell() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let a = try await Self.server(on: cluster, name: "a")
        defer { a.removeData() }
        let b = try await Self.server(on: cluster, name: "b")
        defer { b.removeData() }
        let alice = try await a.connect("alice")
        let bob = try await b.connect("bob")
        let bobEvents = EventLog(bob)
        _ = try await alice.join("#ops")
        _ = try await bob.join("#ops")
        var latencies: [Duration] = []
        for index in 1...10 {
            let sent = ContinuousClock.now
            #expect(try await alice.send(.text("m\(index)"), to: "#ops").id == UInt64(index))
            await bobEvents.wait(for: "message \(index) on b", within: .seconds(2)) { _ in
                bobEvents.messages.count == index
            }
            latencies.append(ContinuousClock.now - sent)
        }
        #expect(bobEvents.messages.map(\.id) == Array(1...10))
        #expect(latencies.max()! < .seconds(1), "within a second of the commit: \(latencies)")
        // a holds the channel's lease and b cannot reach it: b's client is told to try again, nothing is stored.
        let refusal = await #expect(throws: ProtocolError.self) { try await bob.send(.text("from b"), to: "#ops") }
        #expect(refusal?.code == .storageFailure && refusal?.message.contains("try again") == true)
        #expect(try await Self.count("SELECT count(*) FROM messages", in: cluster) == 10)
        // Once a stops (and gives its lease up), b numbers the channel, after the last committed id.
        await alice.quit()
        await a.stop()
        #expect(try await bob.send(.text("from b"), to: "#ops").id == 11)
        await bob.quit()
        await b.stop()
    }

    @Test func aServerFarBehindCatchesUpEveryMessageInOrder() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let a = try await Self.server(on: cluster, name: "a")
        defer { a.removeData() }
        let b = try await Self.server(on: cluster, name: "b")
        defer { b.removeData() }
        let alice = try await a.connect("alice", events: false)
        let bob = try await b.connect("bob")
        let bobEvents = EventLog(bob)
        _ = try await bob.join("#ops")
        // Far more than one read's page, in few batches: b, unlinked, hears a doorbell for many at once.
        for index in 1...2_500 { _ = alice.submit(.send(channel: "#ops", body: .text("m\(index)"))) }
        #expect(try await alice.send(.text("last"), to: "#ops").id == 2_501)
        await bobEvents.wait(for: "2,501 messages on b", within: .seconds(30)) { _ in
            bobEvents.messages.count == 2_501
        }
        #expect(bobEvents.messages.map(\.id) == Array(1...2_501))
        #expect(bobEvents.messages[1_499].body == .text("m1500"))
        await alice.quit()
        await bob.quit()
        await b.stop()
        await a.stop()
    }

    @Test func aMessageTheDatabaseCannotKeepIsRefusedAloneAndNotRetried() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await Self.server(on: cluster)
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        // Sent together, so they share a batch: the NUL fails alone, the others are committed.
        let before = alice.submit(.send(channel: "#ops", body: .text("before")))
        let nul = alice.submit(.send(channel: "#ops", body: .text("a\u{0}b")))
        let after = alice.submit(.send(channel: "#ops", body: .text("after")))
        #expect(try ChatConnection.sent(from: try await before.get()).id == 1)
        let refusal = await #expect(throws: ProtocolError.self) { try ChatConnection.sent(from: try await nul.get()) }
        #expect(refusal?.code == .invalidArgument && refusal?.message.contains("NUL") == true)
        #expect(try ChatConnection.sent(from: try await after.get()).id == 2)
        await alice.quit()
        await server.stop()
    }

    @Test func aLinkedServerCannotPushMessagesItDoesNotOwnOrCreateChannels() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let logs = LogCapture()
        let server = try await Self.server(on: cluster, logs: logs, linkedTo: [])
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let aliceLog = EventLog(alice)
        _ = try await alice.join("#ops")
        #expect(try await alice.send(.text("one"), to: "#ops").id == 1)
        let attacker = try await RawPeer.connect(to: server.peerAddress)
        // It claims the same store (it read the identity, as a server on the database could).
        let store = try #require(server.server.context?.servers.store)
        #expect(try await attacker.authenticate(secret: PeerAttackTests.secret, as: RawPeer.hello(store: store)))
        #expect(await eventually { server.server.linkedServers == 1 })
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "mallet", address: "6.6.6.6:6", connectedAt: .now(), clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        // The next id of a channel this server numbers, and a channel nobody made: neither is taken as pushed.
        let forged = ChatMessage(channel: "#ops", id: 2, time: .now(), from: "mallet", body: .text("forged"))
        let elsewhere = ChatMessage(channel: "#nowhere", id: 1, time: .now(), from: "mallet", body: .text("hi"))
        try await attacker.send(.message(origin: 0x6666, seq: 1, forged), .message(origin: 0x6666, seq: 2, elsewhere))
        // A channel nobody here is in: a push naming a far id must not move it on (only the store may).
        #expect(try await alice.send(.text("quiet one"), to: "#quiet").id == 1)
        let far = ChatMessage(
            channel: "#quiet", id: ProtocolLimits.maxMessageID, time: .now(), from: "mallet", body: .text("far"))
        try await attacker.send(.message(origin: 0x6666, seq: 3, far))
        #expect(try await alice.send(.text("two"), to: "#ops").id == 2, "the id was never taken")
        await aliceLog.wait(for: "alice's two messages") { _ in aliceLog.messages.count == 2 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(aliceLog.messages.map(\.body) == [.text("one"), .text("two")], "nothing forged was delivered")
        #expect(server.server.context?.channels.exists(try ChannelName(validating: "#nowhere")) == false)
        #expect(try await alice.send(.text("quiet two"), to: "#quiet").id == 2)
        let bob = try await server.connect("bob", events: false)
        let (_, replay) = try await bob.join("#quiet")
        #expect(replay.map(\.body) == [.text("quiet one"), .text("quiet two")], "the channel kept its history")
        #expect(try await Self.count("SELECT count(*) FROM messages", in: cluster) == 4)
        await bob.quit()
        await attacker.close()
        await alice.quit()
        await server.stop()
    }

    @Test func aStoreThatCannotBeUsedStopsTheStartAtOnceSayingWhy() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let started = ContinuousClock.now
        let refusal = await #expect(throws: (any Error).self) {
            _ = try await Self.server(on: cluster, database: "missing")
        }
        #expect("\(refusal.map { "\($0)" } ?? "")".contains("database \"missing\" does not exist"))
        #expect(ContinuousClock.now - started < .seconds(10), "not after the pool's retries")
    }

    /// An owner that died holds its channels until the lease runs out; then the next batch anywhere takes the
    /// channel and goes on after the last committed id.
    @Test func aDeadOwnersChannelIsTakenOnceItsLeaseRunsOut() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await Self.server(on: cluster)
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        #expect(try await alice.send(.text("one"), to: "#ops").id == 1)
        // Another server (that died without a word) holds the lease for two more seconds.
        let connection = try await cluster.connect(database: "chat")
        try await connection.query(
            "UPDATE channel_leases SET owner_id = 42, owner_name = 'gone', expires_at = now() + interval '2 seconds'",
            logger: Self.logger)
        try await connection.close()
        let refusal = await #expect(throws: ProtocolError.self) { try await alice.send(.text("two"), to: "#ops") }
        #expect(refusal?.code == .storageFailure && refusal?.message.contains("numbered by server gone") == true)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(try await alice.send(.text("two"), to: "#ops").id == 2, "taken over, after the last committed id")
        #expect(try await Self.count("SELECT count(*) FROM channel_leases WHERE owner_id = 42", in: cluster) == 0)
        await alice.quit()
        await server.stop()
    }
}
