import Foundation
import TChatAuth
import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// IRC clients on `--irc-listen` and tchat clients on the tchat port share one server: channels, direct messages,
/// nicks and accounts.
@Suite struct IRCChatTests {
    static func server(_ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws
        -> (TestServer, ServerAddress)
    {
        let server = try await TestServer { configuration in
            configuration.ircAddress = ServerAddress(host: "127.0.0.1", port: 0)
            configuration.scramIterations = ScramKeys.minimumIterations
            configure(&configuration)
        }
        return (server, try #require(server.server.ircAddress))
    }

    @Test func anIRCUserAndATchatUserChatBothWaysInAChannelAndDirectly() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#room", history: 0), id: 2)
        #expect(await bob.reply(to: 2).last == .ok)

        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice")
        try await alice.send("JOIN #room")
        await alice.waitFor("JOIN", "#room")
        let names = await alice.waitFor("353", "alice", "=", "#room")
        #expect(Set(names?.params.last?.split(separator: " ") ?? []) == ["alice", "bob"])
        await alice.waitFor("366", "alice", "#room")
        #expect(await eventually { bob.frames.contains { $0.frame.type == .joined } })

        // IRC to tchat: formatting codes kept, /me as an action, a direct message.
        try await alice.send(
            "PRIVMSG #room :hi \u{2}bob\u{2}", "PRIVMSG #room :\u{1}ACTION waves\u{1}", "PRIVMSG bob :psst")
        #expect(
            await eventually {
                let frames = bob.frames.map(\.frame)
                return frames.contains {
                    if case .message(let m) = $0 {
                        m.from == "alice" && m.body == .text("hi \u{2}bob\u{2}")
                    } else {
                        false
                    }
                }
                    && frames.contains {
                        if case .message(let m) = $0 { m.body == MessageBody(.action, "waves") } else { false }
                    }
                    && frames.contains {
                        if case .direct(let m) = $0 { m.from == "alice" && m.body == .text("psst") } else { false }
                    }
            })

        // tchat to IRC: text, JSON as its text, an action, a direct message.
        try await bob.send(.send(channel: "#room", body: .text("hello alice")), id: 3)
        try await bob.send(.send(channel: "#room", body: .json(#"{"a":1}"#)), id: 4)
        try await bob.send(.send(channel: "#room", body: MessageBody(.action, "nods")), id: 5)
        try await bob.send(.sendDirect(nick: "alice", body: .text("private")), id: 6)
        await alice.waitFor("PRIVMSG", "#room", "hello alice")
        await alice.waitFor("PRIVMSG", "#room", #"{"a":1}"#)
        await alice.waitFor("PRIVMSG", "#room", "\u{1}ACTION nods\u{1}")
        let direct = await alice.waitFor("PRIVMSG", "alice", "private")
        #expect(direct?.source == "bob!bob@tchat")
        // Without echo-message, alice does not get her own messages back.
        #expect(!alice.lines.contains { $0.verb == "PRIVMSG" && $0.source?.hasPrefix("alice!") == true })
    }

    /// Members of one loop share renderings and whole runs of lines (`IRCRenderCache`, `IRCRenderedBatch`): each
    /// still gets its own tags, and a sender its own copies only with echo-message, every message once and in order.
    @Test func membersWithDifferentTagsAndASenderInABusyChannelEachGetTheirOwnLines() async throws {
        let (server, irc) = try await Self.server { $0.requestRate = 0 }
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#busy", history: 0), id: 2)
        var members: [(IRCConnection, [String])] = []
        for (index, capabilities) in [[], ["server-time", "message-tags"], [], ["message-tags"], []].enumerated() {
            let member = try await IRCConnection.connect(to: irc)
            try await member.register("m\(index)", capabilities: capabilities)
            try await member.send("JOIN #busy")
            await member.waitFor("366", "m\(index)", "#busy")
            members.append((member, capabilities))
        }
        let sender = try await IRCConnection.connect(to: irc)
        try await sender.register("s", capabilities: ["echo-message"])
        try await sender.send("JOIN #busy")
        await sender.waitFor("366", "s", "#busy")
        let quiet = try await IRCConnection.connect(to: irc)
        try await quiet.register("q")
        try await quiet.send("JOIN #busy")
        await quiet.waitFor("366", "q", "#busy")

        let count = 150
        try await sender.send((0..<count).map { "PRIVMSG #busy :from s \($0)" })
        try await quiet.send((0..<count).map { "PRIVMSG #busy :from q \($0)" })
        for index in 0..<count {
            try await bob.send(.send(channel: "#busy", body: .text("from bob \(index)")), id: UInt32(10 + index))
        }
        func texts(_ connection: IRCConnection, from nick: String) -> [String] {
            connection.lines.filter { $0.command == "PRIVMSG" && $0.source?.hasPrefix(nick + "!") == true }
                .map { $0.params.last ?? "" }
        }
        for nick in ["s", "q", "bob"] {
            let expected = (0..<count).map { "from \(nick) \($0)" }
            for (member, capabilities) in members {
                #expect(await eventually { texts(member, from: nick).count >= count }, "\(nick) to a member")
                #expect(texts(member, from: nick) == expected)
                let tagged = member.lines.filter { $0.command == "PRIVMSG" }
                #expect(tagged.allSatisfy { ($0.tag("time") != nil) == capabilities.contains("server-time") })
                #expect(tagged.allSatisfy { ($0.tag("msgid") != nil) == capabilities.contains("message-tags") })
            }
            #expect(await eventually { texts(sender, from: nick).count >= count })
            #expect(texts(sender, from: nick) == expected, "echo-message: the sender's own lines too")
        }
        #expect(await eventually { texts(quiet, from: "bob").count >= count && texts(quiet, from: "s").count >= count })
        #expect(texts(quiet, from: "q").isEmpty, "without echo-message no own copies")
        #expect(texts(quiet, from: "s") == (0..<count).map { "from s \($0)" })

        // One message per drain, all of one length: each run is a new buffer, never the last one's lines.
        let paced = (10..<40).map { "paced \($0)" }
        for (index, text) in paced.enumerated() {
            try await bob.send(.send(channel: "#busy", body: .text(text)), id: UInt32(1000 + index))
            for (member, _) in members {
                #expect(await eventually { texts(member, from: "bob").last == text })
            }
        }
        for (member, _) in members { #expect(Array(texts(member, from: "bob").suffix(paced.count)) == paced) }
    }

    /// ISON (irssi's notify list) and USERHOST answer for nicks on the network, in the order asked, away marked.
    /// NOTICE stays a notice both ways, so bots and services never answer each other: an IRC client's reaches tchat
    /// as a notice body and other IRC clients as NOTICE; a tchat notice reaches IRC as NOTICE; no NOTICE is answered
    /// (with an error, or with the recipient's away text); and a client that does not know notices (an older tchat,
    /// HELLO flag bit 3 clear) gets them as text, live, replayed on joining and in history.
    @Test func noticesTravelAsNoticesBothWays() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob", knowsNotices: true)
        let old = try await RawConnection.connect(to: server.address)
        try await old.hello("olly")
        for (client, id) in [(bob, UInt32(2)), (old, UInt32(2))] {
            try await client.send(.join(channel: "#room", history: 0), id: id)
            #expect(await client.reply(to: id).last == .ok)
        }
        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice", capabilities: ["echo-message"])
        let carol = try await IRCConnection.connect(to: irc)
        try await carol.register("carol")
        for (client, nick) in [(alice, "alice"), (carol, "carol")] {
            try await client.send("JOIN #room")
            await client.waitFor("366", nick, "#room")
        }
        try await old.send(.setAway("out"), id: 3)
        _ = await old.reply(to: 3)
        try await alice.send(
            "NOTICE #room :build 42 passed", "NOTICE bob :deploy done", "NOTICE olly :deploy done", "NOTICE nobody :hi")
        let seen = await carol.waitFor("NOTICE", "#room", "build 42 passed")
        #expect(seen?.source == "alice!alice@tchat")
        func messageBodies(_ frames: [ServerFrame]) -> [MessageBody] {
            frames.compactMap { if case .message(let m) = $0 { m.body } else { nil } }
        }
        func bodies(_ connection: RawConnection) -> [MessageBody] {
            connection.frames.compactMap {
                switch $0.frame {
                case .message(let m): m.body
                case .direct(let m): m.body
                default: nil
                }
            }
        }
        #expect(
            await eventually {
                bodies(bob) == [MessageBody(.notice, "build 42 passed"), MessageBody(.notice, "deploy done")]
            })
        #expect(await eventually { bodies(old) == [.text("build 42 passed"), .text("deploy done")] })
        try await bob.send(.send(channel: "#room", body: MessageBody(.notice, "tchat bot says hi")), id: 3)
        #expect(await bob.reply(to: 3).last == .ok)
        await alice.waitFor("NOTICE", "#room", "tchat bot says hi")
        await alice.waitFor("NOTICE", "olly", "deploy done")  // echo-message echoes a NOTICE as NOTICE
        #expect(!alice.lines.contains { $0.verb == "401" }, "a NOTICE to nobody is not answered")
        #expect(!alice.lines.contains { $0.verb == "PRIVMSG" })
        #expect(!alice.lines.contains { $0.params.last?.contains("is away") == true }, "nor with an away text")
        // Replayed on joining and read from history: as a notice, or as text to the older client.
        try await old.send(.history(channel: "#room", before: 0, limit: 10), id: 4)
        #expect(
            messageBodies(await old.reply(to: 4)) == [.text("build 42 passed"), .text("tchat bot says hi")])
        try await bob.send(.part(channel: "#room", reason: ""), id: 5)
        _ = await bob.reply(to: 5)
        try await bob.send(.join(channel: "#room", history: 10), id: 6)
        #expect(
            messageBodies(await bob.reply(to: 6))
                == [MessageBody(.notice, "build 42 passed"), MessageBody(.notice, "tchat bot says hi")])
    }

    @Test func isonAndUserhostAnswerForEveryNickAskedInOrder() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("Bob")
        try await bob.send(.setAway("lunch"), id: 2)
        #expect(await bob.reply(to: 2).last == .ok)
        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice")
        try await alice.send("ISON nobody bob alice :zed")
        let ison = await alice.waitFor("303", "alice")
        #expect(ison?.params.last == "Bob alice", "as their holders spell them, in the order asked")
        try await alice.send("USERHOST alice bob nobody")
        let userhost = await alice.waitFor("302", "alice")
        #expect(userhost?.params.last == "alice=+alice@tchat Bob=-Bob@tchat")
        try await alice.send("ISON ghost")
        #expect(await eventually { alice.lines.filter { $0.command == "303" }.count == 2 })
        #expect(alice.lines.filter { $0.command == "303" }.last?.params.last == "", "nobody: an empty 303")
        try await alice.send("USERHOST")
        await alice.waitFor("461", "alice", "USERHOST")
    }

    @Test func aTchatMessageNeverBecomesAnotherCommandAndLongOnesAreSplitToFitALine() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#room", history: 0), id: 2)
        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice")
        try await alice.send("JOIN #room")
        await alice.waitFor("366", "alice", "#room")

        try await bob.send(.send(channel: "#room", body: .text("one\r\nQUIT :pwned\r\nKICK #room alice\ntwo")), id: 3)
        await alice.waitFor("PRIVMSG", "#room", "two")
        let texts = alice.lines.filter { $0.verb == "PRIVMSG" }.map { $0.params.last ?? "" }
        #expect(texts == ["one", "QUIT :pwned", "KICK #room alice", "two"])
        #expect(!alice.lines.contains { $0.verb == "QUIT" || $0.verb == "KICK" })

        let long = (0..<400).map { "word\($0)" }.joined(separator: " ") + " é👋🏽"
        try await bob.send(.send(channel: "#room", body: .text(long)), id: 4)
        #expect(await eventually { alice.rawLines.contains { $0.hasSuffix("é👋🏽") } })
        let pieces = alice.rawLines.filter { $0.contains("PRIVMSG #room :word") || $0.hasSuffix("é👋🏽") }
        #expect(pieces.count > 4)
        #expect(pieces.allSatisfy { $0.utf8.count + 2 <= 512 })
        let rebuilt = alice.lines.filter { $0.verb == "PRIVMSG" }.dropFirst(4).map { $0.params.last ?? "" }.joined()
        #expect(rebuilt == long)
    }

    @Test func echoMessageServerTimeAndMessageTagsAreHonouredWhenAskedFor() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let alice = try await IRCConnection.connect(to: irc)
        try await alice.send("CAP LS 302")
        let listing = await alice.waitFor("CAP", "*", "LS")
        let offered = Set(listing?.params.last?.split(separator: " ").map(String.init) ?? [])
        #expect(offered.isSuperset(of: ["echo-message", "server-time", "message-tags", "sasl=SCRAM-SHA-256"]))
        #expect(!offered.contains("sasl=PLAIN,SCRAM-SHA-256"), "PLAIN is offered only over TLS")
        try await alice.send("NICK alice", "USER a 0 * :A", "CAP REQ :echo-message server-time message-tags bogus")
        await alice.waitFor("CAP", "*", "NAK")
        try await alice.send("CAP REQ :echo-message server-time message-tags", "CAP LIST")
        await alice.waitFor("CAP", "*", "ACK")
        #expect(alice.lines.contains { $0.verb == "001" } == false, "the welcome waits for CAP END")
        try await alice.send("CAP END", "JOIN #t")
        await alice.waitFor("366", "alice", "#t")
        try await alice.send("PRIVMSG #t :mine", "PRIVMSG alice :to myself")
        let echo = await alice.waitFor("PRIVMSG", "#t", "mine")
        #expect(echo?.tag("time")?.hasSuffix("Z") == true)
        #expect(echo?.tag("msgid") == "1-#t")
        await alice.waitFor("PRIVMSG", "alice", "to myself")
    }

    @Test func aTakenOrInvalidNickGetsItsNumericAndRegistrationGoesOnWithAnother() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        let other = try await IRCConnection.connect(to: irc)
        try await other.send("NICK bob", "USER b 0 * :B")
        await other.waitFor("433", "*", "bob")
        try await other.send("NICK b@d")
        await other.waitFor("432")
        try await other.send("NICK bob2")
        await other.waitFor("001", "bob2")
        try await other.send("NICK bob")
        await other.waitFor("433", "bob2", "bob")
        try await other.send("NICK robert")
        let change = await other.waitFor("NICK", "robert")
        #expect(change?.source == "bob2!bob2@tchat")
    }

    @Test func saslScramLogsAnIRCClientInToItsTchatAccountBeforeTheWelcome() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.quit(reason: ""), id: 9)
        _ = await ann.reply(to: 9)
        #expect(await eventually { ann.isClosed })

        // Without logging in, the account's nick is refused.
        let guest = try await IRCConnection.connect(to: irc)
        try await guest.send("NICK ann", "USER a 0 * :A")
        await guest.waitFor("433", "*", "ann")

        let wrong = try await IRCConnection.connect(to: irc)
        try await Self.scram(wrong, account: "ann", password: "wrong password", expectSuccess: false)
        await wrong.waitFor("904")

        let client = try await IRCConnection.connect(to: irc)
        try await Self.scram(client, account: "ann", password: AccountTests.password, expectSuccess: true)
        let loggedIn = await client.waitFor("900")
        #expect(loggedIn?.params[2] == "ann")
        await client.waitFor("903")
        try await client.send("CAP END")
        await client.waitFor("001", "ann")

        // The account dropped from a tchat session logs both out: 901 here, LOGGED_IN with no account there.
        let other = try await RawConnection.connect(to: server.address)
        try await other.hello("annex")
        #expect(try await AccountTests.login(other, account: "ann", password: AccountTests.password).last == .ok)
        try await other.send(.dropAccount(password: AccountTests.password), id: 20)
        #expect(await other.reply(to: 20, within: .seconds(30)).last == .ok)
        #expect(await client.waitFor("901", "ann", "ann!ann@tchat")?.params.last == "You are now logged out")
        #expect(await eventually { other.frames.contains { $0.id == 0 && $0.frame == .loggedIn(account: "") } })
        #expect(!client.lines.contains { $0.verb == "ACCOUNT" }, "no ACCOUNT line for oneself")
    }

    /// CAP, NICK, USER and a SCRAM-SHA-256 exchange over AUTHENTICATE, up to the client's final `+`.
    static func scram(_ client: IRCConnection, account: String, password: String, expectSuccess: Bool) async throws {
        try await client.send("CAP LS 302", "NICK \(account)", "USER u 0 * :U", "CAP REQ :sasl")
        await client.waitFor("CAP", "*", "ACK")
        try await client.send("AUTHENTICATE SCRAM-SHA-256")
        await client.waitFor("AUTHENTICATE", "+")
        var scram = ScramClient(account: account, password: password, nonce: RandomBytes.nonce())
        try await client.send("AUTHENTICATE " + Data(try scram.clientFirst().utf8).base64EncodedString())
        let first = await client.waitFor(within: .seconds(30)) { $0.verb == "AUTHENTICATE" && $0.params != ["+"] }
        let serverFirst = String(decoding: Data(base64Encoded: first?.params[0] ?? "") ?? Data(), as: UTF8.self)
        let final = try scram.receiveServerFirst(serverFirst)
        try await client.send("AUTHENTICATE " + Data(final.utf8).base64EncodedString())
        guard expectSuccess else { return }
        let last = await client.waitFor(within: .seconds(30)) {
            $0.verb == "AUTHENTICATE" && $0.params != ["+"] && $0.params != first?.params
        }
        let serverFinal = String(decoding: Data(base64Encoded: last?.params[0] ?? "") ?? Data(), as: UTF8.self)
        try scram.receiveServerFinal(serverFinal)
        try await client.send("AUTHENTICATE +")
    }

    @Test func joiningShowsTheTopicAndTheNamesWithTheirOperators() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let ann = try await AccountTests.registered("ann", on: server)
        try await ann.send(.join(channel: "#ops", history: 0), id: 3)
        _ = await ann.reply(to: 3)
        try await ann.send(.setTopic(channel: "#ops", topic: "deploys at five"), id: 4)
        _ = await ann.reply(to: 4)

        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice", capabilities: ["multi-prefix"])
        try await alice.send("JOIN #ops")
        await alice.waitFor("332", "alice", "#ops", "deploys at five")
        let setter = await alice.waitFor("333", "alice", "#ops")
        #expect(setter?.params[2].hasPrefix("ann") == true)
        let names = await alice.waitFor("353", "alice", "=", "#ops")
        #expect(Set(names?.params.last?.split(separator: " ") ?? []) == ["@ann", "alice"])
        try await alice.send("MODE #ops +t")
        await alice.waitFor("482", "alice", "#ops")
        try await ann.send(.channelMode(channel: "#ops", change: "+v alice"), id: 5)
        let voiced = await alice.waitFor("MODE", "#ops", "+v", "alice")
        #expect(voiced?.source == "ann!ann@tchat")
        try await alice.send("NAMES #ops")
        #expect(
            await eventually {
                alice.lines.contains { $0.verb == "353" && $0.params.last?.contains("+alice") == true }
            },
            "\(alice.rawLines)")
        try await alice.send("TOPIC #ops")
        #expect(await eventually { alice.lines.filter { $0.verb == "332" }.count == 2 })
    }

    @Test func aMultilineBatchIsOneTchatMessageAndReachesThoseWhoAskedAsOneBatch() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#ml", history: 0), id: 2)
        _ = await bob.reply(to: 2)
        let ann = try await IRCConnection.connect(to: irc)
        try await ann.register("ann", capabilities: ["batch", "draft/multiline", "echo-message"])
        let kim = try await IRCConnection.connect(to: irc)
        try await kim.register("kim")
        for (client, nick) in [(ann, "ann"), (kim, "kim")] {
            try await client.send("JOIN #ml")
            await client.waitFor("366", nick, "#ml")
        }

        try await ann.send(
            "BATCH +p draft/multiline #ml", "@batch=p PRIVMSG #ml :hello", "@batch=p PRIVMSG #ml :world", "BATCH -p")
        #expect(
            await eventually {
                bob.frames.contains {
                    if case .message(let m) = $0.frame { m.body.text == "hello\nworld" } else { false }
                }
            }, "one tchat message, its lines whole")
        await kim.waitFor("PRIVMSG", "#ml", "world")
        #expect(kim.lines.filter { $0.verb == "PRIVMSG" }.map { $0.params[1] } == ["hello", "world"])
        // ann's own copy (echo-message) comes back as the batch it sent.
        let start = await ann.waitFor { $0.verb == "BATCH" && $0.params.first?.hasPrefix("+") == true }
        #expect(start?.params.dropFirst() == ["draft/multiline", "#ml"])
        let reference = String(start?.params[0].dropFirst() ?? "")
        await ann.waitFor("BATCH", "-" + reference)
        #expect(ann.lines.filter { $0.tag("batch") == reference }.map { $0.params[1] } == ["hello", "world"])

        // A tchat user's message of two lines reaches ann as one batch, kim as two lines.
        try await bob.send(.send(channel: "#ml", body: .text("one\ntwo")), id: 5)
        let two = await ann.waitFor("PRIVMSG", "#ml", "two")
        #expect(two?.tag("batch") != nil && two?.tag("batch") != reference)
        await kim.waitFor("PRIVMSG", "#ml", "two")
        #expect(!kim.lines.contains { $0.verb == "BATCH" })
    }

    @Test func chathistoryPagesAChannelsStoredMessagesInABatch() async throws {
        let (server, irc) = try await Self.server()
        defer { Task { await server.server.shutdown() } }
        let bob = try await RawConnection.connect(to: server.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#h", history: 0), id: 2)
        _ = await bob.reply(to: 2)
        for index in 1...6 {
            try await bob.send(.send(channel: "#h", body: .text("line \(index)")), id: UInt32(10 + index))
            _ = await bob.reply(to: UInt32(10 + index))
            try await Task.sleep(for: .milliseconds(3))  // each its own millisecond, for the timestamps below
        }
        let alice = try await IRCConnection.connect(to: irc)
        try await alice.register("alice", capabilities: ["draft/chathistory", "batch", "server-time", "message-tags"])
        await alice.waitFor { $0.verb == "005" && $0.params.contains("CHATHISTORY=1000") }
        try await alice.send("JOIN #h")
        await alice.waitFor("366", "alice", "#h")

        /// The PRIVMSG lines of the batch answering `command`; nil when no batch ended.
        func batch(_ command: String) async throws -> [IRCMessage]? {
            let before = alice.lines.count
            try await alice.send(command)
            guard
                let end = await alice.waitFor({
                    $0.verb == "BATCH" && $0.params.first?.hasPrefix("-") == true
                        && alice.lines.firstIndex(of: $0)! >= before
                })
            else { return nil }
            let reference = String(end.params[0].dropFirst())
            return alice.lines.filter { $0.tag("batch") == reference && $0.verb == "PRIVMSG" }
        }
        let latest = try #require(try await batch("CHATHISTORY LATEST #h * 3"))
        #expect(latest.map { $0.params.last ?? "" } == ["line 4", "line 5", "line 6"])
        #expect(latest.allSatisfy { $0.tag("time") != nil && $0.source == "bob!bob@tchat" })
        let fourth = try #require(latest.first?.tag("msgid"))
        let before = try #require(try await batch("CHATHISTORY BEFORE #h msgid=\(fourth) 2"))
        #expect(before.map { $0.params.last ?? "" } == ["line 2", "line 3"])
        let second = try #require(before.first?.tag("msgid"))
        let after = try await batch("CHATHISTORY AFTER #h msgid=\(second) 3")
        #expect(after?.map { $0.params.last ?? "" } == ["line 3", "line 4", "line 5"])
        let between = try await batch("CHATHISTORY BETWEEN #h msgid=\(second) msgid=\(fourth) 10")
        #expect(between?.map { $0.params.last ?? "" } == ["line 3"])
        // Timestamps, as server-time gives them: BEFORE and BETWEEN's ends leave out a message at the time itself.
        let times = try [latest[0], before[0], before[1]].map { try #require($0.tag("time")) }  // lines 4, 2, 3
        let (time2, time4) = (times[1], times[0])
        let beforeTime = try await batch("CHATHISTORY BEFORE #h timestamp=\(time4) 2")
        #expect(beforeTime?.map { $0.params.last ?? "" } == ["line 2", "line 3"])
        let afterTime = try await batch("CHATHISTORY AFTER #h timestamp=\(time2) 3")
        #expect(afterTime?.map { $0.params.last ?? "" } == ["line 3", "line 4", "line 5"])
        let latestTime = try await batch("CHATHISTORY LATEST #h timestamp=\(time4) 10")
        #expect(latestTime?.map { $0.params.last ?? "" } == ["line 5", "line 6"])
        let betweenTimes = try await batch("CHATHISTORY BETWEEN #h timestamp=\(time4) timestamp=\(time2) 10")
        #expect(betweenTimes?.map { $0.params.last ?? "" } == ["line 3"])
        let aroundTime = try await batch("CHATHISTORY AROUND #h timestamp=\(times[2]) 3")
        #expect(aroundTime?.map { $0.params.last ?? "" } == ["line 2", "line 3", "line 4"])
        #expect(try await batch("CHATHISTORY BEFORE #h timestamp=2026-01-01T00:00:00.000Z 5") == [])
        // A PING sent after a search's CHATHISTORY is answered after its batch.
        let beforePing = alice.lines.count
        try await alice.send("CHATHISTORY AFTER #h timestamp=\(time2) 1", "PING :after-history")
        let pong = await alice.waitFor { $0.verb == "PONG" && $0.params.last == "after-history" }
        let pongIndex = alice.lines.lastIndex { $0 == pong } ?? 0
        #expect(alice.lines[beforePing..<pongIndex].contains { $0.verb == "BATCH" && $0.params[0].hasPrefix("-") })
        // BETWEEN without its limit is refused; it used to read past the parameters and stop the server.
        try await alice.send("CHATHISTORY BETWEEN #h msgid=\(second) msgid=\(fourth)")
        await alice.waitFor("FAIL", "CHATHISTORY", "NEED_MORE_PARAMS")
        try await alice.send("CHATHISTORY BEFORE #h timestamp=yesterday 5")
        await alice.waitFor("FAIL", "CHATHISTORY", "INVALID_PARAMS")
        try await alice.send("CHATHISTORY LATEST #nowhere * 5")
        await alice.waitFor("FAIL", "CHATHISTORY", "INVALID_TARGET")
        #expect(try await batch("CHATHISTORY AFTER #h msgid=18446744073709551615-#h 1000") == [], "no overflow")
    }
}
