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
