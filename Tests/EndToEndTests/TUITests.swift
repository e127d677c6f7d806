import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A tmux server of our own (its own socket), running real `tchat` full-screen clients.
final class Tmux: Sendable {
    static let path = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    let socket = "tchat-test-\(UUID().uuidString.prefix(8))"

    /// Runs a tmux command and returns what it printed. Spawned directly and reaped with `waitpid`: the client that
    /// starts the tmux server exits at once while the server lives on, which Foundation's `Process` did not notice.
    /// That server gets /dev/null rather than our pipe, or reading the pipe to its end would never finish.
    @discardableResult
    func run(_ arguments: [String], startsServer: Bool = false) throws -> String {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw ProcessError("pipe failed") }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if startsServer {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        }
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        // Nothing else of ours: sockets are not close-on-exec, and a tmux server would hold a test's connections
        // open for as long as it lives.
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap {
            Int32($0)
        }
        for descriptor in open where descriptor > 2 && !pipeEnds.contains(descriptor) {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        let argv = ([Self.path!, "-L", socket] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The test process blocks most signals (its runtime takes them by other means), and a spawned process
        // inherits the mask: a tmux server started with it, and every pane under it, would never see the SIGHUP of
        // `kill-server` and would outlive the test. Every spawn starts with nothing blocked and default handlers.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        // Marked, so a tmux server or pane left behind is found (`TestProcesses`).
        let environment = TestProcesses.environment().map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in environment { free(pointer) } }
        let spawned = posix_spawn(&pid, Self.path!, &actions, &attributes, argv, environment)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard spawned == 0 else { throw ProcessError("cannot run tmux: \(spawned)") }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &chunk, chunk.count)
            if count <= 0 { break }
            output += chunk[0..<count]
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return String(decoding: output, as: UTF8.self)
    }

    /// Starts `command` in a new detached session (window) named `name`.
    func start(_ name: String, width: Int = 100, height: Int = 30, _ command: String) throws {
        try run(
            ["new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", command + "; sleep 30"],
            startsServer: true)
    }

    func keys(_ name: String, _ keys: String...) throws { try run(["send-keys", "-t", name] + keys) }

    func type(_ name: String, _ text: String) throws {
        try run(["send-keys", "-t", name, "-l", text])
        try run(["send-keys", "-t", name, "Enter"])
    }

    func screen(_ name: String) throws -> [String] {
        try run(["capture-pane", "-p", "-t", name]).split(separator: "\n", omittingEmptySubsequences: false).map(
            String.init)
    }

    func resize(_ name: String, width: Int, height: Int) throws {
        try run(["resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)"])
    }

    /// Waits until the screen satisfies `condition`; the last screen is returned either way.
    func waitFor(_ name: String, within timeout: Duration = .seconds(10), _ condition: ([String]) -> Bool) async throws
        -> (Bool, [String])
    {
        let deadline = ContinuousClock.now + timeout
        var lines = try screen(name)
        while ContinuousClock.now < deadline {
            if condition(lines) { return (true, lines) }
            try await Task.sleep(for: .milliseconds(20))
            lines = try screen(name)
        }
        return (condition(lines), lines)
    }

    /// Ends the tmux server and every client in it, and removes its socket.
    func stop() {
        _ = try? run(["kill-server"])
        try? FileManager.default.removeItem(atPath: "/tmp/tmux-\(getuid())/\(socket)")
    }
}

@Suite(.serialized, .leavesNoProcess, .enabled(if: Tmux.path != nil, "tmux is not installed"))
struct TUITests {
    static func tchat(_ server: String, nick: String, _ channels: String...) throws -> String {
        let joins = channels.map { "--join \($0)" }.joined(separator: " ")
        return
            "env -u NO_COLOR TERM=screen-256color \(try Binaries.path("tchat")) --server \(server) --nick \(nick) \(joins)"
    }

    @Test func aLineTypedInOneClientAppearsOnTheOther() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let tmux = Tmux()
        defer { tmux.stop() }
        try tmux.start("alice", try Self.tchat(daemon.clients, nick: "alice", "ops"))
        try tmux.start("bob", try Self.tchat(daemon.clients, nick: "bob", "ops"))
        for name in ["alice", "bob"] {
            let (joined, screen) = try await tmux.waitFor(name) { $0.contains { $0.contains("you joined #ops") } }
            #expect(joined, "\(name): \(screen.joined(separator: "\n"))")
        }
        try tmux.type("alice", "hello from alice, 日本語 ok")
        let (seen, screen) = try await tmux.waitFor("bob") {
            $0.contains { $0.contains("alice │ hello from alice, 日本語 ok") }
        }
        #expect(seen, "\(screen.joined(separator: "\n"))")
        #expect(screen[0].hasPrefix(" #ops · 2 members"), "\(screen[0])")
        // The sender sees its own line once, and its cursor is back at the empty input line.
        let (echoed, own) = try await tmux.waitFor("alice") { $0.contains { $0.contains("alice │ hello from alice") } }
        #expect(echoed && own.filter { $0.contains("hello from alice") }.count == 1)
        #expect(try tmux.run(["display", "-p", "-t", "alice", "#{cursor_x} #{cursor_y}"]).hasPrefix("7 29"))
        try tmux.type("alice", "/quit")
        _ = await daemon.stop()
    }

    @Test func functionKeysAndAltDigitsSwitchAndUnreadCountsClear() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let tmux = Tmux()
        defer { tmux.stop() }
        try tmux.start("me", try Self.tchat(daemon.clients, nick: "me", "a", "b"))
        _ = try await tmux.waitFor("me") {
            $0.contains { $0.contains("you joined #b") } || $0.contains { $0.hasPrefix(" 3 #b") }
        }
        let (onA, _) = try await tmux.waitFor("me") { $0.first?.hasPrefix(" #a") == true }
        #expect(onA, "the first channel joined is shown")
        let send = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "other", "b", "one", "for", "b"])
        #expect(await send.exitStatus() == 0)
        let (counted, screen) = try await tmux.waitFor("me") {
            $0.contains { $0.hasPrefix(" 3 #b") && $0.contains(" 1│") }
        }
        #expect(counted, "\(screen.joined(separator: "\n"))")
        try tmux.keys("me", "F3")
        // Waits for the whole switch: a capture can land while curses is still writing the screen out.
        let (switched, after) = try await tmux.waitFor("me") {
            $0.first?.hasPrefix(" #b") == true && $0.contains { $0.contains("other │ one for b") }
                && $0.contains { $0.hasPrefix(" 3 #b") && !$0.contains(" 1│") }
        }
        #expect(switched && after.contains { $0.contains("other │ one for b") }, "\(after.joined(separator: "\n"))")
        #expect(after.contains { $0.hasPrefix(" 3 #b") && !$0.contains(" 1│") }, "the count cleared")
        try tmux.keys("me", "M-2")
        #expect(try await tmux.waitFor("me") { $0.first?.hasPrefix(" #a") == true }.0)
        try tmux.keys("me", "F1")
        #expect(
            try await tmux.waitFor("me") {
                $0.last(where: { !$0.isEmpty })?.hasPrefix("[") == true && $0.first?.contains("tchat") == true
            }.0)
        try tmux.type("me", "/quit")
        _ = await daemon.stop()
    }

    @Test func resizingRelaysTheScreenWithNothingLeftOver() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let tmux = Tmux()
        defer { tmux.stop() }
        try tmux.start("me", width: 120, height: 40, try Self.tchat(daemon.clients, nick: "me", "ops"))
        _ = try await tmux.waitFor("me") { $0.contains { $0.contains("you joined #ops") } }
        let long = String(repeating: "word ", count: 40)
        let send = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "other", "ops", long])
        #expect(await send.exitStatus() == 0)
        _ = try await tmux.waitFor("me") { $0.contains { $0.contains("other │") } }
        for (width, height) in [(60, 15), (120, 40)] {
            try tmux.resize("me", width: width, height: height)
            let (laidOut, screen) = try await tmux.waitFor("me") { lines in
                lines.count >= height && lines[height - 2].contains("● connected")
                    && lines[height - 2].hasSuffix("2:#ops")
                    && lines[0].hasPrefix(" #ops")
            }
            #expect(laidOut, "\(width)x\(height):\n\(screen.joined(separator: "\n"))")
            // Nothing of the other size is left behind: no row is wider than the screen, rows below are empty.
            for line in screen.prefix(height) { #expect(line.count <= width, "\(line)") }
            let below = screen.dropFirst(height).filter { !$0.isEmpty }
            #expect(below.isEmpty)
            // Under 70 columns the sidebar shows entry numbers only.
            let entry = width < 70 ? " 2  │" : " 2 #ops"
            let sidebar = screen.dropFirst().prefix(height - 3).filter { $0.hasPrefix(entry) }
            #expect(sidebar.count == 1, "\(screen.joined(separator: "\n"))")
        }
        try tmux.type("me", "/quit")
        _ = await daemon.stop()
    }

    @Test func aRestartedServerIsReconnectedToWithoutDuplicatedLines() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await Daemon(directory: directory)
        let port = String(first.clients.split(separator: ":").last!)
        let tmux = Tmux()
        defer { tmux.stop() }
        try tmux.start("me", try Self.tchat(first.clients, nick: "me", "ops"))
        _ = try await tmux.waitFor("me") { $0.contains { $0.contains("you joined #ops") } }
        let before = try Child(
            "tchat", ["send", "--server", first.clients, "--nick", "other", "ops", "before the restart"])
        #expect(await before.exitStatus() == 0)
        _ = try await tmux.waitFor("me") { $0.contains { $0.contains("before the restart") } }

        await first.kill()
        let (lost, screen) = try await tmux.waitFor("me") { $0.contains { $0.contains("reconnecting in") } }
        #expect(lost, "\(screen.joined(separator: "\n"))")
        var restarted: Daemon?
        for _ in 0..<20 where restarted == nil {
            // The port was just freed; rarely another connection holds it for a moment.
            restarted = try? await Daemon(directory: directory, port: port)
            if restarted == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let second = try #require(restarted)
        let during = try Child(
            "tchat", ["send", "--server", second.clients, "--nick", "other", "ops", "while you were away"])
        #expect(await during.exitStatus() == 0)
        let (back, after) = try await tmux.waitFor("me", within: .seconds(20)) { lines in
            lines.contains { $0.contains("● connected") } && lines.contains { $0.contains("while you were away") }
        }
        #expect(back, "\(after.joined(separator: "\n"))")
        #expect(after.filter { $0.contains("before the restart") }.count == 1, "\(after.joined(separator: "\n"))")
        #expect(after.filter { $0.contains("while you were away") }.count == 1)
        try tmux.type("me", "/quit")
        _ = await second.stop()
    }
}
