import TChatClient
import TChatProtocol
import Testing

@testable import TChatTUI

/// The chat model driven by keys and session events, and the screen it composes: no terminal anywhere.
@Suite struct ChatUITests {
    static let time = Timestamp(milliseconds: 1_764_000_000_000)  // 2025-11-24T16:00:00Z

    static func welcome(_ nick: String = "alice") -> Welcome {
        Welcome(
            version: 1, serverName: "hub", serverVersion: "0.1.0", nick: nick, address: "127.0.0.1:5000",
            connectedAt: time, maxFrameLength: 65536, welcomeText: "", motd: "be nice")
    }

    static func channel(_ name: String, members: UInt32 = 2, last: UInt64 = 0) -> ChannelInfo {
        ChannelInfo(name: name, members: members, topic: "", topicSetBy: "", topicSetAt: time, lastMessageID: last)
    }

    static func message(_ channel: String, _ id: UInt64, from: String = "bob", _ text: String = "hi") -> ChatMessage {
        ChatMessage(
            channel: channel, id: id, time: Timestamp(milliseconds: time.milliseconds + id * 1000), from: from,
            body: .text(text))
    }

    /// A connected UI with #ops and #dev joined, #ops shown.
    static func connected(width: Int = 80, height: Int = 24) -> ChatUI {
        var ui = ChatUI(nick: "alice", serverAddress: "127.0.0.1:5000", width: width, height: height, clock: .utc)
        _ = ui.handle(.connected(welcome()))
        _ = ui.handle(.joined(channel("#ops"), replay: []))
        _ = ui.handle(.joined(channel("#dev"), replay: []))
        return ui
    }

    static func type(_ text: String, into ui: inout ChatUI) -> [Effect] {
        var effects: [Effect] = []
        for character in text { effects += ui.handle(.character(character)) }
        return effects + ui.handle(.enter)
    }

    @Test func functionKeysAndAltDigitsSwitchBuffers() {
        var ui = Self.connected()
        #expect(ui.activeBuffer.name == "#ops", "the first channel joined is shown instead of the status buffer")
        _ = ui.handle(.function(3))
        #expect(ui.activeBuffer.name == "#dev")
        _ = ui.handle(.alt("1"))
        #expect(ui.activeBuffer.kind == .status)
        _ = ui.handle(.alt("2"))
        #expect(ui.activeBuffer.name == "#ops")
        _ = ui.handle(.ctrl("n"))
        #expect(ui.activeBuffer.name == "#dev")
        _ = ui.handle(.altRight)
        #expect(ui.activeBuffer.kind == .status, "next wraps around")
        _ = ui.handle(.ctrl("p"))
        #expect(ui.activeBuffer.name == "#dev")
        _ = ui.handle(.function(9))
        #expect(ui.activeBuffer.name == "#dev", "no entry 9: nothing changes")
    }

    @Test func everyEditingKeyThroughTheModel() {
        var ui = Self.connected()
        for character in "one two" { _ = ui.handle(.character(character)) }
        _ = ui.handle(.ctrl("a"))
        _ = ui.handle(.delete)
        #expect(ui.input.text == "ne two" && ui.input.cursor == 0)
        _ = ui.handle(.ctrl("e"))
        _ = ui.handle(.backspace)
        #expect(ui.input.text == "ne tw")
        _ = ui.handle(.left)
        _ = ui.handle(.left)
        _ = ui.handle(.ctrl("k"))
        #expect(ui.input.text == "ne ")
        _ = ui.handle(.home)
        _ = ui.handle(.right)
        _ = ui.handle(.ctrl("u"))
        #expect(ui.input.text == "e ")
        _ = ui.handle(.end)
        for character in "last" { _ = ui.handle(.character(character)) }
        _ = ui.handle(.ctrl("w"))
        #expect(ui.input.text == "e ")
        #expect(ui.handle(.ctrl("d")) == [], "Ctrl-D on a line with text does nothing")
        _ = ui.handle(.ctrl("u"))
        _ = Self.type("remember me", into: &ui)
        _ = ui.handle(.up)
        #expect(ui.input.text == "remember me")
        _ = ui.handle(.down)
        #expect(ui.input.text == "")
        #expect(ui.handle(.ctrl("l")) == [.redraw])
        #expect(ui.handle(.escape) == [] && ui.handle(.insert) == [] && ui.handle(.function(12)) == [])
        #expect(ui.handle(.ctrl("d")) == [], "on an empty line it asks, as Ctrl-C does")
    }

    @Test func aClickOnASidebarEntrySwitchesToIt() {
        var ui = Self.connected()
        _ = ui.handle(.click(x: 3, y: 3))  // row 3 is entry 3, #dev
        #expect(ui.activeBuffer.name == "#dev")
        _ = ui.handle(.click(x: 40, y: 1))  // in the pane: nothing
        #expect(ui.activeBuffer.name == "#dev")
        _ = ui.handle(.click(x: 2, y: 10))  // below the last entry: nothing
        #expect(ui.activeBuffer.name == "#dev")
    }

    @Test func unreadAndMentionCountsRiseInTheBackgroundAndClearOnSwitching() {
        var ui = Self.connected()
        #expect(ui.handle(.event(.message(Self.message("#dev", 1, "plain")))) == [])
        #expect(ui.handle(.event(.message(Self.message("#dev", 2, "alice: look")))) == [.bell])
        #expect(ui.handle(.event(.message(Self.message("#dev", 3, "malice is no mention")))) == [])
        let dev = ui.buffers.first { $0.name == "#dev" }!
        #expect(dev.unread == 3 && dev.mentions == 1)
        let screen = ScreenComposer.compose(ui)
        #expect(screen.lines[3].hasPrefix(" 3 #dev") && screen.lines[3].contains("3!"), "\(screen.lines[3])")
        _ = ui.handle(.alt("a"))
        #expect(ui.activeBuffer.name == "#dev" && ui.activeBuffer.unread == 0 && ui.activeBuffer.mentions == 0)
        #expect(ScreenComposer.compose(ui).lines[3] == " 3 #dev     │", "the count is gone")
    }

    @Test func myOwnMessagesAndReplayedHistoryNeitherCountNorRing() {
        var ui = Self.connected()
        _ = ui.handle(.function(3))
        _ = ui.handle(.function(2))
        #expect(ui.handle(.event(.message(Self.message("#dev", 1, from: "alice", "alice says")))) == [])
        // A join asks only for the channel's modes (for the sidebar): no bell.
        let effects = ui.handle(.joined(Self.channel("#new"), replay: [Self.message("#new", 1, "alice: old")]))
        #expect(!effects.contains(.bell) && effects.count == 1)
        #expect(ui.buffers.first { $0.name == "#dev" }!.unread == 0)
    }

    @Test func typingSendsToTheActiveChannelAndCommandsBecomeRequests() {
        var ui = Self.connected()
        #expect(Self.type("hello", into: &ui) == [.session(.send(channel: "#ops", body: .text("hello")))])
        #expect(
            Self.type("//not a command", into: &ui) == [.session(.send(channel: "#ops", body: .text("/not a command")))]
        )
        #expect(
            Self.type("/me waves", into: &ui) == [.session(.send(channel: "#ops", body: MessageBody(.action, "waves")))]
        )
        #expect(Self.type("/join #x", into: &ui) == [.session(.join("#x"))])
        #expect(Self.type("/part bye", into: &ui) == [.session(.part("#ops", reason: "bye"))])
        #expect(Self.type("/nick rob", into: &ui) == [.session(.nick("rob"))])
        #expect(Self.type("/quit later", into: &ui) == [.session(.quit(reason: "later")), .quit])
        let listing = Self.type("/list", into: &ui)
        guard case .session(.request(.listChannels, let tag)) = listing.first else {
            Issue.record("no list request: \(listing)")
            return
        }
        _ = ui.handle(.reply(tag: tag, frames: [.channelInfo(Self.channel("#ops", members: 7))]))
        #expect(ui.activeBuffer.lines.contains { $0.kind == .info("  #ops (7)") })
    }

    @Test func errorsAreShownInTheBuffer() {
        var ui = Self.connected()
        #expect(Self.type("/bogus", into: &ui) == [])
        #expect(ui.activeBuffer.lines.last?.kind == .error("unknown command /bogus; /help lists them"))
        _ = ui.handle(.alt("1"))
        #expect(Self.type("talking to nobody", into: &ui) == [])
        #expect(ui.activeBuffer.lines.last.map { if case .error = $0.kind { true } else { false } } == true)
        _ = ui.handle(.failed(.send(channel: "#ops", body: .text("x")), ProtocolError(.storageFailure, "disk full")))
        _ = ui.handle(.alt("2"))
        #expect(ui.activeBuffer.lines.last?.kind == .error("message to #ops not sent: disk full"))
    }

    @Test func directMessagesOpenAConversationRingAndShowMyReplies() {
        var ui = Self.connected()
        let dm = DirectMessage(from: "bob", to: "alice", time: Self.time, body: .text("psst"))
        #expect(ui.handle(.event(.direct(dm))) == [.bell])
        let index = ui.buffers.firstIndex { $0.kind == .direct("bob") }!
        #expect(ui.buffers[index].unread == 1 && ui.buffers[index].mentions == 1)
        _ = ui.handle(.function(index + 1))
        #expect(Self.type("hey", into: &ui) == [.session(.sendDirect(nick: "bob", body: .text("hey")))])
        #expect(ui.activeBuffer.lines.last?.own != true, "not shown before the server took it")
        _ = ui.handle(.directSent(to: "bob", body: .text("hey")))
        #expect(ui.activeBuffer.lines.last?.own == true)
        // /msg reuses the conversation and switches to it.
        _ = ui.handle(.function(2))
        #expect(Self.type("/msg Bob again", into: &ui) == [.session(.sendDirect(nick: "Bob", body: .text("again")))])
        #expect(ui.activeBuffer.kind == .direct("bob"))
    }

    @Test func aDirectMessageSentFromAnotherSessionOfMineShowsWithTheOneIWroteTo() {
        var ui = Self.connected()
        let mine = DirectMessage(from: "alice", to: "carol", time: Self.time, body: .text("sent from my phone"))
        #expect(ui.handle(.event(.direct(mine))) == [], "no bell for what I wrote")
        let index = ui.buffers.firstIndex { $0.kind == .direct("carol") }
        #expect(index != nil && !ui.buffers.contains { $0.kind == .direct("alice") })
        if let index {
            #expect(ui.buffers[index].lines.last?.own == true)
            #expect(ui.buffers[index].unread == 0 && ui.buffers[index].mentions == 0)
        }
    }

    @Test func aPasteOfManyLinesAsksFirstAndAFewGoStraightOut() {
        var ui = Self.connected()
        #expect(
            ui.handle(.paste("one\ntwo\n"))
                == [
                    .session(.send(channel: "#ops", body: .text("one"))),
                    .session(.send(channel: "#ops", body: .text("two"))),
                ])
        let many = (1...8).map { "line \($0)" }.joined(separator: "\n")
        #expect(ui.handle(.paste(many)) == [])
        #expect(ui.pendingPaste?.count == 8)
        #expect(ScreenComposer.compose(ui).lines.last == "Paste 8 lines as 8 messages? (y/n)")
        let sent = ui.handle(.character("y"))
        #expect(sent.count == 8 && sent.first == .session(.send(channel: "#ops", body: .text("line 1"))))
        _ = ui.handle(.paste(many))
        #expect(ui.handle(.character("n")) == [] && ui.pendingPaste == nil)
        #expect(ui.handle(.paste("no newline")) == [] && ui.input.text == "no newline")
    }

    @Test func scrollingBackPastTheTopAsksForOlderHistoryOnce() {
        var ui = Self.connected(height: 10)
        let replay = (50...60).map { Self.message("#ops", UInt64($0)) }
        _ = ui.handle(.joined(Self.channel("#ops"), replay: replay))
        var effects: [Effect] = []
        for _ in 0..<10 { effects += ui.handle(.pageUp) }
        #expect(ui.activeBuffer.scroll > 0)
        let fetches = effects.filter { if case .session(.history) = $0 { true } else { false } }
        #expect(fetches.count == 1, "\(effects)")
        guard case .session(.history("#ops", 50, 100, let tag)) = fetches.first else {
            Issue.record("\(effects)")
            return
        }
        _ = ui.handle(.history(channel: "#ops", messages: (40...49).map { Self.message("#ops", UInt64($0)) }, tag: tag))
        let ids = ui.activeBuffer.lines.compactMap(\.id)
        #expect(ids == Array(40...60).map(UInt64.init), "older lines go before, in order")
        // End at the end of the (empty) input line returns to live messages.
        _ = ui.handle(.end)
        #expect(ui.activeBuffer.scroll == 0)
    }

    @Test func repeatsAreDroppedAndGapFillingLandsInOrder() {
        var ui = Self.connected()
        _ = ui.handle(.event(.message(Self.message("#ops", 1))))
        _ = ui.handle(.event(.message(Self.message("#ops", 4, "alice: once"))))
        #expect(ui.handle(.event(.message(Self.message("#ops", 4, "alice: once")))) == [], "a repeat does not ring")
        _ = ui.handle(.history(channel: "#ops", messages: [Self.message("#ops", 2), Self.message("#ops", 3)], tag: 0))
        #expect(ui.activeBuffer.lines.compactMap(\.id) == [1, 2, 3, 4])
    }

    @Test func losingTheConnectionShowsAtOnceAndReconnectingClearsIt() {
        var ui = Self.connected()
        _ = ui.handle(.disconnected(reason: "the connection was closed", retryIn: .milliseconds(1500)))
        let status = ScreenComposer.compose(ui).lines[22]
        #expect(status.contains("reconnecting in 1.5 s"), "\(status)")
        let outage = Line.Kind.info(
            "disconnected: the connection was closed; reconnecting (the status line shows how it goes)")
        #expect(ui.activeBuffer.lines.last?.kind == outage)
        _ = ui.handle(.connecting(ServerAddress(host: "127.0.0.1", port: 5000), attempt: 2))
        #expect(ScreenComposer.compose(ui).lines[22].contains("connecting (attempt 2)"))
        // Failed attempts after the first say nothing more in the buffers: one line per outage.
        let before = ui.buffers.map(\.lines.count)
        for attempt in 2...5 {
            _ = ui.handle(.disconnected(reason: "connection refused", retryIn: .seconds(attempt)))
            _ = ui.handle(.connecting(ServerAddress(host: "127.0.0.1", port: 5000), attempt: attempt + 1))
        }
        #expect(ui.buffers.map(\.lines.count) == before)
        #expect(ScreenComposer.compose(ui).lines[22].contains("connecting (attempt 6)"))
        _ = ui.handle(.connected(Self.welcome()))
        #expect(ScreenComposer.compose(ui).lines[22].contains("● connected"))
    }

    @Test func tabCompletesRecentSpeakersFirstThenCycles() {
        var ui = Self.connected()
        _ = ui.handle(.event(.message(Self.message("#ops", 1, from: "bobby"))))
        _ = ui.handle(.event(.message(Self.message("#ops", 2, from: "bob"))))
        for character in "bo" { _ = ui.handle(.character(character)) }
        _ = ui.handle(.tab)
        #expect(ui.input.text == "bob: ")
        _ = ui.handle(.tab)
        #expect(ui.input.text == "bobby: ")
        _ = ui.handle(.ctrl("u"))
        for character in "/wh" { _ = ui.handle(.character(character)) }
        _ = ui.handle(.tab)
        #expect(ui.input.text == "/who ")
        _ = ui.handle(.tab)
        #expect(ui.input.text == "/whois ")
        _ = ui.handle(.ctrl("u"))
        for character in "see #d" { _ = ui.handle(.character(character)) }
        _ = ui.handle(.tab)
        #expect(ui.input.text == "see #dev ")
    }

    /// Issue 14's first bug: ann's own /topic left her title bar and /topic with the old one (the TOPIC event goes
    /// to the others only).
    @Test func yourOwnTopicShowsInTheTitleBarAndInTopic() {
        var ui = Self.connected()
        let asked = Self.type("/topic Welcome to the lobby", into: &ui)
        guard case .session(.request(.setTopic(let channel, let topic), let tag)) = asked.first else {
            Issue.record("no topic request: \(asked)")
            return
        }
        #expect(channel == "#ops" && topic == "Welcome to the lobby")
        _ = ui.handle(.reply(tag: tag, frames: [.ok]))
        #expect(ui.activeBuffer.topic == "Welcome to the lobby")
        #expect(ui.activeBuffer.lines.last?.kind == .info("you set the topic: Welcome to the lobby"))
        #expect(ScreenComposer.compose(ui).lines[0].contains("Welcome to the lobby"))
        _ = Self.type("/topic", into: &ui)
        #expect(ui.activeBuffer.lines.last?.kind == .info("topic of #ops: Welcome to the lobby"))
    }

    @Test func nickChangesQuitsAndTopicsShowWhereTheNickWasSeen() {
        var ui = Self.connected()
        _ = ui.handle(.event(.message(Self.message("#ops", 1, from: "bob"))))
        _ = ui.handle(.event(.nickChanged(old: "bob", new: "rob", time: Self.time)))
        _ = ui.handle(.event(.topic(channel: "#ops", topic: "deploys", setBy: "rob", time: Self.time)))
        _ = ui.handle(.event(.quitted(nick: "rob", reason: "bye", time: Self.time)))
        let texts = ui.activeBuffer.lines.compactMap { if case .event(_, let text) = $0.kind { text } else { nil } }
        #expect(texts == ["bob is now known as rob", "rob set the topic: deploys", "rob quit (bye)"])
        #expect(
            ui.buffers.first { $0.name == "#dev" }!.lines.allSatisfy {
                if case .event = $0.kind { false } else { true }
            })
        #expect(ScreenComposer.compose(ui).lines[0].contains("#ops · 1 member · deploys"))
    }
}

@Suite struct ScreenTests {
    @Test func layoutAtCommonAndTinySizes() {
        let normal = Layout(width: 80, height: 24, sidebarWidth: 12)
        #expect(normal.title == Rect(x: 0, y: 0, width: 80, height: 1))
        #expect(normal.sidebar == Rect(x: 0, y: 1, width: 12, height: 21))
        #expect(normal.pane == Rect(x: 13, y: 1, width: 67, height: 21))
        #expect(normal.status == Rect(x: 0, y: 22, width: 80, height: 1))
        #expect(normal.input == Rect(x: 0, y: 23, width: 80, height: 1))
        let wide = Layout(width: 200, height: 60, sidebarWidth: 30)
        #expect(wide.sidebar?.width == 30 && wide.pane.width == 169 && wide.pane.height == 57)
        let narrow = Layout(width: 60, height: 10, sidebarWidth: 12)
        #expect(narrow.compactSidebar && narrow.sidebar?.width == 4 && narrow.pane.width == 55)
        let tooNarrow = Layout(width: 28, height: 10, sidebarWidth: 12)
        #expect(tooNarrow.sidebar == nil && tooNarrow.pane.width == 28)
        let short = Layout(width: 80, height: 4, sidebarWidth: 12)
        #expect(short.title == nil && short.status == nil && short.pane.height == 3)
        let tiny = Layout(width: 1, height: 1, sidebarWidth: 12)
        #expect(tiny.input == Rect(x: 0, y: 0, width: 1, height: 1) && tiny.pane.height == 0)
    }

    @Test func composingNeverFailsAtAnySize() {
        var ui = ChatUITests.connected()
        for index in 1...30 {
            _ = ui.handle(
                .event(
                    .message(
                        ChatUITests.message(
                            "#ops", UInt64(index), "message 日本 \(index) 👋🏽 " + String(repeating: "w ", count: index)))))
        }
        for (width, height) in [(80, 24), (200, 60), (60, 15), (20, 5), (10, 2), (1, 1), (3, 1), (49, 30), (0, 0)] {
            ui.resize(width: width, height: height)
            let canvas = ScreenComposer.compose(ui)
            #expect(canvas.lines.count == max(height, 1))
            for line in canvas.lines { #expect(CellWidth.of(line) <= max(width, 1), "\(width)x\(height): \(line)") }
        }
    }

    @Test func theScreenAt80x24() {
        var ui = ChatUITests.connected()
        _ = ui.handle(
            .event(
                .message(
                    ChatUITests.message(
                        "#ops", 1, from: "bob",
                        "a long line that must wrap onto a second row of the message pane, hanging under its first word"
                    ))))
        for character in "日本語" { _ = ui.handle(.character(character)) }
        let canvas = ScreenComposer.compose(ui)
        let lines = canvas.lines
        #expect(lines[0] == " #ops · 2 members")
        #expect(lines[1].hasPrefix(" 1 hub") && lines[2].hasPrefix(" 2 #ops") && lines[3].hasPrefix(" 3 #dev"))
        #expect(canvas.rows[2][1].style.reverse, "the active entry is highlighted")
        // The continuation row hangs under the first word: both rows have the pane's "│" in the same column.
        let first = lines.first { $0.contains(" bob │ a long") }!
        let wrapped = lines.first { $0.hasSuffix("first word") }!
        let column = { (line: String) in line.distance(from: line.startIndex, to: line.lastIndex(of: "│")!) }
        #expect(column(first) == column(wrapped), "\(first)\n\(wrapped)")
        #expect(!wrapped.contains("bob"))
        #expect(lines[22].contains("[alice] hub (127.0.0.1:5000) ● connected") && lines[22].hasSuffix("2:#ops"))
        #expect(lines[23] == "[#ops] 日本語")
        #expect(canvas.cursor?.x == 7 + 6 && canvas.cursor?.y == 23, "the cursor is after the wide characters")
    }

    @Test func aDayChangeIsMarked() {
        var ui = ChatUITests.connected()
        let day = UInt64(86_400_000)
        for (id, offset) in [(1, UInt64(0)), (2, day)] {
            let message = ChatMessage(
                channel: "#ops", id: UInt64(id), time: Timestamp(milliseconds: 1_764_000_000_000 + offset), from: "bob",
                body: .text("m\(id)"))
            _ = ui.handle(.event(.message(message)))
        }
        #expect(ScreenComposer.compose(ui).lines.contains { $0.contains("── Tuesday 25 November 2025 ──") })
    }

    @Test func aLongScrollbackIsBoundedAndOnlyTheVisiblePartIsLaidOut() {
        var ui = ChatUI(nick: "alice", serverAddress: "x", scrollback: 5000, clock: .utc)
        _ = ui.handle(.joined(ChatUITests.channel("#big"), replay: []))
        for index in 1...10_000 { _ = ui.handle(.event(.message(ChatUITests.message("#big", UInt64(index))))) }
        #expect(ui.activeBuffer.lines.count == 5000)
        #expect(ui.activeBuffer.lines.first?.id == 5001)
        let canvas = ScreenComposer.compose(ui)
        #expect(canvas.lines[21].contains("hi") && canvas.lines[21].contains("bob"))
    }
}
