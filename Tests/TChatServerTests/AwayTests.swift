import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// SET_AWAY: WHOIS shows it, a direct message is answered with it, on this server and across a link, and it goes
/// with the nick.
@Suite struct AwayTests {
    static func awayText(_ frames: [ServerFrame]) -> String? {
        frames.compactMap { if case .text(let text) = $0 { text } else { nil } }.first
    }

    @Test func awayShowsInWhoisAndAnswersADirectMessage() async throws {
        let server = try await TestServer()
        let bob = try await server.connect("Bob", events: false)
        let ann = try await server.connect("ann", events: false)
        #expect(try await bob.request(.setAway("at lunch")).isEmpty)
        #expect(Self.awayText(try await ann.request(.whois(nick: "bob"))) == "away: at lunch")
        let answer = try await ann.request(.sendDirect(nick: "bob", body: .text("hi")))
        #expect(Self.awayText(answer) == "Bob is away: at lunch", "spelled as Bob spells it")
        // A bad text is refused and changes nothing.
        await #expect(throws: ProtocolError.self) { _ = try await bob.request(.setAway("\u{1B}[2J")) }
        await #expect(throws: ProtocolError.self) {
            _ = try await bob.request(.setAway(String(repeating: "x", count: 301)))
        }
        #expect(Self.awayText(try await ann.request(.whois(nick: "bob"))) == "away: at lunch")
        // A nick change takes it along; back clears it.
        _ = try await bob.request(.nick("Robert"))
        #expect(Self.awayText(try await ann.request(.whois(nick: "robert"))) == "away: at lunch")
        _ = try await bob.request(.setAway(""))
        #expect(Self.awayText(try await ann.request(.whois(nick: "robert"))) == nil)
        #expect(Self.awayText(try await ann.request(.sendDirect(nick: "robert", body: .text("hi")))) == nil)
        // Leaving takes it with the nick: whoever takes the nick next is not away.
        _ = try await bob.request(.setAway("gone"))
        await bob.close()
        #expect(await eventually { server.server.context?.clients.awayText(of: "robert") == nil })
        await server.stop()
        server.removeData()
    }

    /// AWAY_CHANGED (IRC's away-notify) reaches the sessions that asked for it and share a channel, from this
    /// server and across a link, and again after the JOIN of someone who is away; nobody else gets the frame.
    @Test func awayChangesReachWhoAskedAndSharesAChannelAcrossALink() async throws {
        let servers = try await NetworkTests.network(.plaintext) {
            $0.ircAddress = ServerAddress(host: "127.0.0.1", port: 0)
        }
        let irc = try #require(servers[2].server.ircAddress)
        let bob = try await RawConnection.connect(to: servers[0].address)
        try await bob.hello("bob")
        let dave = try await RawConnection.connect(to: servers[2].address)
        try await dave.hello("dave")
        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice", capabilities: ["away-notify"])
        let carol = try await IRCConnection.connect(to: irc)
        try await carol.register("carol")
        let outsider = try await IRCConnection.connect(to: irc)
        try await outsider.register("olga", capabilities: ["away-notify"])
        for irc in [alice, carol] {
            try await irc.send("JOIN #team")
            await irc.waitFor("366", irc === alice ? "alice" : "carol", "#team")
        }
        try await dave.send(.join(channel: "#team", history: 0), id: 2)
        #expect(await dave.reply(to: 2).last == .ok)
        try await bob.send(.join(channel: "#team", history: 0), id: 2)
        #expect(await bob.reply(to: 2).last == .ok)
        await alice.waitFor { $0.verb == "JOIN" && $0.source?.hasPrefix("bob!") == true }

        func aways(_ connection: IRCConnection) -> [String] {
            connection.lines.filter { $0.verb == "AWAY" }.map {
                "\($0.source ?? "") \($0.params.joined(separator: " "))"
            }
        }
        // Across the link, away and back; then one of this server's, which does not hear its own.
        try await bob.send(.setAway("lunch"), id: 3)
        #expect(await eventually { aways(alice) == ["bob!bob@tchat lunch"] })
        try await bob.send(.setAway(""), id: 4)
        #expect(await eventually { aways(alice).last == "bob!bob@tchat " })
        try await carol.send("AWAY :brb")
        await carol.waitFor("306", "carol")
        #expect(await eventually { aways(alice).last == "carol!carol@tchat brb" })
        #expect(aways(carol).isEmpty, "no away-notify, no AWAY; not even its own")
        // Someone away who joins is told after the JOIN, from here and from the linked server.
        try await carol.send("PART #team", "JOIN #team")
        #expect(await eventually { aways(alice).count == 4 && aways(alice).last == "carol!carol@tchat brb" })
        try await bob.send(.setAway("meeting"), id: 5)
        try await bob.send(.part(channel: "#team", reason: ""), id: 6)
        try await bob.send(.join(channel: "#team", history: 0), id: 7)
        #expect(await eventually { aways(alice).suffix(2) == ["bob!bob@tchat meeting", "bob!bob@tchat meeting"] })
        let rejoin = alice.lines.lastIndex { $0.verb == "JOIN" && $0.source?.hasPrefix("bob!") == true }
        let lastAway = alice.lines.lastIndex { $0.verb == "AWAY" }
        #expect(rejoin != nil && lastAway != nil && rejoin! < lastAway!, "the AWAY comes after the JOIN")
        // Who shares no channel, and a tchat client that did not ask, get nothing.
        #expect(aways(outsider).isEmpty)
        #expect(!dave.frames.contains { if case .awayChanged = $0.frame { true } else { false } })
        await NetworkTests.stop(servers)
    }

    @Test func awayCrossesALinkAndIsToldToANewlyLinkedServer() async throws {
        let servers = try await NetworkTests.network(.plaintext)
        let bob = try await servers[0].connect("bob", events: false)
        let carol = try await servers[2].connect("carol", events: false)
        _ = try await bob.request(.setAway("in a meeting"))
        #expect(
            await eventually {
                Self.awayText((try? await carol.request(.whois(nick: "bob"))) ?? []) == "away: in a meeting"
            })
        let answer = try await carol.request(.sendDirect(nick: "bob", body: .text("ping")))
        #expect(Self.awayText(answer) == "bob is away: in a meeting")
        // A server linked later hears it with the rest of what it must know.
        let late = try await TestServer(name: "D") {
            $0.heartbeat = .milliseconds(200)
            $0.peers = [servers[0].peerAddress]
        }
        let dave = try await late.connect("dave", events: false)
        #expect(
            await eventually {
                Self.awayText((try? await dave.request(.whois(nick: "bob"))) ?? []) == "away: in a meeting"
            })
        // Gone from the network, gone from every server's table.
        await bob.close()
        #expect(await eventually { servers[2].server.context?.clients.awayText(of: "bob") == nil })
        await late.stop()
        late.removeData()
        await NetworkTests.stop(servers)
    }
}
