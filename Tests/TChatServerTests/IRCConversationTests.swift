import Foundation
import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// The IRC conversation as the state machine it is: lines and tchat frames in, requests and lines out, no socket
/// and a fixed clock.
@Suite struct IRCConversationTests {
    static let time = Timestamp(milliseconds: 1_800_000_000_000)
    static let facts = IRCServerFacts(
        serverName: "irc.test", network: "test", startedAt: time, saslMechanisms: ["SCRAM-SHA-256"], maxChannels: 10,
        now: { IRCConversationTests.time })

    /// A conversation past its welcome, as `nick`.
    static func welcomed(_ nick: String = "ann", capabilities: String = "") -> IRCConversation {
        var conversation = IRCConversation(facts: facts)
        if !capabilities.isEmpty {
            conversation.receive(line: "CAP REQ :\(capabilities)")
        }
        conversation.receive(line: "NICK \(nick)")
        conversation.receive(line: "USER u 0 * :U")
        if !capabilities.isEmpty { conversation.receive(line: "CAP END") }
        let hello = conversation.takeRequests()
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: nick, address: "", connectedAt: time,
            maxFrameLength: 65536, welcomeText: "", motd: "")
        conversation.receive(.welcome(welcome), requestID: hello[0].id)
        conversation.receive(.ok, requestID: hello[0].id)
        _ = conversation.takeLines()
        return conversation
    }

    @Test func helloWaitsForNickUserAndCapEndAndLinesMeanwhileAreHeldNotLost() {
        var conversation = IRCConversation(facts: Self.facts)
        conversation.receive(line: "CAP LS 302")
        conversation.receive(line: "NICK ann")
        conversation.receive(line: "USER u 0 * :U")
        #expect(conversation.takeRequests().isEmpty, "no HELLO during CAP negotiation")
        conversation.receive(line: "CAP END")
        conversation.receive(line: "JOIN #early")
        let requests = conversation.takeRequests()
        #expect(requests.count == 1)
        guard case .hello(let hello) = requests[0].frame else {
            Issue.record("not a hello: \(requests)")
            return
        }
        #expect(hello.nick == "ann" && !hello.acceptsRedirect)
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: "ann", address: "", connectedAt: Self.time,
            maxFrameLength: 65536, welcomeText: "", motd: "")
        conversation.receive(.welcome(welcome), requestID: requests[0].id)
        conversation.receive(.ok, requestID: requests[0].id)
        #expect(conversation.takeLines().map(\.command).drop { $0 == "CAP" }.prefix(4) == ["001", "002", "003", "004"])
        #expect(conversation.takeRequests().map(\.frame) == [.join(channel: "#early", history: 0)])
    }

    /// The HELLO always asks for accounts; what reaches the client depends on the capabilities it took.
    @Test func accountsShowAsAccountLinesAndOnJoinsOnlyWithTheirCapabilities() {
        var plain = Self.welcomed()
        var asked = Self.welcomed(capabilities: "account-notify extended-join")
        let events: [ServerFrame] = [
            .accountChanged(nick: "bob", account: "bob", time: Self.time),
            .accountChanged(nick: "bob", account: "", time: Self.time),
            .joinedAccount(channel: "#a", nick: "cy", account: "Cy", time: Self.time),
            .joinedAccount(channel: "#a", nick: "dee", account: "", time: Self.time),
            .joined(channel: "#a", nick: "eve", time: Self.time),
        ]
        for event in events {
            plain.receive(event, requestID: 0)
            asked.receive(event, requestID: 0)
        }
        #expect(
            asked.takeLines().map { $0.serialized() } == [
                ":bob!bob@tchat ACCOUNT bob", ":bob!bob@tchat ACCOUNT *", ":cy!cy@tchat JOIN #a Cy tchat",
                ":dee!dee@tchat JOIN #a * tchat", ":eve!eve@tchat JOIN #a * tchat",
            ])
        #expect(
            plain.takeLines().map { $0.serialized() } == [
                ":cy!cy@tchat JOIN #a", ":dee!dee@tchat JOIN #a", ":eve!eve@tchat JOIN #a",
            ])
        var hello = IRCConversation(facts: Self.facts)
        hello.receive(line: "NICK ann")
        hello.receive(line: "USER u 0 * :U")
        guard case .hello(let frame)? = hello.takeRequests().first?.frame else {
            Issue.record("no hello")
            return
        }
        #expect(frame.wantsAccounts && frame.wantsAwayChanges)
    }

    @Test func aRefusedNickAsksForAnotherAndTooManyLinesMeanwhileEndTheConnection() {
        var conversation = IRCConversation(facts: Self.facts)
        conversation.receive(line: "NICK bob")
        conversation.receive(line: "USER u 0 * :U")
        let hello = conversation.takeRequests()[0]
        conversation.receive(.error(ProtocolError(.nickInUse, "the nick bob is in use")), requestID: hello.id)
        #expect(conversation.takeLines().map(\.params) == [["*", "bob", "the nick bob is in use"]])
        conversation.receive(line: "NICK bob2")
        let retry = conversation.takeRequests()
        #expect(retry.count == 1)
        for index in 0..<IRCConversation.maxHeldLines { conversation.receive(line: "PRIVMSG #a :\(index)") }
        #expect(!conversation.wantsClose)
        conversation.receive(line: "PRIVMSG #a :one too many")
        #expect(conversation.wantsClose)
        #expect(conversation.takeLines().last?.params.last?.contains("Excess flood") == true)
    }

    @Test func saslPiecesAreJoinedAndAnOverlongMessageEndsTheAttempt() {
        var conversation = IRCConversation(facts: Self.facts)
        conversation.receive(line: "CAP REQ :sasl")
        conversation.receive(line: "AUTHENTICATE SCRAM-SHA-256")
        #expect(conversation.takeLines().last == IRCMessage("AUTHENTICATE", ["+"]))
        let first = "n,,n=ann,r=" + String(repeating: "x", count: 400)
        let encoded = Data(first.utf8).base64EncodedString()
        var rest = Substring(encoded)
        while !rest.isEmpty {
            conversation.receive(line: "AUTHENTICATE " + rest.prefix(400))
            rest = rest.dropFirst(400)
        }
        if encoded.count % 400 == 0 { conversation.receive(line: "AUTHENTICATE +") }
        #expect(conversation.takeRequests().map(\.frame) == [.login(mechanism: "SCRAM-SHA-256", data: first)])

        var long = IRCConversation(facts: Self.facts)
        long.receive(line: "AUTHENTICATE SCRAM-SHA-256")
        for _ in 0..<10 { long.receive(line: "AUTHENTICATE " + String(repeating: "QUFB", count: 100)) }
        #expect(long.takeLines().contains { $0.command == "905" })
        #expect(long.takeRequests().isEmpty)
        long.receive(line: "AUTHENTICATE PLAIN")
        #expect(long.takeLines().map(\.command) == ["908", "904"], "PLAIN is not offered without TLS")
    }

    /// The server sends a client its own channel messages back only when it wants them (`OwnCopies`): with
    /// echo-message. The copy that comes is shown like any message.
    @Test func ownChannelMessagesComeBackOnlyWithEchoMessage() {
        for echo in [false, true] {
            var conversation = Self.welcomed(capabilities: echo ? "echo-message" : "")
            #expect(conversation.wantsOwnCopies == echo)
            conversation.receive(line: "PRIVMSG #a :mine")
            let send = conversation.takeRequests()
            #expect(send.map(\.frame) == [.send(channel: "#a", body: .text("mine"))])
            let copy = ChatMessage(channel: "#a", id: 1, time: Self.time, from: "ann", body: .text("mine"))
            if echo { conversation.receive(.message(copy), requestID: 0) }
            conversation.receive(.sent(id: 1, time: Self.time), requestID: send[0].id)
            conversation.receive(.ok, requestID: send[0].id)
            let other = ChatMessage(channel: "#a", id: 2, time: Self.time, from: "bob", body: .text("theirs"))
            conversation.receive(.message(other), requestID: 0)
            let texts = conversation.takeLines().map { $0.params.last ?? "" }
            #expect(texts == (echo ? ["mine", "theirs"] : ["theirs"]))
        }
    }

    @Test func aHostOnlyBanIsRefusedAndAnAccountExtbanBecomesAnAccountBan() {
        var conversation = Self.welcomed()
        conversation.receive(line: "MODE #a +b *!*@evil.example")
        #expect(conversation.takeRequests().isEmpty)
        #expect(conversation.takeLines().last?.params.last?.contains("not hosts") == true)
        conversation.receive(line: "MODE #a " + String(repeating: "b", count: 400))
        #expect(conversation.takeRequests().count == 1, "one ban list, however many b")
        conversation.receive(line: "MODE #a +" + String(repeating: "z", count: 400))
        #expect(conversation.takeLines().filter { $0.command == "472" }.count == 1)
        conversation.receive(line: "MODE #a +bb $a:eve spam*!*@*")
        #expect(
            conversation.takeRequests().map(\.frame) == [
                .channelMode(channel: "#a", change: "+b account:eve"), .channelMode(channel: "#a", change: "+b spam*"),
            ])
    }

    @Test func aMessageOfManyLinesBecomesAtMost160() {
        var conversation = Self.welcomed()
        let many = ChatMessage(
            channel: "#a", id: 1, time: Self.time, from: "bob",
            body: .text(String(repeating: "a\n", count: 30_000)))
        conversation.receive(.message(many), requestID: 0)
        let lines = conversation.takeLines()
        #expect(lines.count == IRCConversation.maxLinesPerMessage)
        #expect(lines.last?.params.last == "[29841 more lines: the whole message is in tchat and CHATHISTORY]")
        let marks = ChatMessage(
            channel: "#a", id: 2, time: Self.time, from: "bob",
            body: .text("a" + String(repeating: "\u{301}", count: 30_000)))
        let start = ContinuousClock.now
        conversation.receive(.message(marks), requestID: 0)
        #expect(conversation.takeLines().allSatisfy { $0.messageBytes <= 510 })
        #expect(ContinuousClock.now - start < .seconds(2), "one pass, not one per piece")
    }

    /// Own copies come only to a client with echo-message (`OwnCopies`): every channel message that arrives is
    /// shown, a message from another session sharing the nick too, whatever is in flight.
    @Test func everyChannelMessageIsShownAndPingKeepsItsPlace() {
        var conversation = Self.welcomed()
        #expect(!conversation.wantsOwnCopies)
        for index in 0..<100 { conversation.receive(line: "PRIVMSG #elsewhere\(index) :not a member") }
        conversation.receive(line: "PRIVMSG #mine :in flight")
        let sends = conversation.takeRequests()
        let companion = ChatMessage(
            channel: "#mine", id: 5, time: Self.time, from: "ann", body: .text("from my laptop"))
        conversation.receive(.message(companion), requestID: 0)
        #expect(conversation.takeLines().map { $0.params.last } == ["from my laptop"])
        #expect(conversation.showsEveryChannelMessage)
        for request in sends { conversation.receive(.ok, requestID: request.id) }
        #expect(conversation.pending.isEmpty)
        #expect(Self.welcomed(capabilities: "echo-message").wantsOwnCopies)
        conversation.receive(line: "PRIVMSG nobody :x")
        conversation.receive(line: "PING :sync")
        let requests = conversation.takeRequests()
        #expect(requests.map(\.frame.type) == [.sendDirect, .ping])
        #expect(conversation.takeLines().isEmpty, "no PONG before the answers to what came before")
        conversation.receive(.error(ProtocolError(.noSuchNick, "no nobody")), requestID: requests[0].id)
        conversation.receive(.pong(token: 1), requestID: requests[1].id)
        #expect(conversation.takeLines().map(\.command) == ["401", "PONG"])
    }

    /// LUSERS and LINKS from LIST_SERVERS: every server of the network, with its clients and `--max-clients`.
    @Test func lusersAndLinksCountTheNetworksServersAndTheirClients() {
        var conversation = Self.welcomed()
        let here = ServerInfo(
            name: "irc.test", version: "1.2", clientAddress: "127.0.0.1:7000", clients: 3, capacity: 100,
            startedAt: Self.time, isThisServer: true)
        let other = ServerInfo(
            name: "b.test", version: "1.2", clientAddress: "127.0.0.1:7100", clients: 4, capacity: 50,
            startedAt: Self.time, isThisServer: false)
        for command in ["LUSERS", "LINKS"] {
            conversation.receive(line: command)
            let asked = conversation.takeRequests()
            #expect(asked.map(\.frame) == [.listServers])
            conversation.receive(.serverInfo(other), requestID: asked[0].id)
            conversation.receive(.serverInfo(here), requestID: asked[0].id)
            conversation.receive(.ok, requestID: asked[0].id)
        }
        let lines = conversation.takeLines().map { ([$0.command] + $0.params.dropFirst()).joined(separator: " ") }
        #expect(
            lines == [
                "251 There are 7 users and 0 invisible on 2 servers",
                "255 I have 3 clients and 1 servers",
                "265 3 100 Current local users 3, max 100",
                "266 7 150 Current global users 7, max 150",
                "364 irc.test irc.test 0 tchatd-1.2, clients at 127.0.0.1:7000",
                "364 b.test irc.test 1 tchatd-1.2, clients at 127.0.0.1:7100",
                "365 * End of /LINKS list",
            ])
    }

    @Test func aJoinBecomesJoinTopicAndNamesWithOperators() {
        var conversation = Self.welcomed(capabilities: "multi-prefix")
        conversation.receive(line: "JOIN #ops")
        let join = conversation.takeRequests()[0]
        let info = ChannelInfo(
            name: "#ops", members: 2, topic: "deploys", topicSetBy: "bob", topicSetAt: Self.time, lastMessageID: 0)
        conversation.receive(.channelInfo(info), requestID: join.id)
        conversation.receive(.ok, requestID: join.id)
        #expect(conversation.takeLines().map(\.command) == ["JOIN", "332", "333"])
        let modes = conversation.takeRequests()[0]
        #expect(modes.frame == .channelMode(channel: "#ops", change: ""))
        conversation.receive(
            .channelModes(channel: "#ops", modes: "+t", operators: "Bob", voiced: "ann", bans: ""), requestID: modes.id)
        conversation.receive(.ok, requestID: modes.id)
        let names = conversation.takeRequests()[0]
        for nick in ["ann", "bob"] {
            let client = ClientInfo(
                nick: nick, address: "", connectedAt: Self.time, durationMilliseconds: 0, clientName: "",
                clientVersion: "",
                host: "", processID: 0, server: "s")
            conversation.receive(.clientInfo(client), requestID: names.id)
        }
        conversation.receive(.ok, requestID: names.id)
        let lines = conversation.takeLines()
        #expect(lines.map(\.command) == ["353", "366"])
        #expect(lines[0].params.last == "+ann @bob")
    }
}
