import Foundation
import TChatClient
import TChatProtocol
import Testing

/// The real `tchatd`, `tchat send` and `tchat listen` binaries, as a script or a person would use them.
@Suite(.serialized, .leavesNoProcess) struct CommandLineTests {
    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "tchat-e2e-" + UUID().uuidString
    }

    /// Waits until `nick` is in `channel`, so what is sent next is live for it.
    static func waitForMember(_ nick: String, in channel: String, server: String) async throws {
        let address = try ServerAddress(parsing: server, defaultPort: 0)
        var options = ConnectOptions(server: address, nick: "watcher\(UInt16.random(in: 0...9999))")
        options.receivesEvents = false
        let watcher = try await ChatConnection.connect(options)
        defer { Task { await watcher.quit() } }
        // WHOIS names the channels a client is in (a member list is for members only).
        for _ in 0..<500 {
            let frames = (try? await watcher.request(.whois(nick: nick))) ?? []
            if frames.contains(where: { if case .channelInfo(let info) = $0 { info.name == channel } else { false } }) {
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ProcessError("\(nick) never joined \(channel)")
    }

    static func json(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// Found by a review of the systemd unit: TCP_NODELAY was set at the socket level, where its number means
    /// SO_DEBUG, which only root may set, so as any other user every connection failed, both ways.
    @Test(
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            "needs root, to run as nobody"))
    func theServerAndTheClientWorkAsAnUnprivilegedUser() async throws {
        let directory = Self.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = chown(directory, 65534, 65534)
        let server = try Child(
            "tchatd", ["--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--data-dir", directory + "/data"],
            asNobody: true)
        #expect(await server.waitForOutput { $0.first?.hasPrefix("listening clients=") == true }, "\(server.stderr)")
        let clients = try #require(server.lines.first?.split(separator: " ")[1].dropFirst("clients=".count))
        let send = try Child(
            "tchat", ["send", "--server", String(clients), "--nick", "n", "ops", "hi"], asNobody: true)
        #expect(await send.exitStatus() == 0, "\(send.stderr)")
        let history = try Child(
            "tchat", ["listen", "--server", String(clients), "--nick", "m", "--history", "5", "ops"], asNobody: true)
        #expect(await history.waitForOutput { $0.count >= 1 }, "\(history.stderr)")
        history.signal(SIGINT)
        _ = await history.exitStatus()
        server.signal(SIGTERM)
        #expect(await server.exitStatus() == 0, "\(server.stderr)")
        var info = stat()
        #expect(stat(directory + "/data", &info) == 0 && info.st_uid == 65534 && info.st_mode & 0o777 == 0o700)
    }

    /// `--config`: a commented YAML file of flags, the command line winning; SIGHUP reads it again, applies what can
    /// change live and names what waits for a restart.
    @Test func aConfigurationFileSetsFlagsAndSIGHUPAppliesWhatCanChangeLive() async throws {
        let directory = Self.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/tchatd.yaml"
        func write(perIP: Int, history: Int) throws {
            let text = """
                # tchatd's flags, one key per long flag
                listen: 127.0.0.1:0
                peer-listen: 127.0.0.1:0
                data-dir: \(directory)/data
                name: from-the-file
                max-per-ip: \(perIP)   # live
                history-limit: \(history)   # at the next start
                registration: off
                """
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write(perIP: 2, history: 1000)
        let daemon = try Child("tchatd", ["--config", file, "--name", "from-the-command-line"])
        #expect(await daemon.waitForOutput { $0.first?.hasPrefix("listening clients=") == true }, "\(daemon.stderr)")
        let clients = try ServerAddress(
            parsing: String(try #require(daemon.lines.first?.split(separator: " ")[1].dropFirst("clients=".count))),
            defaultPort: 0)
        // The log has a thread of its own: its start-up line may come after the ports on standard output.
        #expect(
            await daemon.waitForOutput { _ in
                daemon.stderr.contains("name=from-the-command-line") && daemon.stderr.contains("accounts=off")
            }, "\(daemon.stderr)")
        func connect(_ nick: String) async -> ChatConnection? {
            var options = ConnectOptions(server: clients, nick: nick)
            options.receivesEvents = false
            return try? await ChatConnection.connect(options)
        }
        let first = await connect("one")
        let second = await connect("two")
        #expect(first != nil && second != nil)
        #expect(await connect("three") == nil, "--max-per-ip 2 from the file")
        try write(perIP: 5, history: 2000)
        daemon.signal(SIGHUP)
        #expect(await daemon.waitForOutput { _ in daemon.stderr.contains("configuration file read again") })
        #expect(daemon.stderr.contains("take effect at the next start") && daemon.stderr.contains("history-limit"))
        let third = await connect("three")
        #expect(third != nil, "--max-per-ip 5 after the reload")
        for connection in [first, second, third] { await connection?.quit() }
        // A file with a key that is no flag is refused, naming it.
        try (try String(contentsOfFile: file, encoding: .utf8) + "\nmax-pre-ip: 3\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let refused = try Child("tchatd", ["--config", file])
        #expect(await refused.exitStatus() == 64)
        #expect(refused.stderr.contains("max-pre-ip is not a flag of tchatd"))
        daemon.signal(SIGTERM)
        #expect(await daemon.exitStatus() == 0)
    }

    /// contrib/tchatd.yaml is the commented file an operator starts from: it names every flag, and as written (all
    /// commented) tchatd takes it.
    @Test func theExampleConfigurationNamesEveryFlag() async throws {
        let path = SecurityDocumentTests.root.appendingPathComponent("contrib/tchatd.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let keys = Set(
            text.split(separator: "\n").compactMap { line in
                line.firstMatch(of: /^# ([a-z0-9-]+):/).map { String($0.1) }
            })
        let help = try Child("tchatd", ["--help"])
        _ = await help.exitStatus()
        let flags = Set(help.stdout.matches(of: /\n\s+--([a-z0-9-]+)/).map { String($0.1) })
            .subtracting(["config", "help", "version"])
        #expect(flags.count > 40)
        #expect(flags.subtracting(keys).isEmpty, "flags the example does not name: \(flags.subtracting(keys).sorted())")
        #expect(keys.subtracting(flags).isEmpty, "keys that are no flag: \(keys.subtracting(flags).sorted())")
        let check = try Child("tchatd", ["--config", path, "--version"])
        #expect(await check.exitStatus() == 0, "\(check.stderr)")
    }

    @Test func historyAndIdsGoOnAfterASIGKILL() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await Daemon(directory: directory)
        let send = try Child("tchat", ["send", "--server", first.clients, "--nick", "k", "ops"], stdin: "a\nb\nc\n")
        #expect(await send.exitStatus() == 0, "\(send.stderr)")
        await first.kill()
        let second = try await Daemon(directory: directory)
        let more = try Child("tchat", ["send", "--server", second.clients, "--nick", "k", "ops", "d"])
        #expect(await more.exitStatus() == 0, "\(more.stderr)")
        let history = try Child(
            "tchat", ["listen", "--server", second.clients, "--nick", "late", "--history", "10", "ops"])
        #expect(await history.waitForOutput { $0.count >= 4 })
        let events = try history.lines.map(Self.json)
        #expect(
            events.map { $0["body"] as? String } == ["a", "b", "c", "d"], "what was stored before the kill is served")
        #expect(events.map { $0["id"] as? Int } == [1, 2, 3, 4])
        history.signal(SIGINT)
        _ = await history.exitStatus()
        #expect(await second.stop() == 0)
    }

    @Test func sendStreamsPastTheServersRateLimitLosingAndReorderingNothing() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory, extra: ["--rate", "200", "--burst", "40"])
        let lines = (1...400).map { "log line \($0)" }
        let send = try Child(
            "tchat", ["send", "--server", daemon.clients, "--nick", "logbot", "logs"],
            stdin: lines.joined(separator: "\n") + "\n")
        #expect(await send.exitStatus(within: .seconds(30)) == 0, "\(send.stderr)")
        let history = try Child(
            "tchat", ["listen", "--server", daemon.clients, "--nick", "auditor", "--history", "1000", "logs"])
        #expect(await history.waitForOutput { $0.count >= 400 }, "got \(history.lines.count)")
        let events = try history.lines.map(Self.json)
        #expect(events.map { $0["body"] as? String } == lines)
        #expect(events.map { $0["id"] as? Int } == Array(1...400))
        history.signal(SIGINT)
        _ = await history.exitStatus()
        #expect(await daemon.stop() == 0)
    }

    @Test func listenPrintsWhatSendSendsAndHistorySurvivesARestart() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let server = daemon.clients
        let listen = try Child("tchat", ["listen", "--server", server, "--nick", "lis", "ops"])
        try await Self.waitForMember("lis", in: "#ops", server: server)

        let text = try Child("tchat", ["send", "--server", server, "--nick", "bob", "ops", "hello", "world"])
        #expect(await text.exitStatus() == 0, "\(text.stderr)")
        let json = try Child(
            "tchat", ["send", "--server", server, "--nick", "bob", "--json", "ops", "{\"build\": 42}"])
        #expect(await json.exitStatus() == 0, "\(json.stderr)")
        let lines = try Child("tchat", ["send", "--server", server, "--nick", "bob", "ops"], stdin: "a\n\nb\n")
        #expect(await lines.exitStatus() == 0, "\(lines.stderr)")
        let notice = try Child(
            "tchat", ["send", "--server", server, "--nick", "ci", "--notice", "ops", "build", "42", "passed"])
        #expect(await notice.exitStatus() == 0, "\(notice.stderr)")

        #expect(await listen.waitForOutput { $0.count >= 5 }, "listen printed: \(listen.stdout)")
        let events = try listen.lines.map(Self.json)
        #expect(events.map { $0["type"] as? String } == ["message", "message", "message", "message", "message"])
        #expect(events.map { $0["id"] as? Int } == [1, 2, 3, 4, 5])
        #expect(events[0]["body"] as? String == "hello world" && events[0]["content"] as? String == "text")
        #expect(
            (events[1]["body"] as? [String: Any])?["build"] as? Int == 42 && events[1]["content"] as? String == "json")
        #expect(
            events[2]["body"] as? String == "a" && events[3]["body"] as? String == "b",
            "stdin lines, in order, the empty one skipped")
        #expect(events[4]["body"] as? String == "build 42 passed" && events[4]["content"] as? String == "notice")
        #expect(
            events.allSatisfy {
                $0["from"] as? String == (($0["id"] as? Int) == 5 ? "ci" : "bob") && $0["channel"] as? String == "#ops"
                    && $0["time"] is String
            })

        // SIGTERM: clients are told, the server exits 0.
        #expect(await daemon.stop() == 0)
        #expect(await listen.exitStatus() != 0)
        #expect(listen.stderr.contains("shutting down"), "\(listen.stderr)")

        let again = try await Daemon(directory: directory)
        let history = try Child(
            "tchat", ["listen", "--server", again.clients, "--nick", "late", "--history", "10", "#ops"])
        #expect(await history.waitForOutput { $0.count >= 5 })
        let replayed = try history.lines.map(Self.json)
        #expect(replayed.map { $0["id"] as? Int } == [1, 2, 3, 4, 5], "the original ids")
        #expect(replayed.last?["content"] as? String == "notice", "a notice stays one on disk")
        #expect(replayed.allSatisfy { $0["history"] as? Bool == true })
        #expect(replayed.first?["body"] as? String == "hello world")
        history.signal(SIGINT)
        _ = await history.exitStatus()
        #expect(await again.stop() == 0)
    }

    @Test func errorsAreOneLineAndANonZeroStatus() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let unreachable = try Child("tchat", ["send", "--server", "127.0.0.1:1", "--nick", "x", "ops", "hi"])
        #expect(await unreachable.exitStatus() == 1)
        #expect(unreachable.stderr.hasPrefix("tchat: cannot connect to 127.0.0.1:1"), "\(unreachable.stderr)")
        #expect(unreachable.stderr.split(separator: "\n").count == 1)

        let daemon = try await Daemon(directory: directory)
        let holder = try Child("tchat", ["listen", "--server", daemon.clients, "--nick", "taken", "ops"])
        try await Self.waitForMember("taken", in: "#ops", server: daemon.clients)
        let collision = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "TAKEN", "ops", "hi"])
        #expect(await collision.exitStatus() == 1)
        #expect(
            collision.stderr.contains("in use") && collision.stderr.split(separator: "\n").count == 1,
            "\(collision.stderr)")

        let badJSON = try Child(
            "tchat", ["send", "--server", daemon.clients, "--nick", "j", "--json", "ops"], stdin: "{\"ok\":1}\n{nope\n")
        #expect(await badJSON.exitStatus() == 1)
        #expect(badJSON.stderr.contains("line 2: not valid JSON"), "\(badJSON.stderr)")

        let badChannel = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "x", "a/b", "hi"])
        #expect(await badChannel.exitStatus() != 0)
        #expect(badChannel.stderr.contains("invalid channel"), "\(badChannel.stderr)")

        // The environment stands in for the flags; a headless command without --nick adds -send to the nick, so it
        // never takes the nick of the user's own full-screen client.
        let fromEnvironment = try Child(
            "tchat", ["send", "ops", "via env"], environment: ["TCHAT_SERVER": daemon.clients, "TCHAT_NICK": "envy"])
        #expect(await fromEnvironment.exitStatus() == 0, "\(fromEnvironment.stderr)")
        #expect(
            await holder.waitForOutput { lines in
                lines.contains { $0.contains("\"via env\"") && $0.contains("\"envy-send\"") }
            })
        // --to sends a direct message, which listen prints as such.
        let direct = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "dm", "--to", "taken", "psst"])
        #expect(await direct.exitStatus() == 0, "\(direct.stderr)")
        #expect(
            await holder.waitForOutput { lines in
                lines.contains {
                    $0.contains("\"type\":\"direct\"") && $0.contains("\"from\":\"dm\"") && $0.contains("psst")
                }
            })
        // The first JSON line was sent before the bad one stopped the run.
        #expect(holder.lines.contains { $0.contains("\"ok\":1") })

        holder.signal(SIGINT)
        _ = await holder.exitStatus()
        #expect(await daemon.stop() == 0)

        let locked = try await Daemon(directory: directory)
        let second = try Child(
            "tchatd", ["--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--data-dir", directory])
        #expect(await second.exitStatus() == 1)
        #expect(second.stderr.contains("another tchatd is using the data directory"), "\(second.stderr)")
        #expect(await locked.stop() == 0)
    }
}

/// The minimal Python client in `docs/protocol.md` must work against the real server: the spec is enough.
@Suite struct ProtocolDocumentClientTests {
    static let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    @Test(.enabled(if: python != nil, "python3 is not installed"))
    func theSpecsExampleClientSendsAMessage() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let spec = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        let start = try #require(spec.range(of: "```python\n"))
        let end = try #require(spec.range(of: "```", range: start.upperBound..<spec.endIndex))
        let port = try #require(daemon.clients.split(separator: ":").last)
        let program = String(spec[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "(\"127.0.0.1\", 7667)", with: "(\"127.0.0.1\", \(port))")
        let script = directory + "/client.py"
        try program.write(toFile: script, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python!)
        process.arguments = [script]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // WELCOME and OK for the hello, then SENT and OK for the message.
        #expect(
            text.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
                == ["0x82 1", "0x80 1", "0x83 2", "0x80 2"], "\(text)")
        #expect(await daemon.stop() == 0)
    }
}
