import Foundation
import NIOCore
import Synchronization
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// How the servers of a network test link: in plaintext with the link secret, or over TLS with it too (issue 10:
/// every network test passes both ways).
enum LinkSecurity: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case plaintext
    case tls

    func apply(_ configuration: inout ServerConfiguration) {
        if self == .tls { TestServer.tls()(&configuration) }
    }

    var testDescription: String { rawValue }
}

/// Several servers in this process, linked on their peer ports, as one chat network.
@Suite struct NetworkTests {
    /// Three servers: A first, then B and C each linked to A only; gossip must link B and C too.
    static func network(
        _ security: LinkSecurity, _ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> [TestServer] {
        let a = try await TestServer(name: "A") {
            security.apply(&$0)
            $0.heartbeat = .milliseconds(200)
            configure(&$0)
        }
        var servers = [a]
        for name in ["B", "C"] {
            servers.append(
                try await TestServer(name: name) {
                    security.apply(&$0)
                    $0.heartbeat = .milliseconds(200)
                    $0.peers = [a.peerAddress]
                    configure(&$0)
                })
        }
        #expect(await linked(servers), "no full mesh")
        return servers
    }

    /// Waits until every server lists all of them.
    static func linked(_ servers: [TestServer], within timeout: Duration = .seconds(10)) async -> Bool {
        await eventually(within: timeout) {
            servers.allSatisfy { $0.server.linkedServers == servers.count - 1 }
        }
    }

    static func stop(_ servers: [TestServer]) async {
        for server in servers {
            await server.stop()
            server.removeData()
        }
    }

    @Test(arguments: LinkSecurity.allCases)
    func serversLinkIntoAFullMeshAndListEachOther(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security)
        let client = try await servers[1].connect("lister", events: false)
        let names = try await client.request(.listServers).compactMap { frame -> String? in
            if case .serverInfo(let info) = frame { info.isThisServer ? "*" + info.name : info.name } else { nil }
        }
        #expect(names == ["*B", "A", "C"])
        let addresses = try await client.request(.listServers).compactMap { frame -> String? in
            if case .serverInfo(let info) = frame { info.clientAddress } else { nil }
        }
        #expect(addresses.count == 3 && addresses.allSatisfy { $0.hasPrefix("tls://") == (security == .tls) })
        await Self.stop(servers)
    }

    @Test(arguments: LinkSecurity.allCases)
    func channelMessagesReachEveryServerOnceInEachAuthorsOrder(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security)
        var connections: [ChatConnection] = []
        var logs: [EventLog] = []
        for (index, server) in servers.enumerated() {
            let connection = try await server.connect("user\(index)")
            logs.append(EventLog(connection))
            _ = try await connection.join("#ops", history: 0)
            connections.append(connection)
        }
        // Everyone knows everyone is in #ops before the messages start.
        for (index, log) in logs.enumerated() {
            await log.wait(for: "two joins on \(index)") { events in
                events.filter { if case .joined = $0 { true } else { false } }.count >= 2 - index
            }
        }
        var replies: [EventLoopFuture<[ServerFrame]>] = []
        for round in 1...40 {
            for (index, connection) in connections.enumerated() {
                replies.append(connection.submit(.send(channel: "#ops", body: .text("\(index):\(round)"))))
            }
        }
        for reply in replies { _ = try await reply.get() }
        for (index, log) in logs.enumerated() {
            await log.wait(for: "120 messages on \(index)") { _ in log.messages.count >= 120 }
            let messages = log.messages
            #expect(messages.map(\.id) == Array(1...120), "server \(index): every id once, in order")
            for author in 0..<3 {
                let rounds = messages.filter { $0.from == "user\(author)" }.map { $0.body.text }
                #expect(rounds == (1...40).map { "\(author):\($0)" }, "author \(author)'s order on server \(index)")
            }
        }
        // Every server stored the same history.
        for (index, server) in servers.enumerated() {
            // A nick of its own on each: the network may not yet have heard that the previous reader left.
            let reader = try await server.connect("reader\(index)", events: false)
            let history = try await reader.memberHistory("#ops", limit: 200)
            #expect(history.map(\.id) == Array(1...120))
            #expect(history.map(\.body) == logs[0].messages.map(\.body))
            await reader.quit()
        }
        await Self.stop(servers)
    }

    @Test(arguments: LinkSecurity.allCases)
    func directMessagesWhoisAndListsSpanTheNetwork(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security)
        let alice = try await servers[0].connect("alice")
        let carol = try await servers[2].connect("carol")
        let carolLog = EventLog(carol)
        _ = try await carol.join("#team")
        _ = try await alice.join("#team")
        await carolLog.wait(for: "alice's join") { events in
            events.contains { if case .joined("#team", "alice", _) = $0 { true } else { false } }
        }
        try await alice.sendDirect(.text("psst"), to: "CAROL")
        await carolLog.wait(for: "the direct message") { events in
            events.contains {
                if case .direct(let m) = $0 { m.from == "alice" && m.body == .text("psst") } else { false }
            }
        }
        let whois = try await alice.request(.whois(nick: "carol"))
        guard case .clientInfo(let info) = whois.first else {
            Issue.record("no CLIENT_INFO for a remote nick")
            return
        }
        #expect(
            info.server == "C"
                && whois.contains(where: { if case .channelInfo(let c) = $0 { c.name == "#team" } else { false } }))
        let everyone = try await servers[1].connect("bob", events: false)
        let nicks = try await everyone.request(.listClients(channel: "")).compactMap { frame -> String? in
            if case .clientInfo(let info) = frame { "\(info.nick)@\(info.server)" } else { nil }
        }
        #expect(nicks == ["alice@A", "bob@B", "carol@C"])
        // A member list is for members: bob joins first.
        let (channel, _) = try await everyone.join("#team", history: 0)
        #expect(channel.members == 3)
        let team = try await everyone.request(.listClients(channel: "#team")).compactMap { frame -> String? in
            if case .clientInfo(let info) = frame { info.nick } else { nil }
        }
        #expect(team == ["alice", "bob", "carol"])
        // A nick taken anywhere is taken everywhere.
        let error = await #expect(throws: ProtocolError.self) { _ = try await servers[1].connect("Alice") }
        #expect(error?.code == .nickInUse)
        await Self.stop(servers)
    }

    /// Issue 10 changed the rule: "the earlier one keeps it" trusted the other server's clock, so a lying server
    /// could take any nick. Now neither keeps it, on every server alike.
    @Test(arguments: LinkSecurity.allCases)
    func aNickTakenOnBothSidesOfANewLinkIsTakenFromBothAndEveryoneAgrees(_ security: LinkSecurity) async throws {
        let a = try await TestServer(name: "A") {
            security.apply(&$0); $0.heartbeat = .milliseconds(200)
        }
        let early = try await a.connect("dup")
        let earlyLog = EventLog(early)
        let b = try await TestServer(name: "B") {
            security.apply(&$0); $0.heartbeat = .milliseconds(200)
        }
        let late = try await b.connect("dup")
        let lateLog = EventLog(late)
        // Link them only now: both have a "dup".
        let c = try await TestServer(name: "C") {
            security.apply(&$0)
            $0.heartbeat = .milliseconds(200)
            $0.peers = [a.peerAddress, b.peerAddress]
        }
        #expect(await Self.linked([a, b, c]))
        for log in [earlyLog, lateLog] {
            await log.wait(for: "the rename and the notice") { events in
                events.contains {
                    if case .nickChanged("dup", let new, _) = $0 { new.hasPrefix("dup_") } else { false }
                }
                    && events.contains {
                        if case .notice(let text) = $0 { text.contains("neither keeps the nick") } else { false }
                    }
            }
        }
        let observer = try await c.connect("observer", events: false)
        var views: [[String]] = []
        for server in [a, b, c] {
            let lister = try await server.connect("lister\(views.count)", events: false)
            let nicks = try await lister.request(.listClients(channel: "")).compactMap { frame -> String? in
                if case .clientInfo(let info) = frame, info.nick.lowercased().hasPrefix("dup") {
                    "\(info.nick)@\(info.server)"
                } else {
                    nil
                }
            }
            views.append(nicks)
            await lister.quit()
        }
        #expect(views.allSatisfy { $0 == views[0] }, "every server names them alike: \(views)")
        #expect(views[0].count == 2 && !views[0].contains { $0.hasPrefix("dup@") }, "nobody keeps dup: \(views[0])")
        // The nick is free again: one of them takes it back, and the renamed client's messages carry its name.
        _ = try await early.request(.nick("dup"))
        _ = try await late.join("#x", history: 0)
        let sent = try await late.send(.text("hello"), to: "#x")
        let history = try await observer.memberHistory("#x", limit: 5)
        #expect(history.first { $0.id == sent.id }?.from.hasPrefix("dup_") == true)
        await Self.stop([a, b, c])
    }

    @Test(arguments: LinkSecurity.allCases)
    func nickChangesAndTopicsCrossTheNetwork(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security)
        let alice = try await servers[0].connect("alice")
        let carol = try await servers[2].connect("carol")
        let carolLog = EventLog(carol)
        _ = try await carol.join("#room")
        _ = try await alice.join("#room")
        await carolLog.wait(for: "alice's join") { events in
            events.contains { if case .joined("#room", "alice", _) = $0 { true } else { false } }
        }
        _ = try await alice.request(.nick("alicia"))
        _ = try await alice.request(.setTopic(channel: "#room", topic: "across the network"))
        await carolLog.wait(for: "the nick change and the topic") { events in
            events.contains { if case .nickChanged("alice", "alicia", _) = $0 { true } else { false } }
                && events.contains {
                    if case .topic("#room", "across the network", "alicia", _) = $0 { true } else { false }
                }
        }
        let observer = try await servers[1].connect("observer", events: false)
        let (room, _) = try await observer.join("#room", history: 0)
        #expect(room.topic == "across the network" && room.topicSetBy == "alicia" && room.members == 3)
        await alice.quit()
        await carolLog.wait(for: "the quit") { events in
            events.contains { if case .quitted("alicia", _, _) = $0 { true } else { false } }
        }
        await Self.stop(servers)
    }

    @Test(arguments: LinkSecurity.allCases)
    func withNoRedirectAFullServerRefuses(_ security: LinkSecurity) async throws {
        let b = try await TestServer(name: "B") {
            security.apply(&$0); $0.heartbeat = .milliseconds(200)
        }
        let a = try await TestServer(name: "A") {
            security.apply(&$0)
            $0.maxClients = 1
            $0.redirects = false
            $0.heartbeat = .milliseconds(200)
            $0.peers = [b.peerAddress]
        }
        #expect(await Self.linked([a, b]))
        _ = try await a.connect("first", events: false)
        let error = await #expect(throws: ProtocolError.self) { _ = try await a.connect("second", events: false) }
        #expect(error?.code == .serverFull, "no redirect although B has room")
        await Self.stop([a, b])
    }

    @Test(arguments: LinkSecurity.allCases)
    func aFullServerRedirectsNewClientsAndTheClientFollows(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security) { $0.maxClients = 2 }
        _ = try await servers[0].connect("one", events: false)
        _ = try await servers[0].connect("two", events: false)
        #expect(await eventually { servers[1].server.peerLoads.allSatisfy { $0.clients == 2 || $0.name != "A" } })
        let third = try await servers[0].connect("three", events: false)
        #expect(third.server != servers[0].address, "sent elsewhere")
        #expect(third.welcome.serverName == "B" || third.welcome.serverName == "C")
        let fourth = try await servers[0].connect("four", events: false)
        #expect(fourth.welcome.serverName != third.welcome.serverName, "equally loaded servers take turns")
        // A client that asks not to be redirected gets the plain refusal.
        var stay = ConnectOptions(server: servers[0].address, nick: "stubborn")
        stay.tlsTrust = .authority(file: TestServer.fixture("ca.pem"))
        stay.maxRedirects = 0
        let error = await #expect(throws: ProtocolError.self) { _ = try await ChatConnection.connect(stay) }
        #expect(error?.code == .serverFull)
        await Self.stop(servers)
    }

    @Test(arguments: LinkSecurity.allCases)
    func aSessionWhoseServerGoesAwayMovesToAnotherOfTheNetwork(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security)
        let recorder = SessionTests.Recorder()
        var options = ConnectOptions(server: servers[1].address, nick: "mover")
        options.tlsTrust = .authority(file: TestServer.fixture("ca.pem"))
        options.keepAlive = nil
        let session = ChatSession(
            options: options, channels: ["#ops"], initialHistory: 0,
            backoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(200), jitter: 0),
            onEvent: recorder.record)
        let running = Task { await session.run() }
        #expect(await eventually { recorder.count { if case .joined = $0 { true } else { false } } == 1 })
        #expect(await eventually { session.knownServers.count == 3 }, "learnt the network's servers")
        let writer = try await servers[0].connect("writer", events: false)
        try await writer.send(.text("one"), to: "#ops")
        #expect(await eventually { recorder.ids == [1] })
        await servers[1].stop()
        try await writer.send(.text("two"), to: "#ops")
        #expect(await eventually { recorder.ids == [1, 2] }, "the session reached another server and caught up")
        let servedBy = recorder.events.withLock { events in
            events.compactMap { if case .connected(let welcome) = $0 { welcome.serverName } else { nil } }
        }
        #expect(servedBy.count == 2 && servedBy[0] == "B" && servedBy[1] != "B", "\(servedBy)")
        session.submit(.quit(reason: ""))
        await running.value
        await Self.stop([servers[0], servers[2]])
        servers[1].removeData()
    }

    @Test(arguments: LinkSecurity.allCases)
    func aRestartedServerCatchesUpOnWhatItMissed(_ security: LinkSecurity) async throws {
        let servers = try await Self.network(security)
        let writer = try await servers[0].connect("writer", events: false)
        for index in 1...5 { try await writer.send(.text("before \(index)"), to: "#log") }
        let bDirectory = servers[1].directory
        await servers[1].stop()
        for index in 6...10 { try await writer.send(.text("while B was away \(index)"), to: "#log") }
        // Messages keep coming while B links again: some reach it before the history it lacks, and wait for it.
        let streaming = Task {
            for index in 11...60 {
                _ = try? await writer.send(.text("while B links \(index)"), to: "#log")
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        let restarted = try await TestServer(directory: bDirectory, name: "B") {
            security.apply(&$0)
            $0.heartbeat = .milliseconds(200)
            $0.peers = [servers[0].peerAddress]
        }
        #expect(await Self.linked([servers[0], restarted, servers[2]]))
        await streaming.value
        let reader = try await restarted.connect("reader", events: false)
        #expect(await eventually { (try? await reader.memberHistory("#log", limit: 100).map(\.id)) == Array(1...60) })
        let next = try await reader.send(.text("from B again"), to: "#log")
        #expect(next.id == 61, "numbering carries on across the network")
        await Self.stop([servers[0], restarted, servers[2]])
    }
}
