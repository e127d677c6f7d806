import Foundation
import NIOCore
import TChatFuzzing
import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// Mutated IRC lines: through the line reader and the IRC conversation alone (every input, with answers and
/// events from a simulated tchat side), and against a real server's IRC port. `TCHAT_FUZZ_INPUTS` sets how many
/// (`scripts/fuzz irc` sends 1,000,000 of each), `TCHAT_FUZZ_SEED` the seed.
@Suite struct IRCFuzzTests {
    /// Valid lines of every command, the raw material of the mutations.
    static let corpus: [[UInt8]] = [
        "CAP LS 302", "CAP REQ :echo-message server-time message-tags multi-prefix sasl", "CAP END", "CAP LIST",
        "NICK fuzz", "USER fuzz 0 * :Fuzz Er", "PASS secret", "AUTHENTICATE SCRAM-SHA-256", "AUTHENTICATE PLAIN",
        "AUTHENTICATE biwsbj1mdXp6LHI9YWJjZGVmZ2hpams=", "AUTHENTICATE +", "AUTHENTICATE *", "PING :token",
        "PONG :tchat", "JOIN #fuzz", "JOIN #a,#b key1,key2", "JOIN 0", "PART #fuzz :bye", "PRIVMSG #fuzz :hello",
        "PRIVMSG bystander :psst", "PRIVMSG #fuzz :\u{1}ACTION waves\u{1}", "NOTICE #fuzz :note",
        "@+draft/reply=1;time=x PRIVMSG #fuzz :tagged", "TOPIC #fuzz :new topic", "TOPIC #fuzz", "NAMES #fuzz",
        "LIST", "LIST #fuzz,#b", "WHO #fuzz", "WHO #fuzz %tcuhnfdar,743", "WHO bystander %na", "WHO bystander",
        "WHOIS bystander", "WHOWAS x", "MODE #fuzz",
        "MODE #fuzz +ov-b+k fuzz bystander x* key", "MODE #fuzz b", "MODE fuzz +iw-x", "KICK #fuzz bystander :out",
        "INVITE bystander #fuzz", "AWAY :lunch", "AWAY", "MOTD", "TIME", "VERSION", "KILL bystander :x",
        ":fuzz!u@h PRIVMSG #fuzz :with source", "CHATHISTORY LATEST #fuzz * 10",
        "CHATHISTORY BEFORE #fuzz msgid=5-#fuzz 5", "CHATHISTORY AFTER #fuzz timestamp=2027-01-15T08:00:00.250Z 5",
        "CHATHISTORY BETWEEN #fuzz timestamp=2027-01-15T08:00:00.250Z msgid=3-#fuzz 50",
        "CHATHISTORY AROUND #fuzz timestamp=2027-01-15T08:00:00.250Z 2", "CHATHISTORY TARGETS * * 10", "LUSERS",
        "LINKS", "QUIT :done",
    ].map { Array($0.utf8) }

    /// Frames a tchat server may send back, for the conversation's answers and events.
    static func answers(for id: UInt32, using generator: inout SeededGenerator) -> [ServerFrame] {
        let time = Timestamp(milliseconds: 1_800_000_000_000)
        let info = ChannelInfo(
            name: "#fuzz", members: 2, topic: "t", topicSetBy: "bystander", topicSetAt: time, lastMessageID: 3)
        let client = ClientInfo(
            nick: "bystander", address: "", connectedAt: time, durationMilliseconds: 1, clientName: "c",
            clientVersion: "1", host: "", processID: 0, server: "s")
        let results: [ServerFrame] = [
            .channelInfo(info), .clientInfo(client), .text("away: gone"), .authData("r=abc,s=c2FsdA==,i=4096"),
            .loggedIn(account: "fuzz"), .text("account: by"), .awayChanged(nick: "bystander", text: "gone", time: time),
            .accountChanged(nick: "bystander", account: "by", time: time),
            .channelModes(channel: "#fuzz", modes: "+ik key", operators: "fuzz", voiced: "x", bans: "a* account:b"),
            .welcome(
                Welcome(
                    version: 1, serverName: "s", serverVersion: "1", nick: "fuzz", address: "", connectedAt: time,
                    maxFrameLength: 65536, welcomeText: "hi\nthere", motd: "m")),
            .sent(id: 4, time: time),
            .serverInfo(
                ServerInfo(
                    name: "s\r\nQUIT", version: "1", clientAddress: "h:1", clients: .max, capacity: .max,
                    startedAt: time, isThisServer: true)),
            .message(ChatMessage(channel: "#fuzz", id: 7, time: time, from: "other", body: .text("stored"))),
        ]
        var frames = (0..<Int.random(in: 0...2, using: &generator)).map { _ in results.randomElement(using: &generator)!
        }
        let codes: [ErrorCode] = [
            .nickInUse, .invalidNick, .noSuchChannel, .notOnChannel, .notChannelOperator, .loginFailed, .rateLimited,
            .banned,
        ]
        frames.append(
            Bool.random(using: &generator)
                ? .ok : .error(ProtocolError(codes.randomElement(using: &generator)!, "no\r\nQUIT")))
        return frames
    }

    static func events(using generator: inout SeededGenerator) -> ServerFrame {
        let time = Timestamp(milliseconds: 1_800_000_000_000)
        let events: [ServerFrame] = [
            .message(
                ChatMessage(
                    channel: "#fuzz", id: 9, time: time, from: "fuzz",
                    body: .text("a\r\nQUIT :x\n" + String(repeating: "é", count: 600)))),
            .message(
                ChatMessage(channel: "#fuzz", id: 10, time: time, from: "other", body: MessageBody(.action, "jumps"))),
            .direct(DirectMessage(from: "other", to: "fuzz", time: time, body: .json("{\"a\":\"\\n\"}"))),
            .joined(channel: "#fuzz", nick: "x", time: time),
            .parted(channel: "#fuzz", nick: "fuzz", reason: "", time: time),
            .nickChanged(old: "fuzz", new: "fuzz2", time: time), .quitted(nick: "x", reason: "gone", time: time),
            .topic(channel: "#fuzz", topic: "new", setBy: "x", time: time), .notice("restart\nsoon"),
            .modeChanged(channel: "#fuzz", by: "x", change: "-b account:y", time: time),
            .kicked(channel: "#fuzz", nick: "fuzz", by: "x", reason: "r", time: time),
            .invited(channel: "#b", by: "x", time: time),
            .ping(token: 1),
            .channelInfo(
                ChannelInfo(name: "#c", members: 1, topic: "", topicSetBy: "", topicSetAt: time, lastMessageID: 0)),
        ]
        return events.randomElement(using: &generator)!
    }

    @Test func mutatedLinesThroughTheConversationKeepEveryLineWholeAndEveryQueueBounded() throws {
        let inputs = FuzzSettings.inputs(default: 20_000)
        var generator = SeededGenerator(seed: FuzzSettings.seed)
        let facts = IRCServerFacts(
            serverName: "fuzz.test", network: "fuzz", startedAt: Timestamp(milliseconds: 0),
            saslMechanisms: ["PLAIN", "SCRAM-SHA-256"], maxChannels: 10,
            now: { Timestamp(milliseconds: 1_800_000_000_000) })
        var conversation = IRCConversation(facts: facts)
        var reader = IRCLineReader(maxLineBytes: IRCBridge.maxLineBytes)
        var waiting: [UInt32] = []
        var linesOut = 0
        for input in 0..<inputs {
            if input % 5_000 == 0 || conversation.isClosing {
                conversation = IRCConversation(facts: facts)  // a new connection now and then, and after a QUIT
                waiting.removeAll()
            }
            var bytes = LineMutator.mutate(Self.corpus, using: &generator)
            bytes += [0x0D, 0x0A]
            reader.receive(ByteBuffer(bytes: bytes), now: UInt64(input))
            while let line = reader.next() {
                switch line {
                case .text(let text):
                    if IRCBridge.messageLength(of: text) > IRCBridge.maxMessageBytes {
                        conversation.receiveTooLongLine()
                    } else {
                        conversation.receive(line: text)
                    }
                case .tooLong: conversation.receiveTooLongLine()
                }
            }
            for request in conversation.takeRequests() {
                // Every request must encode: the conversation cut each field to its limit.
                var buffer = ByteBuffer()
                #expect(throws: Never.self) { try request.frame.encode(requestID: request.id, into: &buffer) }
                waiting.append(request.id)
            }
            // The tchat side answers some waiting requests and sends an event now and then.
            while !waiting.isEmpty, Int.random(in: 0..<3, using: &generator) > 0 {
                let id = waiting.remove(at: Int.random(in: 0..<waiting.count, using: &generator))
                for frame in Self.answers(for: id, using: &generator) { conversation.receive(frame, requestID: id) }
            }
            if Int.random(in: 0..<4, using: &generator) == 0 {
                conversation.receive(Self.events(using: &generator), requestID: 0)
            }
            for line in conversation.takeLines() {
                linesOut += 1
                let text = line.serialized()
                guard !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }),
                    IRCBridge.messageLength(of: text) <= 512 - 2
                else {
                    Issue.record("input \(input) made a bad line: \(text.debugDescription)")
                    return
                }
            }
            guard conversation.pending.count <= IRCConversation.maxPending,
                conversation.heldLines.count <= IRCConversation.maxHeldLines
            else {
                Issue.record(
                    "input \(input): \(conversation.pending.count) pending, \(conversation.heldLines.count) held")
                return
            }
        }
        #expect(linesOut > inputs / 4)
    }

    @Test func mutatedLinesAgainstARealIRCPortNeverStopTheServer() async throws {
        let inputs = FuzzSettings.inputs(default: 20_000)
        let (server, irc) = try await IRCChatTests.server()
        defer { Task { await server.server.shutdown() } }
        let bystander = try await IRCConnection.connect(to: irc)
        try await bystander.register("bystander")
        try await bystander.send("JOIN #fuzz")
        await bystander.waitFor("366", "bystander", "#fuzz")
        var generator = SeededGenerator(seed: FuzzSettings.seed)
        var sent = 0
        var connections = 0
        var answered = 0
        while sent < inputs {
            let client = try await IRCConnection.connect(to: irc)
            connections += 1
            if connections % 2 == 0 { try await client.register("f\(connections)") }  // half get past registration
            var batch: [UInt8] = []
            let count = min(500, inputs - sent)
            for _ in 0..<count {
                batch += LineMutator.mutate(Self.corpus, using: &generator) + [0x0D, 0x0A]
            }
            // A PING after the batch: once answered, every line before it was read.
            batch += Array("\r\nPING :fuzz-end-\(connections)\r\n".utf8)
            try? await client.sendBytes(batch)
            sent += count
            let settled = await eventually(within: .seconds(20)) {
                client.isClosed
                    || client.lines.contains { $0.verb == "PONG" && $0.params.last == "fuzz-end-\(connections)" }
            }
            #expect(settled, "the server neither answered nor closed connection \(connections)")
            if client.lines.contains(where: { $0.verb == "PONG" }) { answered += 1 }
            try? await client.channel.close()
            if connections % 10 == 0 {
                try await bystander.send("PING :alive-\(connections)")
                #expect(await bystander.waitFor("PONG", "test", "alive-\(connections)", within: .seconds(2)) != nil)
            }
        }
        #expect(answered > connections / 4, "\(answered) of \(connections) batches were read to their end")
        let fresh = try await IRCConnection.connect(to: irc)
        try await fresh.register("fresh")
        try await fresh.send("JOIN #fuzz")
        await fresh.waitFor("366", "fresh", "#fuzz")
        try await fresh.send("PRIVMSG #fuzz :after \(sent) mutated lines")
        await bystander.waitFor("PRIVMSG", "#fuzz", "after \(sent) mutated lines")
    }
}
