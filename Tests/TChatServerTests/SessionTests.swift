import Foundation
import NIOCore
import Synchronization
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// `ChatSession` against real servers that go away and come back.
@Suite struct SessionTests {
    /// Every event a session emitted, and the channel message ids it delivered (joined replays, live, history).
    final class Recorder: Sendable {
        let events = Mutex<[SessionEvent]>([])

        func record(_ event: SessionEvent) { events.withLock { $0.append(event) } }

        var ids: [UInt64] {
            events.withLock { events in
                events.flatMap { event -> [UInt64] in
                    switch event {
                    case .joined(_, let replay): replay.map(\.id)
                    case .event(.message(let message)): [message.id]
                    case .history(_, let messages, _): messages.map(\.id)
                    default: []
                    }
                }
            }
        }

        func count(where matches: (SessionEvent) -> Bool) -> Int { events.withLock { $0.filter(matches).count } }
    }

    @Test func aRestartedServerIsRejoinedAndTheGapFilledWithoutRepeats() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await TestServer(directory: directory)
        let port = first.address.port
        let recorder = Recorder()
        var options = ConnectOptions(server: first.address, nick: "watcher")
        options.keepAlive = nil
        // A first retry after 3 s leaves time to send what the session must catch up on.
        let session = ChatSession(
            options: options, channels: ["#ops"], initialHistory: 0,
            backoff: Backoff(initial: .seconds(3), maximum: .seconds(3), jitter: 0), onEvent: recorder.record)
        let running = Task { await session.run() }
        #expect(await eventually { recorder.count { if case .joined = $0 { true } else { false } } == 1 })

        let sender = try await first.connect("sender", events: false)
        for index in 1...3 { try await sender.send(.text("before \(index)"), to: "#ops") }
        #expect(await eventually { recorder.ids.count == 3 })
        await first.stop()
        #expect(
            await eventually { recorder.count { if case .disconnected(_, .some) = $0 { true } else { false } } >= 1 })

        // Back on the same port and data; 1,200 messages arrive before the session is back (more than one replay).
        let second = try await TestServer.restarted(in: directory, port: port)
        let again = try await second.connect("sender", events: false)
        var pending: [EventLoopFuture<[ServerFrame]>] = []
        for index in 4...1203 {
            pending.append(again.submit(.send(channel: "#ops", body: .text("while away \(index)"))))
        }
        for future in pending { _ = try await future.get() }
        #expect(recorder.count { if case .connected = $0 { true } else { false } } == 1, "sent before the retry")

        #expect(await eventually(within: .seconds(15)) { recorder.ids.count >= 1203 }, "got \(recorder.ids.count)")
        try await again.send(.text("live again"), to: "#ops")
        #expect(await eventually { recorder.ids.count == 1204 })
        let ids = recorder.ids
        #expect(Set(ids).count == ids.count, "no message was delivered twice")
        #expect(Set(ids) == Set(1...1204))
        #expect(recorder.count { if case .connected = $0 { true } else { false } } == 2)
        // One replay holds at most 1,000: the rest of the gap came by paging back through history.
        #expect(recorder.count { if case .history(_, let messages, 0) = $0 { !messages.isEmpty } else { false } } >= 1)
        session.submit(.quit(reason: "done"))
        await running.value
        await second.stop()
    }
}
