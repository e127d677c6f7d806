import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// draft/multiline: a client's batch of lines is one tchat message, and a tchat message of several lines reaches
/// a client that asked as one batch.
@Suite struct IRCMultilineTests {
    static let capabilities = "batch draft/multiline server-time message-tags"

    static func send(_ lines: [String], as conversation: inout IRCConversation) -> [ClientFrame] {
        for line in lines { conversation.receive(line: line) }
        return conversation.takeRequests().map(\.frame)
    }

    static func fails(_ conversation: inout IRCConversation) -> [String] {
        conversation.takeLines().filter { $0.command == "FAIL" }.map { $0.params.dropLast().joined(separator: " ") }
    }

    @Test func capLsNamesTheLimits() {
        var conversation = IRCConversation(facts: IRCConversationTests.facts)
        conversation.receive(line: "CAP LS 302")
        let listing = conversation.takeLines().first { $0.command == "CAP" }?.params.last ?? ""
        #expect(listing.split(separator: " ").contains("draft/multiline=max-bytes=4096,max-lines=100"))
    }

    @Test func aBatchOfLinesIsOneMessageWithItsLineBreaks() {
        var ann = IRCConversationTests.welcomed("ann", capabilities: Self.capabilities)
        let frames = Self.send(
            [
                "BATCH +b1 draft/multiline #team", "@batch=b1 PRIVMSG #team :first line",
                "@batch=b1;draft/multiline-concat PRIVMSG #team : and its end", "@batch=b1 PRIVMSG #team :",
                "@batch=b1 PRIVMSG #team :after a blank line", "BATCH -b1",
            ], as: &ann)
        #expect(frames == [.send(channel: "#team", body: .text("first line and its end\n\nafter a blank line"))])
        // A notice batch, to a nick.
        let notice = Self.send(
            ["BATCH +n draft/multiline bob", "@batch=n NOTICE bob :one", "@batch=n NOTICE bob :two", "BATCH -n"],
            as: &ann)
        #expect(notice == [.sendDirect(nick: "bob", body: MessageBody(.notice, "one\ntwo"))])
        #expect(Self.fails(&ann).isEmpty)
    }

    @Test func aBatchThatBreaksARuleSendsNothingAndSaysWhy() {
        var ann = IRCConversationTests.welcomed("ann", capabilities: Self.capabilities)
        var frames = Self.send(
            [
                "BATCH +x draft/multiline #team", "@batch=x PRIVMSG #other :wrong", "@batch=x PRIVMSG #team :ok",
                "BATCH -x",
            ], as: &ann)
        #expect(frames.isEmpty)
        #expect(Self.fails(&ann) == ["BATCH MULTILINE_INVALID_TARGET #team #other"])
        frames = Self.send(
            ["BATCH +y draft/multiline #team"] + (0...100).map { "@batch=y PRIVMSG #team :line \($0)" } + ["BATCH -y"],
            as: &ann)
        #expect(frames.isEmpty)
        #expect(Self.fails(&ann) == ["BATCH MULTILINE_MAX_LINES 100"])
        let long = String(repeating: "x", count: 400)
        frames = Self.send(
            ["BATCH +z draft/multiline #team"] + (0..<11).map { _ in "@batch=z PRIVMSG #team :\(long)" }
                + ["BATCH -z"], as: &ann)
        #expect(frames.isEmpty)
        #expect(Self.fails(&ann) == ["BATCH MULTILINE_MAX_BYTES 4096"])
        frames = Self.send(
            [
                "BATCH +c draft/multiline #team", "@batch=c PRIVMSG #team :a",
                "@batch=c;draft/multiline-concat PRIVMSG #team :", "BATCH -c", "@batch=gone PRIVMSG #team :late",
                "BATCH -gone", "BATCH +e draft/multiline #team", "BATCH -e", "BATCH +m draft/multiline #team",
                "@batch=m PRIVMSG #team :a", "@batch=m NOTICE #team :b", "BATCH -m",
            ], as: &ann)
        #expect(frames.isEmpty)
        #expect(
            Self.fails(&ann) == [
                "BATCH MULTILINE_INVALID", "BATCH MULTILINE_INVALID", "BATCH MULTILINE_INVALID",
                "BATCH MULTILINE_INVALID", "BATCH MULTILINE_INVALID",
            ])
        // One target only, and not a blank batch.
        frames = Self.send(
            [
                "BATCH +k draft/multiline #a,#b", "@batch=k PRIVMSG #a,#b :x", "BATCH -k",
                "BATCH +w draft/multiline #team", "@batch=w PRIVMSG #team :", "@batch=w PRIVMSG #team :", "BATCH -w",
            ], as: &ann)
        #expect(frames.isEmpty)
        #expect(Self.fails(&ann) == ["BATCH MULTILINE_INVALID_TARGET #a,#b", "BATCH MULTILINE_INVALID"])
        // Without the capabilities, a BATCH is refused and a tagged line is not sent either.
        var bob = IRCConversationTests.welcomed("bob")
        #expect(
            Self.send(["BATCH +b draft/multiline #team", "@batch=b PRIVMSG #team :x", "BATCH -b"], as: &bob).isEmpty)
        #expect(Self.fails(&bob).count == 3)
    }

    @Test func aMessageOfSeveralLinesReachesAClientThatAskedAsOneBatch() {
        let time = IRCConversationTests.time
        let message = ChatMessage(
            channel: "#team", id: 42, time: time, from: "bob",
            body: .text("first\n\n" + String(repeating: "long ", count: 120)))
        var ann = IRCConversationTests.welcomed("ann", capabilities: Self.capabilities)
        ann.receive(.message(message), requestID: 0)
        let lines = ann.takeLines()
        #expect(lines.first?.command == "BATCH" && lines.last?.command == "BATCH")
        #expect(lines.first?.params == ["+ml16", "draft/multiline", "#team"])
        #expect(lines.first?.tag("msgid") == "42-#team" && lines.first?.tag("time") == time.iso8601)
        #expect(lines.last?.params == ["-ml16"])
        let inside = lines.dropFirst().dropLast()
        #expect(inside.allSatisfy { $0.command == "PRIVMSG" && $0.tag("batch") == "ml16" && $0.tag("msgid") == nil })
        #expect(inside.map { $0.tag("draft/multiline-concat") != nil } == [false, false, false, true])
        // Joined as the spec joins them, it is the message again (the cut falls at a space, kept on the left).
        var joined = ""
        for (index, line) in inside.enumerated() {
            if index > 0, line.tag("draft/multiline-concat") == nil { joined += "\n" }
            joined += line.params[1]
        }
        #expect(joined == message.body.text)
        // A client without it gets a PRIVMSG per piece, as before; one line is one line for both.
        var bob = IRCConversationTests.welcomed("bob", capabilities: "server-time message-tags")
        bob.receive(.message(message), requestID: 0)
        let separate = bob.takeLines()
        #expect(separate.map(\.command) == ["PRIVMSG", "PRIVMSG", "PRIVMSG"])
        // The msgid names the message once, on its first line; each line has its time.
        #expect(separate.map { $0.tag("msgid") } == ["42-#team", nil, nil])
        #expect(separate.allSatisfy { $0.tag("time") == time.iso8601 })
        ann.receive(
            .message(ChatMessage(channel: "#team", id: 43, time: time, from: "bob", body: .text("hi"))), requestID: 0)
        #expect(ann.takeLines().map(\.command) == ["PRIVMSG"])
    }
}
