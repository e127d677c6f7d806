import Foundation
import TChatClient
import TChatPostgres
import TChatProtocol
import TChatTestSupport
import Testing

@testable import TChatServer

/// With the store numbering, an owner pushes a committed message only over links with members of its channel
/// behind them (and to the server whose forward it answers), as an IRC server routes a channel's messages: a server
/// with nobody in a channel is moved on by the doorbell and reads what a join wants from the store.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresPushTests {
    @Test func committedMessagesGoOnlyToServersWithMembersInTheChannel() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let server = try await PostgresStoreTests.server(on: cluster, linkedTo: [])
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.join("#ops")
        let peer = try await RawPeer.connect(to: server.peerAddress)
        let store = try #require(server.server.context?.servers.store)
        #expect(try await peer.authenticate(secret: PeerAttackTests.secret, as: RawPeer.hello(store: store)))
        #expect(await eventually { server.server.linkedServers == 1 })
        func pushed(after index: Int, _ body: String) -> Bool {
            peer.received(after: index) { frame in
                if case .message(_, _, let message) = frame { message.body == .text(body) } else { false }
            }
        }
        // Nobody behind the link is in #ops: nothing is pushed.
        var mark = peer.frameCount
        _ = try await alice.send(.text("alone"), to: "#ops")
        try await Task.sleep(for: .milliseconds(300))
        #expect(!pushed(after: mark, "alone"))
        // One of its clients joins: from then on every message is pushed, once.
        try await peer.send(
            .clientAdded(
                RemoteClient(
                    nick: "zed", address: "127.0.0.9:9", connectedAt: .now(), clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)),
            .joined(channel: "#ops", nick: "zed", time: .now()))
        #expect(
            await eventually {
                server.server.context?.channels.remoteMembers(of: try! ChannelName(validating: "#ops")) == ["zed"]
            })
        mark = peer.frameCount
        _ = try await alice.send(.text("with zed"), to: "#ops")
        #expect(await eventually { pushed(after: mark, "with zed") })
        // It leaves: nothing more.
        try await peer.send(.parted(channel: "#ops", nick: "zed", reason: "", time: .now()))
        #expect(
            await eventually {
                server.server.context?.channels.remoteMembers(of: try! ChannelName(validating: "#ops")) == []
            })
        mark = peer.frameCount
        _ = try await alice.send(.text("after zed"), to: "#ops")
        try await Task.sleep(for: .milliseconds(300))
        #expect(!pushed(after: mark, "after zed"))
        await peer.close()
        await alice.quit()
        await server.stop()
    }

    /// A join on a server the owner has not yet heard of (its messages are not pushed there yet) loses nothing:
    /// the join reads from the store, and the doorbell and the first push's gap bring in what came between.
    @Test func aClientJoiningWhileAnotherServerSendsMissesNothing() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let (a, b) = try await PostgresStoreTests.linkedPair(on: cluster)
        defer {
            a.removeData()
            b.removeData()
        }
        let alice = try await a.connect("alice", events: false)
        _ = try await alice.join("#ops")
        let sending = Task {
            for index in 1...400 {
                _ = try await alice.send(.text("m\(index)"), to: "#ops")
                if index % 20 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        var bobs: [ChatConnection] = []
        var logs: [EventLog] = []
        var replays: [[ChatMessage]] = []
        // Several joins spread over the sending, each a new member on b.
        for index in 0..<4 {
            let bob = try await b.connect("bob\(index)")
            let log = EventLog(bob)
            let (_, replay) = try await bob.join("#ops", history: 1_000)
            bobs.append(bob)
            logs.append(log)
            replays.append(replay)
            try await Task.sleep(for: .milliseconds(40))
        }
        try await sending.value
        for (index, log) in logs.enumerated() {
            await log.wait(for: "bob\(index) up to 400", within: .seconds(10)) { _ in
                log.messages.last?.id == 400
            }
            let ids = replays[index].map(\.id) + log.messages.map(\.id)
            let first = try #require(ids.first)
            #expect(ids == Array(first...400), "bob\(index) saw every message once, in order")
        }
        for bob in bobs { await bob.quit() }
        await alice.quit()
        await NetworkTests.stop([b, a])
    }
}
