import Foundation
import TChatClient
import TChatProtocol
import Testing

@testable import TChatTUI

/// Issue 14's bugs, each reproduced through the screen model: keys and session events in, the composed screen
/// (or the effects) checked.
@Suite struct DailyClientTests {
    typealias T = ChatUITests

    static func screen(_ ui: ChatUI) -> [String] { ScreenComposer.compose(ui).lines }

    static func entry(_ ui: ChatUI, _ kind: ChatBuffer.Kind) -> ChatBuffer { ui.buffers.first { $0.kind == kind }! }

    @Test func gapFilledMessagesCountInTheSidebarAndRing() {
        var ui = T.connected()
        _ = ui.handle(.event(.message(T.message("#dev", 1, "before"))))
        _ = ui.handle(.function(3))
        _ = ui.handle(.function(2))
        _ = ui.handle(.disconnected(reason: "gone", retryIn: .seconds(1)))
        _ = ui.handle(.connected(T.welcome()))
        // The rejoin's replay is what was missed; a longer gap comes as history with tag 0.
        _ = ui.handle(.joined(T.channel("#dev"), replay: [T.message("#dev", 2, "while away")]))
        let effects = ui.handle(
            .history(channel: "#dev", messages: [T.message("#dev", 3, "alice: are you there?")], tag: 0))
        #expect(effects == [.bell])
        let dev = Self.entry(ui, .channel("#dev"))
        #expect(dev.unread == 2 && dev.mentions == 1)
        #expect(Self.screen(ui)[3].hasPrefix(" 3 #dev") && Self.screen(ui)[3].contains("2!"), "\(Self.screen(ui)[3])")
    }

    /// 30 messages at 80×24: PgUp stops at the first line, PgDn moves by the page shown, the end of history is
    /// said at the top.
    @Test func pagingStopsAtTheFirstLineAndMovesByWholePages() {
        var ui = T.connected()
        _ = ui.handle(.joined(T.channel("#ops"), replay: (1...30).map { T.message("#ops", UInt64($0), "line \($0)") }))
        var fetches = 0
        var scrolls: [Int] = []
        for _ in 0..<4 {
            fetches += ui.handle(.pageUp).filter { if case .session(.history) = $0 { true } else { false } }.count
            scrolls.append(ui.activeBuffer.scroll)
            let pane = Self.screen(ui)[1...20].map { $0.dropFirst(13) }
            #expect(
                pane.allSatisfy { !$0.trimmingCharacters().isEmpty }, "no blank row:\n\(pane.joined(separator: "\n"))")
        }
        let maximum = ui.window.maximumScroll
        #expect(scrolls.last == maximum && scrolls.allSatisfy { $0 <= maximum }, "\(scrolls)")
        #expect(Self.screen(ui)[1].contains("you joined #ops") || Self.screen(ui)[1].contains("line 1"))
        #expect(fetches == 1, "at the top, one request for older messages")
        // PgDn retraces the same pages.
        var down: [Int] = []
        while ui.activeBuffer.scroll > 0 {
            _ = ui.handle(.pageDown)
            down.append(ui.activeBuffer.scroll)
        }
        #expect(down.count <= 3, "\(down)")
        let steps = zip([maximum] + down, down).map { $0 - $1 }
        #expect(steps.dropLast().allSatisfy { $0 >= 15 }, "whole pages: \(steps)")
    }

    @Test func theEndOfHistoryIsSaidAtTheTop() {
        var ui = T.connected(height: 10)
        _ = ui.handle(.joined(T.channel("#ops"), replay: (5...12).map { T.message("#ops", UInt64($0)) }))
        var effects: [Effect] = []
        for _ in 0..<5 { effects += ui.handle(.pageUp) }
        guard
            case .session(.history(_, _, _, let tag))? = effects.first(where: {
                if case .session(.history) = $0 { true } else { false }
            })
        else {
            Issue.record("no history request: \(effects)")
            return
        }
        _ = ui.handle(.history(channel: "#ops", messages: [], tag: tag))
        #expect(ui.activeBuffer.lines.first?.kind == .info("no older messages in #ops"))
        #expect(Self.screen(ui)[1].contains("no older messages in #ops"), "\(Self.screen(ui).joined(separator: "\n"))")
    }

    @Test func theScrollBarHasARowOfItsOwn() {
        var ui = T.connected()
        _ = ui.handle(.joined(T.channel("#ops"), replay: (1...40).map { T.message("#ops", UInt64($0), "line \($0)") }))
        _ = ui.handle(.pageUp)
        let lines = Self.screen(ui)
        #expect(lines[21].contains("newer lines below · End returns to live"), "\(lines[21])")
        let shown = ui.activeBuffer.lines.count - ui.activeBuffer.scroll - 1  // line 0 is "you joined"
        #expect(lines[20].hasSuffix("line \(shown)"), "the newest line shown is whole, above the bar: \(lines[20])")
        #expect(!lines[20].contains("newer"))
    }

    /// 42 entries at 80×24: the sidebar shows 21 rows; activity out of sight is marked, and listed in the status.
    @Test func activityInHiddenEntriesShows() {
        var ui = T.connected()
        for number in 3...41 { _ = ui.handle(.joined(T.channel("#room\(number)"), replay: [])) }
        _ = ui.handle(.function(2))
        #expect(ui.buffers.count == 42)
        _ = ui.handle(.event(.message(T.message("#room40", 1, "alice: over here"))))
        _ = ui.handle(.event(.message(T.message("#room30", 1, "chatter"))))
        let lines = Self.screen(ui)
        #expect(lines[21].hasPrefix(" ↓ 22 more") && lines[21].contains("2!"), "\(lines[21])")
        #expect(lines[22].contains("Act: 41!,31"), "\(lines[22])")
        // Alt+A goes to the mention first, and the sidebar marks what is above.
        _ = ui.handle(.alt("a"))
        #expect(ui.activeBuffer.name == "#room40")
        let after = Self.screen(ui)
        #expect(after[1].hasPrefix(" ↑ 22 more"), "\(after[1])")
        #expect(after.contains { $0.hasPrefix("41 #room40") })
        // Alt+J and two digits, and /window, reach entries past F12.
        _ = ui.handle(.alt("j"))
        _ = ui.handle(.character("3"))
        _ = ui.handle(.character("1"))
        #expect(ui.activeBuffer.name == "#room30")
        _ = T.type("/window 17", into: &ui)
        #expect(ui.activeBuffer.name == "#room16")
        _ = T.type("/window 99", into: &ui)
        #expect(ui.activeBuffer.lines.last?.kind == .error("no entry 99: there are 42"))
    }

    @Test func aLongLineIsSentAsSeveralMessagesThatFit() {
        var ui = T.connected()
        let text = String(repeating: "word ", count: 39_999) + "end👍🏽"
        let effects = T.type(text, into: &ui)
        let bodies = effects.compactMap { effect -> String? in
            guard case .session(.send("#ops", let body)) = effect else { return nil }
            return body.text
        }
        #expect(bodies.count == effects.count && bodies.count >= 3, "\(bodies.count)")
        let room =
            65536
            - ProtocolLimits.messageFrameLength(
                channel: "#ops", from: String(repeating: "x", count: 32), bodyBytes: 0)
        #expect(bodies.allSatisfy { $0.utf8.count <= room })
        #expect(bodies.joined(separator: " ") == text, "cut at spaces, nothing lost, in order")
        #expect(
            MessageSplitter.split(String(repeating: "👍🏽", count: 10), maxBytes: 17)
                == Array(
                    repeating: "👍🏽👍🏽", count: 5), "never inside a grapheme")
    }

    @Test func conversationsAndTheHelpClose() {
        var ui = T.connected()
        _ = T.type("/query bob", into: &ui)
        #expect(ui.activeBuffer.kind == .direct("bob"))
        _ = T.type("/close", into: &ui)
        #expect(!ui.buffers.contains { $0.kind == .direct("bob") })
        _ = T.type("/help", into: &ui)
        #expect(ui.activeBuffer.kind == .help)
        _ = T.type("/part", into: &ui)
        #expect(!ui.buffers.contains { $0.kind == .help })
        _ = ui.handle(.function(3))
        #expect(T.type("/close see you", into: &ui) == [.session(.part("#dev", reason: "see you"))])
        _ = ui.handle(.function(1))
        _ = T.type("/close", into: &ui)
        #expect(ui.activeBuffer.lines.last?.kind == .error("the status buffer stays open; /quit leaves tchat"))
    }

    @Test func aMessageToNobodyLeavesNoConversation() {
        var ui = T.connected()
        let effects = T.type("/msg nosuchuser hello", into: &ui)
        #expect(effects == [.session(.sendDirect(nick: "nosuchuser", body: .text("hello")))])
        #expect(!ui.buffers.contains { $0.kind == .direct("nosuchuser") })
        _ = ui.handle(
            .failed(.sendDirect(nick: "nosuchuser", body: .text("hello")), ProtocolError(.noSuchNick, "no such nick")))
        #expect(!ui.buffers.contains { $0.kind == .direct("nosuchuser") })
        #expect(ui.activeBuffer.name == "#ops")
        #expect(ui.activeBuffer.lines.last?.kind == .error("message to nosuchuser not sent: no such nick"))
        // One that arrives opens the conversation, shows the line as sent, and switches to it.
        _ = T.type("/msg bob hello", into: &ui)
        _ = ui.handle(.directSent(to: "bob", body: .text("hello")))
        #expect(ui.activeBuffer.kind == .direct("bob") && ui.activeBuffer.lines.last?.own == true)
    }

    @Test func tabNeverOffersYourOldNick() {
        var ui = T.connected()
        _ = ui.handle(.event(.message(T.message("#ops", 1, from: "alice", "mine"))))
        _ = ui.handle(.event(.message(T.message("#ops", 2, from: "alfred", "his"))))
        _ = ui.handle(.nickChanged("alicia"))
        _ = ui.handle(.character("a"))
        _ = ui.handle(.character("l"))
        _ = ui.handle(.tab)
        #expect(ui.input.text == "alfred: ")
        _ = ui.handle(.tab)
        #expect(ui.input.text == "alfred: ", "the only candidate")
    }

    @Test func ctrlCClearsTheLineAndQuitsOnlyWhenPressedTwice() {
        var ui = T.connected()
        for character in "half a thought" { _ = ui.handle(.character(character)) }
        #expect(ui.handle(.ctrl("c")) == [] && ui.input.isEmpty)
        #expect(ui.handle(.ctrl("c")) == [])
        #expect(ui.activeBuffer.lines.last?.kind == .info("press Ctrl-C again to quit, or type /quit"))
        _ = ui.handle(.character("x"))
        #expect(ui.handle(.ctrl("c")) == [], "another key in between: the line is cleared, no quit")
        #expect(ui.handle(.ctrl("c")) == [])
        #expect(ui.handle(.ctrl("c")) == [.session(.quit(reason: "")), .quit])
    }

    @Test func failuresAndAnswersAreWordedForWhatWasAsked() {
        var ui = T.connected()
        guard case .session(.request(let frame, let tag))? = T.type("/who #nonexist", into: &ui).first else {
            Issue.record("no request")
            return
        }
        _ = ui.handle(.failed(.request(frame, tag: tag), ProtocolError(.noSuchChannel, "no such channel")))
        #expect(ui.activeBuffer.lines.last?.kind == .error("cannot list #nonexist: no such channel"))
        guard case .session(.request(_, let names))? = T.type("/names", into: &ui).first else {
            Issue.record("no request")
            return
        }
        let me = ClientInfo(
            nick: "alice", address: "", connectedAt: T.time, durationMilliseconds: 5000, clientName: "tchat",
            clientVersion: "1", host: "", processID: 1, server: "hub")
        _ = ui.handle(.reply(tag: names, frames: [.clientInfo(me)]))
        #expect(ui.activeBuffer.lines.suffix(2).map(\.kind) == [.info("#ops: 1 member:"), .info("  alice, for 5 s")])
        #expect(T.type("/join bad channel name", into: &ui) == [])
        #expect(ui.activeBuffer.lines.last?.kind == .error("usage: /join #channel [key]"))
    }

    @Test func joiningWhileOfflineSaysWhen() {
        var ui = ChatUI(nick: "alice", serverAddress: "127.0.0.1:5000", clock: .utc)
        #expect(T.type("/j #later", into: &ui) == [.session(.join("#later"))])
        #expect(ui.activeBuffer.lines.last?.kind == .info("not connected: #later will be joined once connected"))
        // Before the welcome the status line names the address once.
        let status = Self.screen(ui)[22]
        #expect(status.components(separatedBy: "127.0.0.1:5000").count == 2, "\(status)")
    }

    @Test func longNamesStayApartInTheSidebar() {
        var ui = T.connected()
        _ = ui.handle(.joined(T.channel("#engineering-platform-backend"), replay: []))
        _ = ui.handle(.joined(T.channel("#engineering-platform-frontend"), replay: []))
        let rows = Self.screen(ui)[4...5].map { String($0.prefix { $0 != "│" }) }
        #expect(rows[0] != rows[1] && rows[0].contains("…"), "\(rows)")
        #expect(rows[0].hasSuffix("backend") && rows[1].hasSuffix("frontend"), "\(rows)")
    }

    @Test func aNarrowTerminalShowsEntryNumbers() {
        var ui = T.connected(width: 60)
        _ = ui.handle(.event(.message(T.message("#dev", 1, "alice: hi"))))
        let lines = Self.screen(ui)
        #expect(lines[1].hasPrefix(" 1  │") && lines[2].hasPrefix(" 2  │"), "\(lines[1])|\(lines[2])")
        #expect(lines[3].hasPrefix(" 3! │"), "\(lines[3])")
    }

    @Test func theUnreadMarkerShowsWhereYouLeftOff() {
        var ui = T.connected()
        _ = ui.handle(.event(.message(T.message("#dev", 1, "seen"))))
        _ = ui.handle(.function(3))
        _ = ui.handle(.function(2))
        _ = ui.handle(.event(.message(T.message("#dev", 2, "new one"))))
        _ = ui.handle(.function(3))
        let lines = Self.screen(ui)
        let marker = lines.firstIndex { $0.contains("── unread ──") }
        let seen = lines.firstIndex { $0.contains("seen") }
        let new = lines.firstIndex { $0.contains("new one") }
        #expect(marker != nil && seen! < marker! && marker! < new!, "\(lines.joined(separator: "\n"))")
    }

    @Test func theWheelScrollsAndMouseReportsCanBeHandedBack() {
        var ui = T.connected()
        _ = ui.handle(.joined(T.channel("#ops"), replay: (1...40).map { T.message("#ops", UInt64($0)) }))
        _ = ui.handle(.wheelUp)
        #expect(ui.activeBuffer.scroll == 3)
        _ = ui.handle(.wheelDown)
        #expect(ui.activeBuffer.scroll == 0)
        #expect(T.type("/mouse", into: &ui) == [.mouse(false)])
        #expect(T.type("/mouse", into: &ui) == [.mouse(true)])
        var decoder = KeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[<64;10;5M\u{1B}[<65;10;5M".utf8)) == [.wheelUp, .wheelDown])
        #expect(decoder.feed(Array("\u{1B}[1;5D\u{1B}[1;5C".utf8)) == [.ctrlLeft, .ctrlRight])
    }

    @Test func wordMovesCutAndYank() {
        var line = InputLine()
        line.insert("one two three")
        line.wordLeft()
        #expect(line.cursor == 8)
        line.wordLeft()
        line.wordRight()
        #expect(line.cursor == 7)
        line.end()
        line.deleteWordBefore()
        #expect(line.text == "one two ")
        line.home()
        line.yank()
        #expect(line.text == "threeone two ")
    }

    @Test func backspaceRemovesAWholeCharacterHoweverItWasTyped() {
        var ui = T.connected()
        for scalar in ["e", "\u{301}"] { _ = ui.handle(.paste(scalar)) }
        _ = ui.handle(.backspace)
        #expect(ui.input.isEmpty)
        var line = InputLine()
        for scalar in ["e", "\u{301}", "👍", "\u{1F3FD}"] { line.insert(scalar) }
        #expect(line.characters.count == 2, "é and 👍🏽, each one character")
        line.backspace()
        #expect(line.text == "e\u{301}")
        line.backspace()
        #expect(line.isEmpty)
    }

    @Test func ignoredNicksAreHiddenAndTheListIsKept() throws {
        var ui = T.connected()
        #expect(T.type("/ignore Troll", into: &ui) == [.saveIgnored(["troll"])])
        #expect(ui.handle(.event(.message(T.message("#dev", 1, from: "troll", "alice: bait")))) == [])
        _ = ui.handle(.event(.direct(DirectMessage(from: "TROLL", to: "alice", time: T.time, body: .text("hi")))))
        _ = ui.handle(.event(.joined(channel: "#ops", nick: "troll", time: T.time)))
        #expect(!ui.buffers.contains { $0.kind == .direct("troll") } && Self.entry(ui, .channel("#dev")).unread == 0)
        #expect(!ui.activeBuffer.lines.contains { $0.kind == .event(marker: "-->", text: "troll joined #ops") })
        #expect(T.type("/unignore troll", into: &ui) == [.saveIgnored([])])
        let directory = "/tmp/tchat-ignore-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = IgnoreFile(environment: ["XDG_CONFIG_HOME": directory])
        #expect(file.path == directory + "/tchat/ignored")
        #expect(file.load() == [])
        #expect(file.save(["troll", "spammer"]) == nil)
        #expect(file.save(["troll", "spammer", "bot"]) == nil, "replacing an existing list")
        #expect(file.load() == ["troll", "spammer", "bot"])
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aCommandTypedInTheHelpShowsItsAnswer() {
        var ui = T.connected()
        _ = T.type("/help", into: &ui)
        #expect(ui.activeBuffer.scroll > 0, "the help reads from the top")
        _ = T.type("/bogus", into: &ui)
        #expect(ui.activeBuffer.scroll == 0)
        #expect(Self.screen(ui)[21].contains("unknown command /bogus"), "\(Self.screen(ui)[21])")
    }
}

@Suite struct AwayInTheClientTests {
    typealias T = ChatUITests

    @Test func awayIsAskedShownAndToldOncePerConversation() {
        var ui = T.connected()
        #expect(T.type("/away lunch", into: &ui) == [.session(.setAway("lunch"))])
        _ = ui.handle(.awayChanged("lunch"))
        #expect(ScreenComposer.compose(ui).lines[22].hasPrefix(" [alice (away)]"))
        #expect(T.type("/away", into: &ui) == [.session(.setAway(""))])
        _ = ui.handle(.awayChanged(""))
        #expect(ScreenComposer.compose(ui).lines[22].hasPrefix(" [alice] "))
        #expect(T.type("/away \u{1B}[2J", into: &ui) == [], "refused before it is sent")
        _ = T.type("/query bob", into: &ui)
        for text in ["one", "two"] {
            _ = ui.handle(.directSent(to: "bob", body: .text(text), away: "bob is away: gone fishing"))
        }
        #expect(ui.activeBuffer.lines.filter { $0.kind == .info("bob is away: gone fishing") }.count == 1)
        guard case .session(.request(_, let tag))? = T.type("/whois bob", into: &ui).first else {
            Issue.record("no whois")
            return
        }
        _ = ui.handle(.reply(tag: tag, frames: [.text("away: gone fishing")]))
        #expect(ui.activeBuffer.lines.last?.kind == .info("  away: gone fishing"))
    }
}

@Suite struct DailyClientReviewTests {
    typealias T = ChatUITests

    @Test func aLineTallerThanThePaneDoesNotHideWhatIsAboveIt() {
        var ui = T.connected()
        let tall = T.message("#ops", 4, String(repeating: "long words here ", count: 400))
        _ = ui.handle(.joined(T.channel("#ops"), replay: [T.message("#ops", 1, "first"), T.message("#ops", 2), tall]))
        for _ in 0..<10 { _ = ui.handle(.pageUp) }
        #expect(ScreenComposer.compose(ui).lines[1...21].contains { $0.contains("first") })
    }

    @Test func msgAndQuerySplitLongTextAndDirectMessagesToYourselfShowOnce() {
        var ui = T.connected()
        let long = String(repeating: "x", count: 150_000)
        #expect(T.type("/msg bob \(long)", into: &ui).count >= 3)
        #expect(T.type("/msg #dev \(long)", into: &ui).count >= 3)
        #expect(
            T.type("/query carol hi there", into: &ui) == [
                .session(.sendDirect(nick: "carol", body: .text("hi there")))
            ])
        #expect(ui.activeBuffer.kind == .direct("carol"))
        _ = T.type("/query alice", into: &ui)
        _ = ui.handle(.event(.direct(DirectMessage(from: "alice", to: "alice", time: T.time, body: .text("note")))))
        _ = ui.handle(.directSent(to: "alice", body: .text("note")))
        #expect(
            ui.activeBuffer.lines.filter { $0.kind == .message(nick: "alice", text: "note", style: .text) }.count == 1)
    }

    @Test func ignoringKeepsCountsRightAndFollowsANickChange() {
        var ui = T.connected()
        _ = ui.handle(.event(.joined(channel: "#ops", nick: "troll", time: T.time)))
        let members = ui.activeBuffer.members
        _ = T.type("/ignore troll", into: &ui)
        #expect(T.type("/ignore alice", into: &ui) == [], "not yourself")
        _ = ui.handle(.event(.parted(channel: "#ops", nick: "troll", reason: "", time: T.time)))
        #expect(ui.activeBuffer.members == members - 1)
        _ = ui.handle(.event(.joined(channel: "#ops", nick: "troll", time: T.time)))
        #expect(
            ui.handle(.event(.nickChanged(old: "troll", new: "troll2", time: T.time))) == [.saveIgnored(["troll2"])])
        #expect(ui.handle(.event(.message(T.message("#ops", 9, from: "troll2", "still me")))) == [])
        #expect(
            !ui.activeBuffer.lines.contains { $0.kind == .message(nick: "troll2", text: "still me", style: .text) })
    }

    @Test func theSidebarsOwnRequestsFailQuietly() {
        var ui = T.connected()
        guard case .session(.request(let frame, let tag))? = ui.handle(.joined(T.channel("#new"), replay: [])).first
        else {
            Issue.record("no modes request")
            return
        }
        _ = ui.handle(.failed(.request(frame, tag: tag), ProtocolError(.internalError, "the connection was closed")))
        #expect(ui.buffers.allSatisfy { !$0.lines.contains { if case .error = $0.kind { true } else { false } } })
    }

    @Test func piecesNeverExceedTheLimitEvenAfterACutAtASpace() {
        let family = "👨‍👩‍👧‍👦"
        let pieces = MessageSplitter.split("aaaaaaa b" + family + "c", maxBytes: 10)
        #expect(pieces.allSatisfy { $0.utf8.count <= 10 || $0.count == 1 }, "\(pieces)")
        #expect(pieces.joined() == "aaaaaaab" + family + "c")
    }

    @Test func mouseCtrlCAndCtrlD() {
        var ui = T.connected()
        #expect(T.type("/mouse off", into: &ui) == [.mouse(false)])
        #expect(T.type("/mouse off", into: &ui) == [.mouse(false)])
        #expect(T.type("/mouse on", into: &ui) == [.mouse(true)])
        for character in "keep me" { _ = ui.handle(.character(character)) }
        _ = ui.handle(.ctrl("c"))
        #expect(ui.input.isEmpty)
        _ = ui.handle(.ctrl("y"))
        #expect(ui.input.text == "keep me", "Ctrl-C cuts: Ctrl-Y brings it back")
        _ = ui.handle(.ctrl("u"))
        #expect(ui.handle(.ctrl("d")) == [], "Ctrl-D asks too")
        #expect(ui.handle(.ctrl("d")) == [.session(.quit(reason: "")), .quit])
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> Substring { drop { $0 == " " } }
}
