import Foundation
import TChatClient
import TChatPostgres
import TChatProtocol
import TChatTestSupport
import Testing

@testable import TChatServer

/// A server that loses PostgreSQL while a linked server keeps it: it stops taking clients, sends the ones it has
/// to the linked server, and takes clients again once the database is back.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresOutageRedirectTests {
    @Test func aServerThatLosesTheStoreSendsItsClientsToOneThatHasIt() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        // A reaches the database through a relay the test cuts; B directly.
        let relay = try await CuttableProxy(to: cluster.port)
        let a = try await PostgresStoreTests.server(on: cluster, name: "A", linkedTo: [], port: relay.port) {
            $0.heartbeat = .milliseconds(200)
        }
        defer { a.removeData() }
        let b = try await PostgresStoreTests.server(on: cluster, name: "B", linkedTo: [a.peerAddress]) {
            $0.heartbeat = .milliseconds(200)
        }
        defer { b.removeData() }
        #expect(await NetworkTests.linked([a, b]))

        let recorder = SessionTests.Recorder()
        var options = ConnectOptions(server: a.address, nick: "mover")
        options.keepAlive = nil
        let session = ChatSession(
            options: options, channels: ["#ops"], initialHistory: 0,
            backoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(200), jitter: 0),
            onEvent: recorder.record)
        let running = Task { await session.run() }
        #expect(await eventually { recorder.count { if case .joined = $0 { true } else { false } } == 1 })
        let writer = try await b.connect("writer")
        let writerEvents = EventLog(writer)
        _ = try await writer.join("#ops")
        _ = try await writer.send(.text("one"), to: "#ops")
        #expect(await eventually { recorder.ids == [1] })

        relay.cut()
        // A finds the database gone although nobody on it sends, stops taking clients, and after its grace sends
        // the session away; the session comes back to A, which redirects it to B.
        #expect(await eventually { !a.server.takesClients }, "A noticed")
        #expect(await eventually { b.server.peerLoads.contains { $0.name == "A" && $0.capacity == 0 } })
        let newcomer = try await a.connect("newcomer", events: false)
        #expect(newcomer.welcome.serverName == "B", "a new client is sent to B at once")
        _ = try await writer.send(.text("two"), to: "#ops")
        #expect(await eventually { recorder.ids == [1, 2] }, "A still delivers what B pushes")
        let servedBy = {
            recorder.events.withLock { events in
                events.compactMap { if case .connected(let welcome) = $0 { welcome.serverName } else { nil } }
            }
        }
        #expect(
            await eventually(within: .seconds(20)) { servedBy().last == "B" },
            "the session was sent from A to B: \(servedBy())")
        #expect(servedBy().first == "A")
        session.submit(.send(channel: "#ops", body: .text("three")))
        await writerEvents.wait(for: "three, from the moved session") { _ in
            writerEvents.messages.contains { $0.from == "mover" && $0.body == .text("three") }
        }

        // The database back: A takes clients again.
        relay.mend()
        #expect(await eventually(within: .seconds(10)) { a.server.takesClients })
        #expect(await eventually { b.server.peerLoads.contains { $0.name == "A" && $0.capacity > 0 } })
        let late = try await a.connect("late", events: false)
        #expect(late.welcome.serverName == "A")

        session.submit(.quit(reason: ""))
        await running.value
        await newcomer.quit()
        await late.quit()
        await writer.quit()
        await NetworkTests.stop([b, a])
        await relay.stop()
    }
}
