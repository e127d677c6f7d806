import Foundation
import TChatIRC
import TChatProtocol
import TChatTLS
import Testing

@testable import TChatServer

/// The IRC port under the same limits as the tchat port: line length, the hello deadline, unfinished lines,
/// request budgets, and TLS.
@Suite struct IRCHostileTests {
    @Test func anOverlongLineIsRefusedWith417AndTheConnectionGoesOn() async throws {
        let (server, irc) = try await IRCChatTests.server()
        defer { Task { await server.server.shutdown() } }
        let client = try await IRCConnection.connect(to: irc)
        try await client.register("long")
        try await client.send("PRIVMSG #x :" + String(repeating: "a", count: 600))
        await client.waitFor("417", "long")
        // Past even the tag allowance: skipped without being held, then the next line is read.
        try await client.sendBytes(
            Array(repeating: UInt8(ascii: "b"), count: 200_000) + Array("\r\nPING :after\r\n".utf8))
        await client.waitFor("PONG", "test", "after")
        #expect(client.lines.filter { $0.verb == "417" }.count == 2)
        #expect(!client.isClosed)
    }

    @Test func aClientThatNeverRegistersIsClosedAtTheHelloDeadlineAndCommandsBeforeItGet451() async throws {
        let (server, irc) = try await IRCChatTests.server { $0.helloTimeout = .seconds(1) }
        defer { Task { await server.server.shutdown() } }
        let client = try await IRCConnection.connect(to: irc)
        try await client.send("JOIN #early", "PRIVMSG #early :hi", "NICK only")
        await client.waitFor("451", "*")
        let error = await client.waitFor("ERROR", within: .seconds(5))
        #expect(error?.params.last?.contains("no HELLO within") == true)
        #expect(await eventually { client.isClosed })
    }

    @Test func aLineBegunAndNotFinishedEndsTheConnectionAfterTheFrameTimeout() async throws {
        let (server, irc) = try await IRCChatTests.server { $0.frameTimeout = .seconds(1) }
        defer { Task { await server.server.shutdown() } }
        let client = try await IRCConnection.connect(to: irc)
        try await client.register("slow")
        let start = ContinuousClock.now
        try await client.sendBytes(Array("PRIVMSG #x :never end".utf8))
        let error = await client.waitFor("ERROR", within: .seconds(5))
        #expect(error?.params.last?.contains("not finished within 1 s") == true)
        #expect(await eventually { client.isClosed })
        #expect(ContinuousClock.now - start < .seconds(4))
    }

    @Test func aFloodIsRefusedByTheRequestBudgetAndOthersAreStillServed() async throws {
        let (server, irc) = try await IRCChatTests.server { configuration in
            configuration.requestRate = 5
            configuration.requestBurst = 10
        }
        defer { Task { await server.server.shutdown() } }
        let bystander = try await IRCConnection.connect(to: irc)
        try await bystander.register("calm")
        try await bystander.send("JOIN #room")
        await bystander.waitFor("366", "calm", "#room")
        let flood = try await IRCConnection.connect(to: irc)
        try await flood.register("flood")
        try await flood.send("JOIN #room")
        await flood.waitFor("366", "flood", "#room")
        try await Task.sleep(for: .seconds(2))  // the budget refills
        try await flood.send(Array((0..<50).map { "PRIVMSG #room :flood \($0)" } + (0..<500).map { "PING :p\($0)" }))
        #expect(
            await eventually {
                flood.lines.contains { $0.verb == "NOTICE" && $0.params.last?.contains("requests per second") == true }
            })
        // The messages past the budget were refused, not delivered; PINGs past it were dropped.
        try await Task.sleep(for: .milliseconds(500))
        let delivered = bystander.lines.filter { $0.verb == "PRIVMSG" }.count
        #expect(delivered >= 5 && delivered < 50, "\(delivered) of 50 delivered")
        #expect(flood.lines.filter { $0.verb == "PONG" }.count < 500)
        try await bystander.send("PING :still")
        await bystander.waitFor("PONG", "test", "still")
    }

    @Test func theIRCPortSpeaksTLSWhenTheServerHasACertificateAndOffersPLAINOnlyThere() async throws {
        let (server, irc) = try await IRCChatTests.server { configuration in
            TestServer.tls()(&configuration)
            configuration.plainClientAddress = ServerAddress(host: "127.0.0.1", port: 0)
        }
        defer { Task { await server.server.shutdown() } }
        let plaintext = try await IRCConnection.connect(to: irc)
        try await plaintext.send("NICK p", "USER p 0 * :P")
        let refusal = await plaintext.waitFor("ERROR")
        #expect(refusal?.params.last?.contains("this IRC port speaks TLS") == true)

        let ann = try await RawConnection.connect(to: try #require(server.server.addresses?.plain))
        try await ann.hello("ann")
        try await ann.send(.register(password: AccountTests.password), id: 2)
        #expect(await ann.reply(to: 2, within: .seconds(30)).last == .ok)
        let tls = try TLSClient(trust: .authority(file: TestServer.fixture("ca.pem")))
        let client = try await IRCConnection.connect(to: irc, tls: tls)
        try await client.send("CAP LS 302")
        let listing = await client.waitFor("CAP", "*", "LS")
        #expect(listing?.params.last?.contains("sasl=PLAIN,SCRAM-SHA-256") == true)
        try await client.send("NICK ann", "USER a 0 * :A", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        await client.waitFor("AUTHENTICATE", "+")
        try await client.send(
            "AUTHENTICATE " + Data("\u{0}ann\u{0}\(AccountTests.password)".utf8).base64EncodedString())
        await client.waitFor("903", within: .seconds(30))
        try await client.send("CAP END")
        await client.waitFor("001", "ann")
    }
}
