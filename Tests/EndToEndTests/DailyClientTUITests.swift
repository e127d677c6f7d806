import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 14's bugs as a person at the terminal meets them: the real `tchat` in tmux against a real `tchatd`, the
/// screen read back with `capture-pane`.
@Suite(.serialized, .leavesNoProcess, .enabled(if: Tmux.path != nil, "tmux is not installed"))
struct DailyClientTUITests {
    static func send(_ server: String, as nick: String, _ channel: String, _ text: String) async throws {
        let send = try Child("tchat", ["send", "--server", server, "--nick", nick, channel, text])
        #expect(await send.exitStatus() == 0, "\(send.stderr)")
    }

    static func shown(_ screen: [String]) -> String { screen.joined(separator: "\n") }

    /// Runs `body` with a tchatd on free ports (its own data directory) and a tmux of its own; both are stopped and
    /// the directory removed however the body ends.
    static func withServer(
        extra: [String] = [], _ body: (_ daemon: Daemon, _ tmux: Tmux) async throws -> Void
    ) async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory, extra: extra)
        let tmux = Tmux()
        defer { tmux.stop() }
        do {
            try await body(daemon, tmux)
        } catch {
            _ = await daemon.stop()
            throw error
        }
        _ = await daemon.stop()
    }

    /// Topic, a message to nobody, /query and /close, Tab after /nick, Ctrl-C, and the headless default nick.
    @Test func commandsShowWhatTheyDid() async throws {
        try await Self.withServer { daemon, tmux in
            try tmux.start("ann", width: 80, height: 24, try TUITests.tchat(daemon.clients, nick: "ann", "lobby"))
            _ = try await tmux.waitFor("ann") { $0.contains { $0.contains("you joined #lobby") } }

            // 1. Your own topic shows in the title bar and in /topic.
            try tmux.type("ann", "/topic Welcome to the lobby")
            let (titled, screen) = try await tmux.waitFor("ann") {
                $0[row: 0].contains("#lobby · 1 member · Welcome to the lobby")
            }
            #expect(titled, "\(Self.shown(screen))")
            try tmux.type("ann", "/topic")
            #expect(
                try await tmux.waitFor("ann") { $0.contains { $0.contains("topic of #lobby: Welcome to the lobby") } }.0
            )

            // 7. A message to a nick that is not there opens nothing and says so.
            try tmux.type("ann", "/msg nosuchuser hello")
            let (refused, afterMsg) = try await tmux.waitFor("ann") {
                $0.contains { $0.contains("message to nosuchuser not sent") }
            }
            #expect(refused && !afterMsg.contains { $0.contains(" 3 nosuchuser") }, "\(Self.shown(afterMsg))")
            #expect(!afterMsg.contains { $0.contains("ann │ hello") }, "never shown as sent")
            try tmux.type("ann", "/query bob")
            #expect(
                try await tmux.waitFor("ann") {
                    $0.contains { $0.hasPrefix(" 3 bob") } && $0[row: 0].contains("bob · direct")
                }.0)
            try tmux.type("ann", "/close")
            let (closed, afterClose) = try await tmux.waitFor("ann") {
                !$0.contains { $0.hasPrefix(" 3 bob") } && $0[row: 0].contains("#lobby")
            }
            #expect(closed, "\(Self.shown(afterClose))")

            // 8. After /nick, Tab offers the others, never your old nick.
            try await Self.send(daemon.clients, as: "annabel", "lobby", "hi")
            try tmux.type("ann", "/nick annie")
            _ = try await tmux.waitFor("ann") { $0.contains { $0.contains("you are now known as annie") } }
            try tmux.run(["send-keys", "-t", "ann", "-l", "ann"])
            try tmux.keys("ann", "Tab")
            // capture-pane drops trailing spaces: "annabel: " reads "annabel:".
            let (completed, line) = try await tmux.waitFor("ann") { $0[row: 23].hasSuffix("annabel:") }
            #expect(completed, "\(Self.shown(line))")
            try tmux.keys("ann", "Tab")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try tmux.screen("ann")[23].hasSuffix("] annabel:"), "the only candidate: no old nick")

            // 9. Ctrl-C clears the line, then asks; the client is still there.
            try tmux.keys("ann", "C-c")
            try tmux.keys("ann", "C-c")
            let (asked, afterCtrlC) = try await tmux.waitFor("ann") {
                $0.contains { $0.contains("press Ctrl-C again to quit") }
            }
            #expect(asked && afterCtrlC[row: 23] == "[#lobby]", "\(Self.shown(afterCtrlC))")

            // The README's headless command works while the chat holds the nick: it takes annie-send.
            let send = try Child(
                "tchat", ["send", "--server", daemon.clients, "lobby", "from a script"],
                environment: ["TCHAT_NICK": "annie"])
            #expect(await send.exitStatus() == 0, "\(send.stderr)")
            #expect(try await tmux.waitFor("ann") { $0.contains { $0.contains("annie-send │ from a script") } }.0)
            try tmux.type("ann", "/quit")
        }
    }

    /// /away: the other side is told when writing, and sees it in /whois.
    @Test func awayIsToldToWhoeverWrites() async throws {
        try await Self.withServer { daemon, tmux in
            try tmux.start("ann", width: 80, height: 24, try TUITests.tchat(daemon.clients, nick: "ann", "lobby"))
            try tmux.start("bob", width: 80, height: 24, try TUITests.tchat(daemon.clients, nick: "bob", "lobby"))
            for name in ["ann", "bob"] {
                _ = try await tmux.waitFor(name) { $0.contains { $0.contains("you joined #lobby") } }
            }
            try tmux.type("ann", "/away at lunch")
            let (marked, annScreen) = try await tmux.waitFor("ann") { $0[row: 22].hasPrefix(" [ann (away)]") }
            #expect(marked, "\(Self.shown(annScreen))")
            try tmux.type("bob", "/msg ann are you there?")
            let (told, bobScreen) = try await tmux.waitFor("bob") {
                $0.contains { $0.contains("ann is away: at lunch") } && $0[row: 0].contains("ann · direct")
            }
            #expect(told, "\(Self.shown(bobScreen))")
            try tmux.type("bob", "/whois ann")
            #expect(
                try await tmux.waitFor("bob") {
                    $0.contains { $0.contains("away: at lunch") && !$0.contains("is away") }
                }.0
            )
            try tmux.type("ann", "/away")
            #expect(try await tmux.waitFor("ann") { $0[row: 22].hasPrefix(" [ann] ") }.0)
            try tmux.type("ann", "/quit")
            try tmux.type("bob", "/quit")
        }
    }

    /// 3 and 6. Thirty messages at 80×24: PgUp never shows an empty pane, the bar has its own row.
    @Test func pagingStaysInsideTheHistory() async throws {
        try await Self.withServer { daemon, tmux in
            let lines = (1...30).map { "message \($0)" }.joined(separator: "\n") + "\n"
            let send = try Child(
                "tchat", ["send", "--server", daemon.clients, "--nick", "bob", "ops"], stdin: lines)
            #expect(await send.exitStatus() == 0)
            try tmux.start("ann", width: 80, height: 24, try TUITests.tchat(daemon.clients, nick: "ann", "ops"))
            _ = try await tmux.waitFor("ann") { $0.contains { $0.contains("message 30") } }
            try tmux.keys("ann", "PPage")
            let (barShown, first) = try await tmux.waitFor("ann") { $0[row: 21].contains("End returns to live") }
            #expect(barShown, "\(Self.shown(first))")
            #expect(first[row: 20].contains("message "), "the row above the bar is a whole message: \(first[row: 20])")
            try tmux.keys("ann", "PPage")
            try tmux.keys("ann", "PPage")
            // Judged once drawn: a capture taken while curses repaints may catch a row between its clear and text.
            func blankRows(_ screen: [String]) -> Bool {
                (1...20).map { screen[row: $0] }.map { String($0.dropFirst(12)).trimmingCharacters(in: .whitespaces) }
                    .contains { $0 == "│" || $0.isEmpty }
            }
            let (atTop, top) = try await tmux.waitFor("ann") {
                ($0[row: 1].contains("you joined #ops") || $0[row: 1].contains("message 1")
                    || $0[row: 1].contains("no older messages in #ops")) && !blankRows($0)
            }
            #expect(atTop, "at the top, no blank rows:\n\(Self.shown(top))")
            try tmux.keys("ann", "End")
            let (live, end) = try await tmux.waitFor("ann") {
                $0.contains { $0.contains("message 30") } && !$0[row: 21].contains("End returns to live")
            }
            #expect(live, "\(Self.shown(end))")
            try tmux.type("ann", "/quit")
        }
    }

    /// 4. Forty-two entries at 80×24: a mention in an entry out of sight is marked and listed.
    @Test func activityOutOfSightShows() async throws {
        // 41 channels made by one address: more than --create-burst allows by default.
        try await Self.withServer(extra: ["--create-rate", "0"]) { daemon, tmux in
            let channels = (1...41).map { "room\($0)" }
            let joins = channels.map { "--join \($0)" }.joined(separator: " ")
            try tmux.start(
                "ann", width: 80, height: 24,
                "env -u NO_COLOR TERM=screen-256color \(try Binaries.path("tchat")) --server \(daemon.clients) --nick ann "
                    + joins)
            let (all, joined) = try await tmux.waitFor("ann", within: .seconds(20)) {
                $0[row: 21].hasPrefix(" ↓ 22 more")
            }
            #expect(all, "\(Self.shown(joined))")
            try await Self.send(daemon.clients, as: "bob", "room39", "ann: over here")
            let (marked, screen) = try await tmux.waitFor("ann") {
                $0[row: 21].hasPrefix(" ↓ 22 more") && $0[row: 21].contains("1!") && $0[row: 22].contains("Act: 40!")
            }
            #expect(marked, "\(Self.shown(screen))")
            try tmux.keys("ann", "M-a")
            let (there, after) = try await tmux.waitFor("ann") {
                $0[row: 0].hasPrefix(" #room39") && $0.contains { $0.contains("ann: over here") }
            }
            #expect(there, "\(Self.shown(after))")
            #expect(after[row: 1].hasPrefix(" ↑ "), "entries above are marked now: \(after[row: 1])")
            try tmux.type("ann", "/quit")
        }
    }

    /// 5. A 200,000-character paste goes out as several messages, in order; nobody is disconnected.
    @Test func aHugePasteArrivesWholeInOrder() async throws {
        try await Self.withServer { daemon, tmux in
            let listener = try Child("tchat", ["listen", "--server", daemon.clients, "--nick", "watcher", "ops"])
            defer { listener.signal(SIGTERM) }
            try tmux.start("ann", width: 80, height: 24, try TUITests.tchat(daemon.clients, nick: "ann", "ops"))
            _ = try await tmux.waitFor("ann") { $0.contains { $0.contains("you joined #ops") } }
            let text = (0..<20_000).map { String(format: "%09d", $0) }.joined(separator: " ").prefix(200_000)
            let file = daemon.directory + "/paste.txt"
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            try tmux.run(["load-buffer", "-b", "big", file])
            try tmux.run(["paste-buffer", "-p", "-b", "big", "-t", "ann"])
            try await Task.sleep(for: .milliseconds(500))
            try tmux.keys("ann", "Enter")
            func received() -> [String] {
                listener.lines.compactMap { line in
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        object["type"] as? String == "message", object["from"] as? String == "ann"
                    else { return nil }
                    return object["body"] as? String
                }
            }
            let arrived = await listener.waitForOutput(within: .seconds(30)) { _ in
                received().reduce(0) { $0 + $1.count } >= 199_000
            }
            let bodies = received()
            #expect(arrived && bodies.count >= 3, "\(bodies.count) messages")
            #expect(bodies.joined(separator: " ") == String(text), "in order, nothing lost")
            let screen = try tmux.screen("ann")
            #expect(screen[row: 22].contains("● connected"), "\(Self.shown(screen))")
            try tmux.type("ann", "/quit")
        }
    }

    /// 2. Messages missed during an outage count in the sidebar when they arrive as the rejoin's replay.
    @Test func messagesMissedDuringAnOutageCount() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await Daemon(directory: directory)
        let port = String(first.clients.split(separator: ":").last!)
        let tmux = Tmux()
        defer { tmux.stop() }
        try tmux.start("ann", width: 80, height: 24, try TUITests.tchat(first.clients, nick: "ann", "a", "b"))
        _ = try await tmux.waitFor("ann") { $0.contains { $0.hasPrefix(" 3 #b") } && $0[row: 0].hasPrefix(" #a") }
        try await Self.send(first.clients, as: "bob", "b", "before")
        _ = try await tmux.waitFor("ann") { $0.contains { $0.hasPrefix(" 3 #b") && $0.contains("1│") } }
        await first.kill()
        _ = try await tmux.waitFor("ann") { $0[row: 22].contains("reconnecting") || $0[row: 22].contains("connecting") }
        // Long enough that the client's next attempt is seconds away, so what is sent now is missed, not live.
        try await Task.sleep(for: .seconds(3))
        var restarted: Daemon?
        for _ in 0..<20 where restarted == nil {
            restarted = try? await Daemon(directory: directory, port: port)
            if restarted == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let second = try #require(restarted)
        try await Self.send(second.clients, as: "bob", "b", "during")
        try await Self.send(second.clients, as: "bob", "b", "ann: did you see this?")
        let (counted, screen) = try await tmux.waitFor("ann", within: .seconds(30)) {
            $0[row: 22].contains("● connected") && $0.contains { $0.hasPrefix(" 3 #b") && $0.contains("3!│") }
        }
        #expect(counted, "\(Self.shown(screen))")
        let outage = screen.filter { $0.contains("disconnected:") }
        #expect(outage.count == 1, "one line per outage:\n\(Self.shown(screen))")
        try tmux.type("ann", "/quit")
        _ = await second.stop()
    }
}

extension Array where Element == String {
    /// A row of a captured screen, empty past its end (a capture of a tmux that is gone has no rows).
    subscript(row index: Int) -> String { indices.contains(index) ? self[index] : "" }
}
