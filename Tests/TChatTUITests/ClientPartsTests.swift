import TChatClient
import TChatProtocol
import Testing

@testable import TChatTUI

/// The parts `ChatUI` is made of, each alone: the key table, the activity list, the sidebar's window, the pane's
/// paging, the request table and the reply wording.
@Suite struct ClientPartsTests {
    @Test func theKeyTable() {
        #expect(KeyBindings.action(for: .function(3)) == .select(2))
        #expect(KeyBindings.action(for: .alt("0")) == .select(9))
        #expect(KeyBindings.action(for: .alt("j")) == .jumpPrefix)
        #expect(KeyBindings.action(for: .ctrl("y")) == .yank)
        #expect(KeyBindings.action(for: .alt("b")) == .wordLeft && KeyBindings.action(for: .ctrlRight) == .wordRight)
        #expect(KeyBindings.action(for: .wheelUp) == .wheel(3) && KeyBindings.action(for: .wheelDown) == .wheel(-3))
        #expect(KeyBindings.action(for: .ctrl("c")) == .interrupt)
        #expect(KeyBindings.action(for: .insert) == nil && KeyBindings.action(for: .escape) == nil)
        #expect(KeyBindings.help.allSatisfy { !$0.0.isEmpty && !$0.1.isEmpty })
    }

    static func buffer(_ kind: ChatBuffer.Kind, unread: Int = 0, mentions: Int = 0) -> ChatBuffer {
        var buffer = ChatBuffer(kind: kind, name: "x")
        buffer.unread = unread
        buffer.mentions = mentions
        return buffer
    }

    @Test func theActivityListPutsMentionsAndDirectMessagesFirst() {
        let buffers = [
            Self.buffer(.status), Self.buffer(.channel("#a"), unread: 4),
            Self.buffer(.channel("#b"), unread: 2, mentions: 1),
            Self.buffer(.direct("bob"), unread: 1, mentions: 1), Self.buffer(.channel("#c"), unread: 7),
            Self.buffer(.channel("#d"), unread: 3, mentions: 2),
        ]
        let hotlist = Hotlist(buffers, active: 4)
        #expect(hotlist.entries.map(\.index) == [2, 5, 3, 1], "mentions, then direct, then by number; not the active")
        #expect(hotlist.text == "3!,6!,4@,2")
        #expect(hotlist.summary(of: 3..<6)! == (unread: 4, level: .mention))
        #expect(hotlist.summary(of: 0..<1) == nil)
    }

    @Test func theSidebarWindowKeepsTheActiveEntryAndMarksTheRest() {
        #expect(
            SidebarWindow(entries: 5, rows: 10, active: 4)
                == SidebarWindow(first: 0, shown: 5, above: false, below: false))
        #expect(
            SidebarWindow(entries: 42, rows: 21, active: 0)
                == SidebarWindow(first: 0, shown: 20, above: false, below: true))
        #expect(
            SidebarWindow(entries: 42, rows: 21, active: 41)
                == SidebarWindow(first: 22, shown: 20, above: true, below: false))
        let middle = SidebarWindow(entries: 42, rows: 21, active: 21)
        #expect(middle.above && middle.below && middle.shown == 19 && (middle.first..<(middle.first + 19)).contains(21))
        #expect(
            middle.entry(atRow: 0) == nil && middle.entry(atRow: 1) == middle.first && middle.entry(atRow: 20) == nil)
        for rows in 0...4 {
            for active in 0..<7 {
                let window = SidebarWindow(entries: 7, rows: rows, active: active)
                #expect(window.shown <= rows && window.first >= 0 && window.first + window.shown <= 7)
                if rows > 0 { #expect((window.first..<(window.first + window.shown)).contains(active)) }
            }
        }
    }

    static func window(lines: [String], height: Int) -> BufferWindow {
        var buffer = ChatBuffer(kind: .channel("#a"), name: "#a")
        for (index, text) in lines.enumerated() {
            buffer.append(
                Line(
                    time: ChatUITests.time, id: UInt64(index + 1),
                    kind: .message(nick: "bob", text: text, style: .text)))
        }
        return BufferWindow(buffer: buffer, layout: LineLayout(nickColumn: 3, clock: .utc), width: 40, height: height)
    }

    @Test func pagingCountsRowsAndStopsAtTheEnds() {
        let window = Self.window(lines: (1...30).map { "line \($0)" }, height: 10)
        #expect(window.maximumScroll == 21, "the view ending at line 9 shows lines 1 to 9 above the bar")
        #expect(window.pageUp(from: 0) == 8 && window.pageUp(from: 16) == 21 && window.pageUp(from: 21) == nil)
        #expect(window.pageDown(from: 21) == 13 && window.pageDown(from: 3) == 0)
        #expect(window.scrolled(from: 20, by: 3) == 21 && window.scrolled(from: 2, by: -3) == 0)
        #expect(window.visibleRows(scroll: 0).count == 10 && window.visibleRows(scroll: 5).count == 9)
        let fits = Self.window(lines: ["a", "b"], height: 10)
        #expect(fits.maximumScroll == 0 && fits.pageUp(from: 0) == nil)
    }

    @Test func aNoticeShowsItsNickBetweenDashesAndAnActionAfterAStar() {
        let layout = LineLayout(nickColumn: 8, clock: .utc)
        func shown(_ style: ContentType) -> String {
            let line = Line(time: ChatUITests.time, kind: .message(nick: "ci", text: "build 42 passed", style: style))
            return layout.rows(for: line, width: 60)[0].map(\.text).joined()
        }
        #expect(shown(.notice).hasSuffix("    -ci- │ build 42 passed"))
        #expect(shown(.action).hasSuffix("       * │ ci build 42 passed"))
        #expect(shown(.text).hasSuffix("      ci │ build 42 passed"))
    }

    @Test func requestsAreFoundByTheirTagOnce() {
        var table = RequestTable()
        let first = table.register(.list, in: .status)
        let second = table.register(.who(channel: "#a"), in: .channel("#a"))
        #expect(first != 0 && second != first)
        #expect(table.take(second) == RequestTable.Entry(purpose: .who(channel: "#a"), buffer: .channel("#a")))
        #expect(table.take(second) == nil)
    }

    @Test func repliesAndFailuresAreWordedForWhatWasAsked() {
        let info = ChannelInfo(
            name: "#a", members: 3, topic: "hi", topicSetBy: "", topicSetAt: ChatUITests.time, lastMessageID: 0)
        #expect(ReplyFormatter.lines(for: .list, [.channelInfo(info)]) == ["1 channel:", "  #a (3) — hi"])
        #expect(ReplyFormatter.lines(for: .who(channel: "#a"), []) == ["#a: 0 members"])
        #expect(ReplyFormatter.lines(for: .who(channel: ""), []) == ["0 connected:"])
        #expect(ReplyFormatter.lines(for: .modes(show: false), []) == [])
        #expect(
            ReplyFormatter.failure(of: .who(channel: "#x"), ProtocolError(.noSuchChannel, "no such channel"))
                == "cannot list #x: no such channel")
        #expect(ReplyFormatter.failure(of: .join("#x"), ProtocolError(.banned, "banned")) == "cannot join #x: banned")
        #expect(ReplyFormatter.duration(90_061_000) == "1 d 1 h")
    }
}
