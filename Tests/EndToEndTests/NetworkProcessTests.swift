import Foundation
import TChatClient
import TChatProtocol
import TChatTLS
import Testing

/// Three real `tchatd` processes on loopback forming one network, as issue 4's acceptance list asks.
@Suite(.serialized, .leavesNoProcess) struct NetworkProcessTests {
    /// A discovery directory of the test's own, so other servers on the machine are not found.
    static func discoveryEnvironment() -> (String, [String: String]) {
        let runtime = NSTemporaryDirectory() + "tchat-runtime-" + UUID().uuidString
        return (runtime, ["XDG_RUNTIME_DIR": runtime])
    }

    static func start(_ names: [String], environment: [String: String], extra: [String] = []) async throws -> [Daemon] {
        var daemons: [Daemon] = []
        for name in names {
            daemons.append(
                try await Daemon(
                    directory: CommandLineTests.temporaryDirectory(),
                    extra: ["--name", name, "--discover", "--heartbeat", "0.5"] + extra, environment: environment))
        }
        return daemons
    }

    /// The names of the servers `daemon` lists, or [] if it cannot be asked.
    static func serverNames(_ daemon: Daemon) async -> [String] {
        guard let address = try? ServerAddress(parsing: daemon.clients, defaultPort: 0, allowingTLS: true) else {
            return []
        }
        var options = ConnectOptions(server: address, nick: "probe\(UInt16.random(in: 0...9999))")
        options.receivesEvents = false
        options.maxRedirects = 0
        options.tlsTrust = .authority(file: TLSProcessTests.fixture("ca.pem"))
        guard let connection = try? await ChatConnection.connect(options),
            let frames = try? await connection.request(.listServers)
        else { return [] }
        await connection.close()
        return frames.compactMap { if case .serverInfo(let info) = $0 { info.name } else { nil } }.sorted()
    }

    /// How many clients the server `name` has, as the server `daemon` last heard (asking a full server itself would
    /// be refused).
    static func load(of name: String, askingAt daemon: Daemon) async -> UInt32? {
        guard let address = try? ServerAddress(parsing: daemon.clients, defaultPort: 0) else { return nil }
        var options = ConnectOptions(server: address, nick: "probe\(UInt16.random(in: 0...9999))")
        options.receivesEvents = false
        options.maxRedirects = 0
        guard let connection = try? await ChatConnection.connect(options),
            let frames = try? await connection.request(.listServers)
        else { return nil }
        await connection.close()
        return frames.compactMap { if case .serverInfo(let info) = $0, info.name == name { info.clients } else { nil } }
            .first
    }

    /// Whether every one of `daemons` lists exactly `names`.
    static func meshed(_ daemons: [Daemon], as names: [String]) async -> Bool {
        for daemon in daemons where await serverNames(daemon) != names { return false }
        return true
    }

    static func cleanUp(_ daemons: [Daemon], runtime: String) async {
        for daemon in daemons {
            _ = await daemon.stop()
            try? FileManager.default.removeItem(atPath: daemon.directory)
        }
        try? FileManager.default.removeItem(atPath: runtime)
    }

    @Test func discoveredServersListEachOtherAndRelayChannelMessages() async throws {
        let (runtime, environment) = Self.discoveryEnvironment()
        let started = ContinuousClock.now
        let daemons = try await Self.start(["A", "B", "C"], environment: environment)
        var meshed = false
        while ContinuousClock.now - started < .seconds(5) && !meshed {
            var all = true
            for daemon in daemons where await Self.serverNames(daemon) != ["A", "B", "C"] { all = false }
            meshed = all
            if !meshed { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(meshed, "three servers with --discover did not list each other within 5 s")

        let onC = try Child("tchat", ["listen", "--server", daemons[2].clients, "--nick", "cat", "ops"])
        let onA = try Child("tchat", ["listen", "--server", daemons[0].clients, "--nick", "al", "ops"])
        // Both listeners are in #ops, as server A sees it (one of them across the link).
        try await CommandLineTests.waitForMember("al", in: "#ops", server: daemons[0].clients)
        try await CommandLineTests.waitForMember("cat", in: "#ops", server: daemons[0].clients)
        for index in 1...5 {
            let author = index % 2 == 0 ? ("carl", daemons[2].clients) : ("anna", daemons[0].clients)
            let send = try Child(
                "tchat", ["send", "--server", author.1, "--nick", author.0, "ops", "message \(index)"])
            #expect(await send.exitStatus() == 0)
        }
        for listener in [onA, onC] {
            #expect(await listener.waitForOutput { $0.filter { $0.contains("\"message\"") }.count >= 5 })
            let bodies = listener.lines.filter { $0.contains("\"message\"") }.map { line in
                line.components(separatedBy: "\"body\":\"").last?.components(separatedBy: "\"").first ?? ""
            }
            #expect(bodies == (1...5).map { "message \($0)" }, "each message once, in order")
        }
        onA.signal(SIGINT)
        onC.signal(SIGINT)
        await Self.cleanUp(daemons, runtime: runtime)
    }

    /// Issue 10: the same network over TLS, each server with its own certificate, linked by the secret the
    /// discovery directory keeps; the clients check the certificates against the CA.
    @Test func discoveredServersLinkOverTLSAndRelayChannelMessages() async throws {
        let (runtime, environment) = Self.discoveryEnvironment()
        var daemons: [Daemon] = []
        for (name, certificate) in [("A", "server"), ("B", "server2"), ("C", "server")] {
            daemons += try await Self.start(
                [name], environment: environment, extra: TLSProcessTests.tlsArguments(certificate))
        }
        #expect(await eventually { await Self.meshed(daemons, as: ["A", "B", "C"]) }, "no TLS mesh")
        #expect(daemons.allSatisfy { $0.clients.hasPrefix("tls://") })
        #expect(daemons.allSatisfy { $0.child.stderr.contains("tls=true") }, "links run over TLS")
        let ca = TLSProcessTests.fixture("ca.pem")
        let onC = try Child(
            "tchat", ["listen", "--server", daemons[2].clients, "--tls-ca", ca, "--nick", "cat", "ops"])
        #expect(
            await eventually {
                daemons[0].child.stderr.contains("nick=cat") || daemons[2].child.stderr.contains("nick=cat")
            })
        try await Task.sleep(for: .milliseconds(300))
        let send = try Child(
            "tchat", ["send", "--server", daemons[0].clients, "--tls-ca", ca, "--nick", "anna", "ops", "over TLS"])
        #expect(await send.exitStatus() == 0, "\(send.stderr)")
        #expect(await onC.waitForOutput { $0.contains { $0.contains("over TLS") } })
        onC.signal(SIGINT)
        await Self.cleanUp(daemons, runtime: runtime)
    }

    @Test func aFullServerSendsTheThirdClientElsewhere() async throws {
        let (runtime, environment) = Self.discoveryEnvironment()
        var daemons = try await Self.start(["A"], environment: environment, extra: ["--max-clients", "2"])
        daemons += try await Self.start(["B", "C"], environment: environment)
        #expect(await eventually { await Self.serverNames(daemons[1]).count == 3 })
        let first = try Child("tchat", ["listen", "--server", daemons[0].clients, "--nick", "one", "ops"])
        let second = try Child("tchat", ["listen", "--server", daemons[0].clients, "--nick", "two", "ops"])
        #expect(await eventually { await Self.load(of: "A", askingAt: daemons[1]) == 2 }, "both first clients are on A")
        try await CommandLineTests.waitForMember("one", in: "#ops", server: daemons[1].clients)
        let third = try Child(
            "tchat", ["send", "--server", daemons[0].clients, "--nick", "three", "ops", "I was sent on"])
        #expect(await third.exitStatus() == 0, "\(third.stderr)")
        #expect(await first.waitForOutput { $0.contains { $0.contains("I was sent on") && $0.contains("three") } })
        let redirected = daemons[0].child.stderr.contains("client redirected")
        #expect(redirected, "A logged no redirect")
        first.signal(SIGINT)
        second.signal(SIGINT)
        await Self.cleanUp(daemons, runtime: runtime)
    }

    @Test func killedAndHungServersAreDroppedAndAKilledOneRejoins() async throws {
        let (runtime, environment) = Self.discoveryEnvironment()
        let daemons = try await Self.start(["A", "B", "C"], environment: environment)
        #expect(await eventually { await Self.meshed([daemons[0], daemons[2]], as: ["A", "B", "C"]) })
        let onC = try Child("tchat", ["listen", "--server", daemons[2].clients, "--nick", "cat", "ops"])
        try await CommandLineTests.waitForMember("cat", in: "#ops", server: daemons[2].clients)

        // A hung server (stopped, its sockets open but silent) is dropped after three heartbeats (0.5 s each).
        daemons[1].child.signal(SIGSTOP)
        let stopped = ContinuousClock.now
        #expect(await eventually { await Self.meshed([daemons[0], daemons[2]], as: ["A", "C"]) })
        let dropped = ContinuousClock.now - stopped
        #expect(dropped < .milliseconds(2600), "dropped after \(dropped)")
        daemons[1].child.signal(SIGCONT)
        #expect(await eventually { await Self.serverNames(daemons[0]).count == 3 }, "B came back")

        // Killed outright: dropped at once, and A and C go on relaying.
        await daemons[1].kill()
        #expect(await eventually { await Self.serverNames(daemons[0]) == ["A", "C"] })
        let send = try Child(
            "tchat", ["send", "--server", daemons[0].clients, "--nick", "anna", "ops", "after B died"])
        #expect(await send.exitStatus() == 0)
        #expect(await onC.waitForOutput { $0.contains { $0.contains("after B died") } })

        // Started again on its data, B rejoins and has what it missed.
        let again = try await Daemon(
            directory: daemons[1].directory, extra: ["--name", "B", "--discover", "--heartbeat", "0.5"],
            environment: environment)
        #expect(await eventually { await Self.serverNames(daemons[0]) == ["A", "B", "C"] })
        let history = try Child(
            "tchat", ["listen", "--server", again.clients, "--nick", "late", "--history", "5", "ops"])
        #expect(await history.waitForOutput { $0.contains { $0.contains("after B died") } })
        history.signal(SIGINT)
        onC.signal(SIGINT)
        await Self.cleanUp([daemons[0], again, daemons[2]], runtime: runtime)
    }
}

/// Polls an async condition.
func eventually(within timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
