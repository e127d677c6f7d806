import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// account-tag: a message carries the account its sender's nick is held by, for clients that asked.
@Suite struct IRCAccountTagTests {
    static let accounts = ["ann": "Ann", "me": "Me"]

    static func conversation(capabilities: String) -> IRCConversation {
        var facts = IRCConversationTests.facts
        facts.accountOf = { accounts[$0] ?? "" }
        var conversation = IRCConversation(facts: facts)
        if !capabilities.isEmpty { conversation.receive(line: "CAP REQ :\(capabilities)") }
        conversation.receive(line: "NICK me")
        conversation.receive(line: "USER u 0 * :U")
        if !capabilities.isEmpty { conversation.receive(line: "CAP END") }
        let hello = conversation.takeRequests()
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: "me", address: "",
            connectedAt: IRCConversationTests.time, maxFrameLength: 65536, welcomeText: "", motd: "")
        conversation.receive(.welcome(welcome), requestID: hello[0].id)
        conversation.receive(.ok, requestID: hello[0].id)
        _ = conversation.takeLines()
        return conversation
    }

    static let now = IRCConversationTests.time

    @Test func aLoggedInSendersMessagesCarryItsAccountAndNoOneElsesDo() {
        var conversation = Self.conversation(capabilities: "account-tag")
        conversation.deliver(from: "ann", to: "me", body: .text("hi"), time: Self.now, messageID: nil)
        conversation.deliver(from: "bob", to: "me", body: .text("hello"), time: Self.now, messageID: nil)
        conversation.deliver(from: "ann", to: "me", body: MessageBody(.notice, "psst"), time: Self.now, messageID: nil)
        conversation.notice("a server notice")
        let lines = conversation.takeLines()
        #expect(lines.map(\.command) == ["PRIVMSG", "PRIVMSG", "NOTICE", "NOTICE"])
        #expect(lines.map { $0.tag("account") } == ["Ann", nil, "Ann", nil])
        #expect(lines.first?.tags.count == 1, "only the account: no other tag was asked for")
    }

    /// A message older than a few seconds is history delivered live (after a link, from the store): its nick may
    /// have had another holder then.
    @Test func anOldMessageCarriesNoAccount() {
        var conversation = Self.conversation(capabilities: "account-tag")
        let old = Timestamp(milliseconds: Self.now.milliseconds - IRCServerFacts.accountTagMaxAge - 1)
        let recent = Timestamp(milliseconds: Self.now.milliseconds - IRCServerFacts.accountTagMaxAge)
        conversation.deliver(from: "ann", to: "me", body: .text("long ago"), time: old, messageID: nil)
        conversation.deliver(from: "ann", to: "me", body: .text("just now"), time: recent, messageID: nil)
        #expect(conversation.takeLines().map { $0.tag("account") } == [nil, "Ann"])
        let message = ChatMessage(channel: "#a", id: 1, time: old, from: "ann", body: .text("synced"))
        #expect(
            IRCConversation.channelLines(message, capabilities: [.accountTag]) {
                conversation.facts.accountTag(of: $0, sentAt: $1)
            }.first?.tags.isEmpty == true)
    }

    @Test func withoutTheCapabilityNothingIsLookedUp() {
        var conversation = Self.conversation(capabilities: "")
        conversation.deliver(from: "ann", to: "me", body: .text("hi"), time: Self.now, messageID: nil)
        #expect(conversation.takeLines().allSatisfy { $0.tags.isEmpty })
        #expect(Self.conversation(capabilities: "server-time").renderVariant & 8 == 0)
    }

    /// A multi-line message's account is on its BATCH line; CHATHISTORY's messages are old, and JOIN and the other
    /// events name a nick that may be someone else's by the time they are shown: none.
    @Test func batchesCarryItOnTheirOpeningLineAndHistoryAndEventsNot() {
        var conversation = Self.conversation(capabilities: "account-tag batch draft/multiline draft/chathistory")
        conversation.deliver(from: "ann", to: "me", body: .text("one\ntwo"), time: Self.now, messageID: nil)
        let batch = conversation.takeLines()
        #expect(batch.map(\.command) == ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"])
        #expect(batch.map { $0.tag("account") } == ["Ann", nil, nil, nil])

        let old = ChatMessage(channel: "#a", id: 3, time: Self.now, from: "ann", body: .text("stored"))
        conversation.sendHistory(target: "#a", after: 0, limit: 10, messages: [old])
        let history = conversation.takeLines()
        #expect(history.map(\.command) == ["BATCH", "PRIVMSG", "BATCH"])
        #expect(history.allSatisfy { $0.tag("account") == nil })

        conversation.receive(.joined(channel: "#a", nick: "ann", time: Self.now), requestID: 0)
        #expect(conversation.takeLines().allSatisfy { $0.tag("account") == nil })
    }

    @Test func itIsOfferedAndChangesTheRendering() {
        #expect(IRCCapability.offered(by: IRCConversationTests.facts).contains(.accountTag))
        let plain = Self.conversation(capabilities: "server-time")
        let tagged = Self.conversation(capabilities: "server-time account-tag")
        #expect(plain.renderVariant | 8 == tagged.renderVariant)
        #expect(tagged.renderVariant < IRCRenderCache.variants)
    }
}
