import NIOCore
import TChatIRC
import TChatProtocol
import Testing

@testable import TChatServer

/// The IRC port's byte-level shortcuts say exactly what the general path says, and step aside for the rest.
@Suite struct IRCFastPathTests {
    static let time = Timestamp(milliseconds: 1_800_000_123_456)

    static func frame(_ message: ChatMessage) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try ServerFrame.message(message).encode(requestID: 0, into: &buffer)
        return buffer
    }

    static func general(_ message: ChatMessage, variant: Int) -> String {
        var capabilities: Set<IRCCapability> = []
        if variant & 1 != 0 { capabilities.insert(.serverTime) }
        if variant & 2 != 0 { capabilities.insert(.messageTags) }
        if variant & 4 != 0 { capabilities.formUnion([.multiline, .batch]) }
        let bytes = IRCBridge.encode(
            IRCConversation.channelLines(message, capabilities: capabilities), allocator: ByteBufferAllocator())
        return String(buffer: bytes)
    }

    @Test(arguments: [
        ("#Ops", "alice", "hello there"),
        ("#a", "Bob|away", ": starts with a colon"),
        ("#tchat-dev", "x", "\u{2}bold\u{2} and \u{3}4red and ünïcödé 🎉"),
        ("#a", "n", String(repeating: "z", count: 487)),  // ":n!n@tchat PRIVMSG #a :" and CR LF: 512 exactly
    ])
    func aPlainChannelMessageIsTheLineTheGeneralPathWrites(channel: String, from: String, text: String) throws {
        let message = ChatMessage(channel: channel, id: 4242, time: Self.time, from: from, body: .text(text))
        let frame = try Self.frame(message)
        for variant in 0..<IRCRenderCache.variants {
            let line = try #require(IRCChannelLine.render(frame: frame, variant: variant, allocator: .init()))
            #expect(String(buffer: line) == Self.general(message, variant: variant), "variant \(variant)")
        }
    }

    @Test(arguments: [
        ("#a", "alice", MessageBody.text("two\nlines")),
        ("#a", "alice", MessageBody.text(String(repeating: "z", count: 480))),  // a byte past one line
        ("#a", "alice", MessageBody(.action, "waves")),
        ("#a", "alice", MessageBody.json("{\"a\":1}")),
        ("#a", "zoë", MessageBody.text("a nick tags and masks keep as they are only when ASCII")),
        ("#café", "alice", MessageBody.text("msgid lower-cases the channel, which takes Unicode")),
        ("#a;b", "alice", MessageBody.text("a msgid with ; would need escaping")),
        ("#a\\b", "alice", MessageBody.text("and with a backslash")),
    ])
    func anythingElseTakesTheGeneralPath(channel: String, from: String, body: MessageBody) throws {
        let message = ChatMessage(channel: channel, id: 7, time: Self.time, from: from, body: body)
        #expect(IRCChannelLine.render(frame: try Self.frame(message), variant: 3, allocator: .init()) == nil)
    }

    @Test func aCutFrameIsNotRead() throws {
        let message = ChatMessage(channel: "#a", id: 7, time: Self.time, from: "alice", body: .text("hi"))
        let frame = try Self.frame(message)
        for length in 0..<frame.readableBytes {
            #expect(
                IRCChannelLine.render(frame: frame.getSlice(at: 0, length: length)!, variant: 3, allocator: .init())
                    == nil)
        }
    }

    @Test func aPlainPrivmsgBecomesTheSendTheParserWouldMake() {
        var conversation = IRCConversationTests.welcomed()
        let taken = conversation.receivePlainChannelMessage("PRIVMSG #Ops :hi :) there")
        #expect(taken)
        let requests = conversation.takeRequests().map(\.frame)
        #expect(requests == [.send(channel: "#Ops", body: .text("hi :) there"))])
        #expect(conversation.pending.count == 1)
        let lines = conversation.takeLines()
        #expect(lines.isEmpty)
        // The colon before the text stands alone when an ASCII character follows it, whatever comes after.
        let colonTaken = conversation.receivePlainChannelMessage("PRIVMSG #a ::\u{301}x")
        #expect(colonTaken)
        let colonRequests = conversation.takeRequests().map(\.frame)
        #expect(colonRequests == [.send(channel: "#a", body: .text(":\u{301}x"))])
    }

    @Test(arguments: [
        (
            "PRIVMSG #a,#b :two targets",
            [
                ClientFrame.send(channel: "#a", body: .text("two targets")),
                .send(channel: "#b", body: .text("two targets")),
            ]
        ),
        ("PRIVMSG #a :\u{1}ACTION waves\u{1}", [.send(channel: "#a", body: MessageBody(.action, "waves"))]),
        ("privmsg #a :lower-case command", [.send(channel: "#a", body: .text("lower-case command"))]),
        ("PRIVMSG #a  :two spaces", [.send(channel: "#a", body: .text("two spaces"))]),
        // U+0600 joins the space after it into one character: the parser reads `#a\u{600} :a` as the target.
        ("PRIVMSG #a\u{600} :a prepended mark", [.send(channel: "#a\u{600} :a", body: .text("prepended"))]),
        ("PRIVMSG #a :\u{301}mark on the colon", [.send(channel: "#a", body: .text(":\u{301}mark"))]),
        ("PRIVMSG #a word", [.send(channel: "#a", body: .text("word"))]),
        ("@+typing=active PRIVMSG #a :tagged", [.send(channel: "#a", body: .text("tagged"))]),
    ])
    func anyOtherLineIsLeftToTheParser(line: String, expected: [ClientFrame]) {
        var conversation = IRCConversationTests.welcomed()
        let taken = conversation.receivePlainChannelMessage(line)
        #expect(!taken)
        let none = conversation.takeRequests()
        #expect(none.isEmpty, "the shortcut did nothing")
        conversation.receive(line: line)
        let made = conversation.takeRequests().map(\.frame)
        #expect(made == expected)
    }

    @Test func beforeTheWelcomeAPrivmsgIsNotTaken() {
        var conversation = IRCConversation(facts: IRCConversationTests.facts)
        let taken = conversation.receivePlainChannelMessage("PRIVMSG #a :hi")
        #expect(!taken)
    }

    /// A message of a channel whose name starts like a cached one's, with the same id and frame length and the
    /// same places in the cache, is its own message, never the cached one.
    @Test func aCachedMessageIsNeverTakenForAnotherChannelsWithTheSameIDAndLength() throws {
        let short = ChatMessage(channel: "#foo", id: 9, time: Self.time, from: "alice", body: .text("for #foo"))
        let shortFrame = try Self.frame(short)
        var collided = 0
        for suffix in 0..<20_000 where collided < 3 {
            let name = "#foo" + String(suffix, radix: 36)
            // Same frame length: the sender's nick shortened by what the name grew.
            let grown = name.utf8.count - 4
            let kept = ChatMessage(
                channel: name, id: 9, time: Self.time, from: String("alice".prefix(5 - grown)),
                body: .text("for #foo"))
            let keptFrame = try Self.frame(kept)
            #expect(keptFrame.readableBytes == shortFrame.readableBytes)
            let cache = IRCRenderCache()
            let keptSlot = try #require(cache.slot(forMessageFrame: keptFrame))
            let shortSlot = try #require(cache.slot(forMessageFrame: shortFrame))
            guard shortSlot == keptSlot || shortSlot == keptSlot ^ (IRCRenderCache.slots / 2) else { continue }
            collided += 1
            let lines = cache.lines(slot: shortSlot, variant: 0, allocator: .init()) { _ in [] }
            #expect(String(buffer: lines) == Self.general(short, variant: 0))
        }
        #expect(collided > 0, "no name shared the cached one's places")
    }

    /// Clients of every variant and messages near the kept size: the renderings kept stay under the cache's total.
    @Test func theRenderingsKeptStayUnderTheTotalWhateverTheVariants() throws {
        let cache = IRCRenderCache(maxKeptTotal: 256 << 10)
        let text = String(repeating: "word ", count: 700)  // several lines, about 3.9 KB rendered
        var rendered = 0
        for id in 1...UInt64(48) {
            let message = ChatMessage(channel: "#big", id: id, time: Self.time, from: "alice", body: .text(text))
            let slot = try #require(cache.slot(forMessageFrame: try Self.frame(message)))
            for variant in 0..<IRCRenderCache.variants {
                let lines = cache.lines(slot: slot, variant: variant, allocator: .init()) {
                    IRCConversation.channelLines($0, capabilities: [.serverTime])
                }
                #expect(lines.readableBytes > 3_000)
                rendered += lines.readableBytes
            }
        }
        #expect(rendered > 4 * cache.maxKeptTotal, "far more was rendered than may be kept")
        #expect(cache.keptTotal <= cache.maxKeptTotal)
        #expect(cache.keptTotal > cache.maxKeptTotal / 2, "and the cache is still used")
        #expect(cache.keptTotal == cache.recountKept())
        // Small messages taking every place, each twice over: what they replace is let go and counted off.
        for id in 100...UInt64(100 + 2 * IRCRenderCache.slots) {
            let message = ChatMessage(channel: "#small", id: id, time: Self.time, from: "bob", body: .text("hi"))
            let slot = try #require(cache.slot(forMessageFrame: try Self.frame(message)))
            _ = cache.lines(slot: slot, variant: 1, allocator: .init()) { _ in [] }
        }
        #expect(cache.keptTotal == cache.recountKept())
        #expect(cache.keptTotal <= cache.maxKeptTotal)
    }

    @Test func aBufferHandedToTheNextMemberGetsTheLinesMadeForTheFirst() {
        var batch = IRCRenderedBatch()
        var input = ByteBuffer(string: "frames")
        let lines = ByteBuffer(string: "lines\r\n")
        batch.keep(lines, for: input, variant: 1)
        #expect(batch.lines(for: input, variant: 1) == lines)
        #expect(batch.lines(for: input, variant: 0) == nil, "another variant is rendered on its own")
        #expect(batch.lines(for: ByteBuffer(string: "frames"), variant: 1) == nil, "same bytes elsewhere: not known")
        input.moveReaderIndex(forwardBy: 1)
        #expect(batch.lines(for: input, variant: 1) == nil, "a different view of the storage is another buffer")
    }
}
