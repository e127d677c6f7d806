import Foundation
import TChatClient
import TChatProtocol
import Testing

/// A real server on a free loopback port, talked to with the real client library.
@Suite struct ChatIntegrationTests {
    @Test func twoClientsChatInAChannelInOrder() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let bob = try await server.connect("bob")
        let bobEvents = EventLog(bob)
        let aliceEvents = EventLog(alice)
        _ = try await alice.join("#ops")
        _ = try await bob.join("ops")  // the '#' may be left out
        await aliceEvents.wait(for: "bob's join") { events in
            events.contains { if case .joined("#ops", "bob", _) = $0 { true } else { false } }
        }
        for index in 1...20 {
            _ = alice.submit(.send(channel: "#ops", body: .text("message \(index)")))
        }
        let sent = try await alice.send(.json("{\"done\": true}"), to: "#OPS")
        #expect(sent.id == 21)
        await bobEvents.wait(for: "21 messages") { _ in bobEvents.messages.count == 21 }
        #expect(bobEvents.messages.map(\.id) == Array(1...21))
        #expect(bobEvents.messages.first?.body == .text("message 1"))
        #expect(bobEvents.messages.last?.body == .json("{\"done\": true}"))
        #expect(bobEvents.messages.allSatisfy { $0.from == "alice" && $0.channel == "#ops" })
        // The sender is a member, so it sees its own messages too, in the same order.
        await aliceEvents.wait(for: "the echo") { _ in aliceEvents.messages.count == 21 }
        #expect(aliceEvents.messages.map(\.id) == Array(1...21))
        await alice.quit()
        await bobEvents.wait(for: "alice's quit") { events in
            events.contains { if case .quitted("alice", _, _) = $0 { true } else { false } }
        }
        await bob.quit()
        await server.stop()
    }

    @Test func joiningReplaysHistoryThenLiveWithoutGapsOrRepeats() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        for index in 1...30 { try await alice.send(.text("m\(index)"), to: "#log") }
        let bob = try await server.connect("bob")
        let events = EventLog(bob)
        let (info, replay) = try await bob.join("#log", history: 10)
        #expect(info.lastMessageID == 30 && info.members == 1)
        #expect(replay.map(\.id) == Array(21...30))
        try await alice.send(.text("live"), to: "#log")
        await events.wait(for: "the live message") { _ in events.messages.count == 1 }
        #expect(events.messages.map(\.id) == [31])
        let older = try await bob.history("#log", before: 21, limit: 15)
        #expect(older.map(\.id) == Array(6...20))
        let oldest = try await bob.history("#log", before: 6, limit: 15)
        #expect(oldest.map(\.id) == Array(1...5))
        #expect(try await bob.history("#log", before: 1, limit: 15).isEmpty)
        await server.stop()
    }

    @Test func directMessagesReachOnlyTheirNick() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let bob = try await server.connect("Bob")
        let carol = try await server.connect("carol")
        let bobEvents = EventLog(bob)
        let carolEvents = EventLog(carol)
        try await alice.sendDirect(.text("psst"), to: "bob")  // nicks are case-insensitive
        await bobEvents.wait(for: "the direct message") { events in
            events.contains {
                if case .direct(let m) = $0 {
                    m.from == "alice" && m.to == "Bob" && m.body == .text("psst")
                } else {
                    false
                }
            }
        }
        let error = await #expect(throws: ProtocolError.self) { try await alice.sendDirect(.text("x"), to: "nobody") }
        #expect(error?.code == .noSuchNick)
        try await Task.sleep(for: .milliseconds(50))
        #expect(carolEvents.all.isEmpty)
        await server.stop()
    }

    @Test func nickCollisionsAreRefused() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let error = await #expect(throws: ProtocolError.self) { _ = try await server.connect("ALICE") }
        #expect(error?.code == .nickInUse)
        // Look-alikes are the same nick (capital I, one, bar, and a lower-case l for the capital I).
        for lookAlike in ["aIice", "a1ice", "a|ice", "ALlCE"] {
            let refused = await #expect(throws: ProtocolError.self) { _ = try await server.connect(lookAlike) }
            #expect(refused?.code == .nickInUse, "\(lookAlike)")
        }
        let bob = try await server.connect("bob")
        let bobEvents = EventLog(bob)
        _ = try await bob.join("#x")
        _ = try await alice.join("#x")
        let rename = await #expect(throws: ProtocolError.self) { _ = try await bob.request(.nick("Alice")) }
        #expect(rename?.code == .nickInUse)
        let invalid = await #expect(throws: ProtocolError.self) { _ = try await bob.request(.nick("9lives")) }
        #expect(invalid?.code == .invalidNick)
        _ = try await alice.request(.nick("alicia"))
        await bobEvents.wait(for: "the nick change") { events in
            events.contains { if case .nickChanged("alice", "alicia", _) = $0 { true } else { false } }
        }
        // Nobody learns when a nick that is not connected was last seen.
        let gone = await #expect(throws: ProtocolError.self) { _ = try await bob.request(.whois(nick: "alice")) }
        #expect(
            gone?.code == .noSuchNick && gone?.message.contains("last seen") == false, "\(String(describing: gone))")
        // The old nick is free again.
        _ = try await server.connect("alice")
        await server.stop()
    }

    @Test func historyTopicsAndIdsSurviveARestart() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await TestServer(directory: directory)
        let alice = try await first.connect("alice", events: false)
        _ = try await alice.join("#ops", history: 0)
        for index in 1...5 { try await alice.send(.text("before \(index)"), to: "#ops") }
        _ = try await alice.request(.setTopic(channel: "#ops", topic: "deploys"))
        await first.stop()

        let second = try await TestServer(directory: directory)
        let bob = try await second.connect("bob", events: false)
        let (info, replay) = try await bob.join("#ops", history: 10)
        #expect(replay.map(\.id) == Array(1...5))
        #expect(replay.map(\.body) == (1...5).map { .text("before \($0)") })
        #expect(info.topic == "deploys" && info.topicSetBy == "alice")
        let next = try await bob.send(.text("after"), to: "#ops")
        #expect(next.id == 6, "ids continue where they stopped")
        await second.stop()
    }

    /// Without accounts (`--registration off`) a welcome text belongs to a nick; with them, to an account
    /// (`AccountTests`).
    @Test func theWelcomeTextIsShownAgainOnReconnect() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TestServer(directory: directory) { $0.registration = .off }
        let alice = try await server.connect("alice", events: false)
        #expect(alice.welcome.welcomeText == "")
        _ = try await alice.request(.setWelcome("welcome back, alice"))
        #expect(try await alice.request(.getWelcome) == [.text("welcome back, alice")])
        await alice.quit()
        let again = try await server.connect("alice", events: false)
        #expect(again.welcome.welcomeText == "welcome back, alice")
        await server.stop()
        // And across a restart, from nicks.json.
        let restarted = try await TestServer(directory: directory) { $0.registration = .off }
        let third = try await restarted.connect("ALICE", events: false)
        #expect(third.welcome.welcomeText == "welcome back, alice")
        await restarted.stop()
    }

    @Test func listsWhoisHelpReverseAndServers() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        let bob = try await server.connect("bob", events: false)
        _ = try await alice.join("#a")
        _ = try await alice.join("#b")
        _ = try await bob.join("#b")
        _ = try await alice.request(.setTopic(channel: "#b", topic: "the b channel"))

        let channels = try await alice.request(.listChannels).compactMap {
            if case .channelInfo(let c) = $0 { c } else { nil }
        }
        #expect(channels.map(\.name) == ["#a", "#b"])
        #expect(channels.map(\.members) == [1, 2])
        #expect(channels[1].topic == "the b channel")

        let everyone = try await alice.request(.listClients(channel: "")).compactMap {
            if case .clientInfo(let c) = $0 { c.nick } else { nil }
        }
        #expect(everyone == ["alice", "bob"])
        let inA = try await alice.request(.listClients(channel: "#a")).compactMap {
            if case .clientInfo(let c) = $0 { c.nick } else { nil }
        }
        #expect(inA == ["alice"])

        let whois = try await bob.request(.whois(nick: "ALICE"))
        guard case .clientInfo(let info) = whois.first else {
            Issue.record("whois did not start with CLIENT_INFO")
            return
        }
        // Privacy by default: bob sees alice's nick, client and server, not where she is or her machine.
        #expect(info.nick == "alice" && info.clientName == "tchat" && info.server == "test")
        #expect(info.address.isEmpty && info.host.isEmpty && info.processID == 0, "\(info)")
        #expect(
            whois.dropFirst().compactMap { if case .channelInfo(let c) = $0 { c.name } else { nil } } == ["#a", "#b"])
        let listed = try await bob.request(.listClients(channel: "#b")).compactMap {
            if case .clientInfo(let c) = $0 { c } else { nil }
        }
        #expect(listed.first { $0.nick == "alice" }.map { $0.address.isEmpty && $0.host.isEmpty } == true)
        #expect(listed.first { $0.nick == "bob" }.map { $0.address.hasPrefix("127.0.0.1:") } == true, "bob sees bob")

        let me = try await bob.request(.whoami)
        guard case .clientInfo(let mine) = me.first else {
            Issue.record("whoami did not start with CLIENT_INFO")
            return
        }
        #expect(mine.nick == "bob" && mine.connectedAt <= Timestamp.now())
        #expect(mine.address.hasPrefix("127.0.0.1:") && !mine.host.isEmpty)
        #expect(mine.processID == UInt32(ProcessInfo.processInfo.processIdentifier))

        let servers = try await alice.request(.listServers)
        guard case .serverInfo(let thisServer) = servers.first else {
            Issue.record("no SERVER_INFO")
            return
        }
        #expect(
            thisServer.isThisServer && thisServer.clients == 2 && thisServer.clientAddress == server.address.description
        )

        let help = try await alice.request(.help).compactMap {
            if case .helpEntry(let name, _, _) = $0 { name } else { nil }
        }
        #expect(help == FrameType.requests.map(\.description))

        #expect(try await alice.request(.reverse("héllo 👋🏽")) == [.text("👋🏽 olléh")])
        await server.stop()
    }

    @Test func badRequestsGetClearErrorsAndTheConnectionLives() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        func code(_ frame: ClientFrame) async -> ErrorCode? {
            do {
                _ = try await alice.request(frame)
                return nil
            } catch let error as ProtocolError {
                return error.code
            } catch {
                return nil
            }
        }
        #expect(await code(.join(channel: "#../../etc", history: 0)) == .invalidChannel)
        #expect(await code(.join(channel: "#a\u{202E}b", history: 0)) == .invalidChannel)
        #expect(await code(.send(channel: "#ops", body: .text(""))) == .invalidArgument)
        #expect(await code(.part(channel: "#nowhere", reason: "")) == .noSuchChannel)
        _ = try await alice.send(.text("x"), to: "#here")
        #expect(await code(.part(channel: "#here", reason: "")) == .notOnChannel)
        #expect(await code(.setTopic(channel: "#here", topic: "t")) == .notOnChannel)
        #expect(await code(.history(channel: "#here", before: 0, limit: 0)) == .invalidArgument)
        #expect(await code(.history(channel: "#nowhere", before: 0, limit: 5)) == .noSuchChannel)
        #expect(
            await code(.hello(Hello(nick: "x", clientName: "", clientVersion: "", processID: 0, host: "")))
                == .alreadyWelcomed)
        #expect(await code(.setTopic(channel: "#here", topic: String(repeating: "t", count: 391))) == .fieldTooLong)
        #expect(await code(.whois(nick: "ghost")) == .noSuchNick)
        #expect(try await alice.ping() < .seconds(1), "the connection is still open and answering")
        await server.stop()
    }
}

@Suite struct RetentionTests {
    @Test func onlyTheHistoryLimitIsServedAndOldPagesComeFromDisk() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await TestServer(directory: directory) { $0.historyLimit = 40 }
        let alice = try await first.connect("alice", events: false)
        for index in 1...50 { _ = alice.submit(.send(channel: "#big", body: .text("m\(index)"))) }
        try await alice.send(.text("m51"), to: "#big")
        #expect(try await alice.memberHistory("#big", limit: 100).map(\.id) == Array(12...51), "only the newest 40")
        await first.stop()

        let second = try await TestServer(directory: directory) { $0.historyLimit = 40 }
        let bob = try await second.connect("bob", events: false)
        // Nothing is in memory after a restart: both pages come from the file.
        #expect(try await bob.memberHistory("#big", limit: 20).map(\.id) == Array(32...51))
        #expect(try await bob.memberHistory("#big", before: 32, limit: 20).map(\.id) == Array(12...31))
        #expect(try await bob.memberHistory("#big", before: 12, limit: 20).isEmpty)
        let (_, replay) = try await bob.join("#big", history: 5)
        #expect(replay.map(\.id) == Array(47...51))
        await second.stop()
    }
}

@Suite struct DataDirectoryTests {
    /// channels.json and its journal (the records changed since it was written whole), as text.
    static func channelIndex(_ directory: String) -> String {
        ["channels.json", "channels.journal.jsonl"].compactMap {
            try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)
        }.joined(separator: "\n")
    }

    @Test func aHistoryFileNoChannelNamesIsNeverReusedOrChanged() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        let stray = Data(
            #"{"id":7,"time":"2026-01-01T00:00:00.000Z","from":"x","type":"text","body":"old"}"#.utf8 + [10])
        try stray.write(to: URL(fileURLWithPath: directory + "/channels/ops.jsonl"))
        let server = try await TestServer(directory: directory)
        let alice = try await server.connect("alice", events: false)
        #expect(try await alice.send(.text("new"), to: "#ops").id == 1)
        await server.stop()
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/channels/ops.jsonl")) == stray)
        let index = Self.channelIndex(directory)
        #expect(index.contains("ops~2.jsonl") && !index.contains("\"ops.jsonl\""), "\(index)")
    }

    @Test func channelsJSONNamesANewChannelBeforeItsFirstLineIsWritten() async throws {
        // With --fsync interval nicks.json waits up to a second; channels.json must not, or a crash right after a
        // channel's first message would leave a file no channel names.
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        try await alice.send(.text("first"), to: "#fresh")
        #expect(Self.channelIndex(server.directory).contains("#fresh"))
        await server.stop()
    }

    @Test func aChannelMadeByAJoinAloneIsInChannelsJSONWithinASecondOrTwo() async throws {
        // Without a message nothing forces the index out at once; it is written within a second of the change.
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.join("#quiet")
        var index = ""
        for _ in 0..<40 where !index.contains("#quiet") {
            try await Task.sleep(for: .milliseconds(100))
            index = Self.channelIndex(server.directory)
        }
        #expect(index.contains("#quiet"), "\(index)")
        await server.stop()
    }
}
