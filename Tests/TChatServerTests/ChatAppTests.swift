import Foundation
import Synchronization
import TChatClient
import TChatProtocol
import TChatTUI
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The full-screen client's real event loop, with keys from a pipe and a terminal that records its frames.
@Suite struct ChatAppTests {
    @Test func keysAndServerEventsReachTheScreenAndQuitRestoresTheTerminal() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let terminal = RecordingTerminal(width: 80, height: 24)
        var keys: [Int32] = [0, 0]
        #expect(pipe(&keys) == 0)
        defer { close(keys[1]) }
        let options = ConnectOptions(server: server.address, nick: "looper")
        let ui = ChatUI(nick: "looper", serverAddress: server.address.description, clock: .utc)
        let input = keys[0]
        let finished = Flag()
        // The loop blocks its thread, as it does the main thread of tchat.
        let thread = Thread {
            let app = ChatApp(
                ui: ui, session: { ChatSession(options: options, channels: ["#ops"], onEvent: $0) }, input: input,
                routeSignals: false, makeTerminal: { terminal })
            app.run()
            finished.set()
        }
        thread.start()
        func screen() -> [String] { terminal.lastFrame?.lines ?? [] }
        func type(_ text: String) {
            _ = text.utf8CString.withUnsafeBufferPointer { write(keys[1], $0.baseAddress, $0.count - 1) }
        }

        #expect(await eventually { screen().contains { $0.contains("you joined #ops") } }, "\(screen())")
        let other = try await server.connect("other")
        let events = EventLog(other)
        _ = try await other.join("#ops", history: 0)
        type("hello from the loop\r")
        await events.wait(for: "the typed line") { _ in
            events.messages.contains { $0.body == .text("hello from the loop") }
        }
        try await other.send(.text("looper: ping"), to: "#ops")
        #expect(await eventually { screen().contains { $0.contains("other │ looper: ping") } })
        #expect(terminal.bells == 1, "a mention rings once")
        let framesBefore = terminal.frames.count
        try await Task.sleep(for: .milliseconds(1200))
        #expect(terminal.frames.count - framesBefore <= 3, "an idle screen is not redrawn over and over")
        type("\u{0C}")  // Ctrl-L
        #expect(await eventually { terminal.invalidations == 1 })
        type("/quit done\r")
        #expect(await eventually { finished.isSet })
        #expect(terminal.ended, "the terminal is restored on the way out")
        await events.wait(for: "the quit") { frames in
            frames.contains { if case .quitted("looper", "done", _) = $0 { true } else { false } }
        }
        await server.stop()
    }
}

/// A flag one thread sets and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
