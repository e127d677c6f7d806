import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// account-tag: a user's lines carry the account its nick's holder is logged in to, for clients that asked.
@Suite struct IRCAccountTagTests {
    static let accounts = ["ann": "Ann", "me": "Me"]

    static func conversation(capabilities: String) -> IRCConversation {
        var facts = IRCConversationTests.facts
        facts.accountOf = { accounts[$0] ?? "" }
        var conversation = IRCConversation(facts: facts)
        conversation.receive(line: "CAP REQ :\(capabilities)")
        conversation.receive(line: "NICK me")
        conversation.receive(line: "USER u 0 * :U")
        conversation.receive(line: "CAP END")
        let hello = conversation.takeRequests()
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: "me", address: "",
            connectedAt: IRCConversationTests.time, maxFrameLength: 65536, welcomeText: "", motd: "")
        conversation.receive(.welcome(welcome), requestID: hello[0].id)
        conversation.receive(.ok, requestID: hello[0].id)
        _ = conversation.takeLines()
        return conversation
    }

    @Test func aLoggedInSendersLinesCarryItsAccountAndNoOneElsesDo() {
        var conversation = Self.conversation(capabilities: "account-tag")
        conversation.deliver(
            from: "ann", to: "me", body: .text("hi"), time: IRCConversationTests.time, messageID: nil)
        conversation.deliver(
            from: "bob", to: "me", body: .text("hello"), time: IRCConversationTests.time, messageID: nil)
        conversation.notice("a server notice")
        let lines = conversation.takeLines()
        #expect(lines.map { $0.tag("account") } == ["Ann", nil, nil])
        #expect(lines.first?.tags.count == 1, "only the account: no other tag was asked for")
    }

    @Test func withoutTheCapabilityNothingIsLookedUp() {
        var facts = IRCConversationTests.facts
        facts.accountOf = { _ in
            Issue.record("looked up without account-tag")
            return "Ann"
        }
        var conversation = IRCConversation(facts: facts)
        conversation.receive(line: "NICK me")
        conversation.receive(line: "USER u 0 * :U")
        let hello = conversation.takeRequests()
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: "me", address: "",
            connectedAt: IRCConversationTests.time, maxFrameLength: 65536, welcomeText: "", motd: "")
        conversation.receive(.welcome(welcome), requestID: hello[0].id)
        conversation.receive(.ok, requestID: hello[0].id)
        conversation.deliver(from: "ann", to: "me", body: .text("hi"), time: IRCConversationTests.time, messageID: nil)
        #expect(conversation.takeLines().allSatisfy { $0.tag("account") == nil })
    }

    /// A multi-line message's account is on its BATCH line; history is whoever held the nick then, so none.
    @Test func batchesCarryItOnTheirOpeningLineAndHistoryNotAtAll() {
        var conversation = Self.conversation(capabilities: "account-tag batch draft/multiline draft/chathistory")
        conversation.deliver(
            from: "ann", to: "me", body: .text("one\ntwo"), time: IRCConversationTests.time, messageID: nil)
        let batch = conversation.takeLines()
        #expect(batch.map(\.command) == ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"])
        #expect(batch.map { $0.tag("account") } == ["Ann", nil, nil, nil])

        let old = ChatMessage(
            channel: "#a", id: 3, time: IRCConversationTests.time, from: "ann", body: .text("long ago"))
        conversation.sendHistory(target: "#a", after: 0, limit: 10, messages: [old])
        let history = conversation.takeLines()
        #expect(history.map(\.command) == ["BATCH", "PRIVMSG", "BATCH"])
        #expect(history.allSatisfy { $0.tag("account") == nil })
    }

    @Test func itIsOfferedAndChangesTheRendering() {
        #expect(IRCCapability.offered(by: IRCConversationTests.facts).contains(.accountTag))
        let plain = Self.conversation(capabilities: "server-time")
        let tagged = Self.conversation(capabilities: "server-time account-tag")
        #expect(plain.renderVariant != tagged.renderVariant)
        #expect(tagged.renderVariant < IRCRenderCache.variants)
    }
}
