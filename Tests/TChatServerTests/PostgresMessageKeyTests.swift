import Foundation
import TChatClient
import TChatPostgres
import TChatProtocol
import TChatTestSupport
import Testing

@testable import TChatServer

/// SEND_ONCE with `--store postgres://`: the store keeps one message per channel, sender and key, so a resend after
/// an unsure answer (a lost connection, "may or may not have been stored") is answered with the first one's id and
/// delivered to nobody twice, on the server that numbers the channel and through a forward from another.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresMessageKeyTests {
    @Test func aResendWithItsKeyIsStoredOnceAndAnsweredWithTheFirstID() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await PostgresStoreTests.server(on: cluster)
        defer { server.removeData() }
        var alice = try await server.connect("alice")
        let bob = try await server.connect("bob")
        let bobEvents = EventLog(bob)
        _ = try await bob.join("#ops")
        let first = try await alice.send(.text("deploy at noon"), to: "#ops", key: "k-1")
        #expect(first.id == 1)
        let again = try await alice.send(.text("deploy at noon"), to: "#ops", key: "k-1")
        #expect(again.id == 1 && again.time == first.time, "a resend is answered with the first one")
        // Two at once, most likely in one batch: one is stored, both hear its id.
        let sender = alice
        async let one = sender.send(.text("twice"), to: "#ops", key: "k-2")
        async let two = sender.send(.text("twice"), to: "#ops", key: "k-2")
        let (a, b) = try await (one, two)
        #expect(a.id == 2 && b.id == 2)
        // From a new connection, as after a lost one.
        await alice.quit()
        alice = try await server.connect("alice")
        #expect(try await alice.send(.text("deploy at noon"), to: "#ops", key: "k-1").id == 1)
        // Keys are the sender's own: another nick's k-1 is another message.
        #expect(try await bob.send(.text("mine"), to: "#ops", key: "k-1").id == 3)
        #expect(try await alice.send(.text("plain"), to: "#ops").id == 4)
        await bobEvents.wait(for: "4 messages") { _ in bobEvents.messages.count == 4 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(bobEvents.messages.map(\.id) == [1, 2, 3, 4], "nobody got a resend delivered")
        #expect(try await PostgresStoreTests.count("SELECT count(*) FROM messages", in: cluster) == 4)
        #expect(
            try await PostgresStoreTests.count("SELECT count(*) FROM messages WHERE client_id = 'k-1'", in: cluster)
                == 2)
        // A key used again for another message is refused, not answered with the first one's id.
        let reused = await #expect(throws: ProtocolError.self) {
            _ = try await alice.send(.text("something else"), to: "#ops", key: "k-1")
        }
        #expect(reused?.code == .invalidArgument)
        // A key that is not one is refused.
        let refusal = await #expect(throws: ProtocolError.self) {
            _ = try await alice.send(.text("x"), to: "#ops", key: "has space")
        }
        #expect(refusal?.code == .invalidArgument)
        await alice.quit()
        await bob.quit()
        await server.stop()
    }

    @Test func aResendForwardedFromAnotherServerIsStoredOnce() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let (a, b) = try await PostgresStoreTests.linkedPair(on: cluster)
        defer {
            a.removeData()
            b.removeData()
        }
        let alice = try await a.connect("alice")
        let aliceEvents = EventLog(alice)
        _ = try await alice.join("#ops")
        #expect(try await alice.send(.text("first"), to: "#ops").id == 1, "a numbers #ops")
        // bob's messages go through a: b forwards them with their key.
        let bob = try await b.connect("bob")
        let sent = try await bob.send(.text("from b"), to: "#ops", key: "b-1")
        #expect(sent.id == 2)
        let resent = try await bob.send(.text("from b"), to: "#ops", key: "b-1")
        #expect(resent.id == 2 && resent.time == sent.time)
        #expect(try await bob.send(.text("next"), to: "#ops", key: "b-2").id == 3)
        await aliceEvents.wait(for: "3 messages") { _ in aliceEvents.messages.count == 3 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(aliceEvents.messages.map(\.id) == [1, 2, 3])
        #expect(try await PostgresStoreTests.count("SELECT count(*) FROM messages", in: cluster) == 3)
        await alice.quit()
        await bob.quit()
        await NetworkTests.stop([b, a])
    }

    @Test func aServerWithoutTheStoreRefusesKeysSayingSo() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let refusal = await #expect(throws: ProtocolError.self) {
            _ = try await alice.send(.text("x"), to: "#ops", key: "k-1")
        }
        #expect(refusal?.code == .invalidArgument && refusal?.message.contains("--store") == true)
        #expect(try await alice.send(.text("x"), to: "#ops").id == 1, "SEND still works")
        await alice.quit()
        await server.stop()
    }
}

extension PostgresMessageKeyTests {
    /// What `tchat send --once` does: SEND_ONCEs pipelined, and what the store could not keep while it was down sent
    /// again with the same keys until it is back. Every message is stored exactly once.
    @Test func keyedMessagesSentThroughAnOutageAreStoredExactlyOnce() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await PostgresStoreTests.server(on: cluster)
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        let sender = PipelinedSender(
            connection: alice, window: 16, firstPause: .milliseconds(100), longestPause: .milliseconds(500),
            storeOutage: .seconds(30))
        let total = 300
        let outage = Task {
            try await Task.sleep(for: .milliseconds(300))
            try cluster.stopServer()
            try await Task.sleep(for: .seconds(2))
            try cluster.startServer()
        }
        for index in 1...total {
            try await sender.submit(.sendOnce(channel: "#ops", key: "m\(index)", body: .text("m\(index)")))
            try await Task.sleep(for: .milliseconds(10))
        }
        try await sender.finish()
        try await outage.value
        #expect(sender.resent > 0, "the outage refused some, which were sent again")
        #expect(try await PostgresStoreTests.count("SELECT count(*) FROM messages", in: cluster) == total)
        #expect(try await PostgresStoreTests.count("SELECT count(DISTINCT body) FROM messages", in: cluster) == total)
        await alice.quit()
        await server.stop()
    }
}
