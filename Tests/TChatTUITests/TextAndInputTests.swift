import TChatProtocol
import Testing

@testable import TChatTUI

@Suite struct TextTests {
    @Test func cellWidths() {
        #expect(CellWidth.of("a") == 1)
        #expect(CellWidth.of("é") == 1)  // precomposed
        #expect(CellWidth.of("e\u{301}") == 1)  // e and a combining accent: one grapheme, one cell
        #expect(CellWidth.of("日") == 2)
        #expect(CellWidth.of("🙂") == 2)
        #expect(CellWidth.of("日本語 ok") == 9)
        // A skin tone modifier is a wide code point of its own: ncurses and the terminal give it two more cells.
        #expect(CellWidth.of("👋🏽") == 4)
        #expect(CellWidth.of("\u{200B}") == 0)
    }

    @Test func sanitizingRemovesWhatCouldMoveTheCursor() {
        #expect(TerminalText.sanitize("a\u{1B}[2Jb\tc\u{7}") == "a\u{FFFD}[2Jb c\u{FFFD}")
        // IRC users' formatting is taken out, colour digits and all, rather than shown as U+FFFD and digits.
        #expect(TerminalText.sanitize("\u{2}bold\u{2} \u{3}04,12red\u{3} \u{1D}it\u{F} 3,4") == "bold red it 3,4")
        #expect(TerminalText.truncate("abcdef", to: 4) == "abc…")
        #expect(TerminalText.truncate("日本語", to: 4) == "日…")
        #expect(TerminalText.truncate("abc", to: 4) == "abc")
    }

    @Test func wrappingKeepsWordsAndGraphemesWhole() {
        #expect(LineLayout.wrap("the quick brown fox", width: 10) == ["the quick", "brown fox"])
        #expect(LineLayout.wrap("abcdefghijkl", width: 5) == ["abcde", "fghij", "kl"])
        #expect(LineLayout.wrap("日本語日本語", width: 5) == ["日本", "語日", "本語"])
        #expect(LineLayout.wrap("one\ntwo", width: 10) == ["one", "two"])
        #expect(LineLayout.wrap("", width: 10) == [""])
        #expect(LineLayout.wrap("e\u{301}e\u{301}e\u{301}", width: 2) == ["e\u{301}e\u{301}", "e\u{301}"])
        for row in LineLayout.wrap("héllo 👋🏽 wörld 日本語 " + String(repeating: "x", count: 30), width: 7) {
            #expect(CellWidth.of(row) <= 7, "\(row)")
        }
    }

    @Test func aCanvasPlacesWideCharactersAndNeverSplitsThem() {
        var canvas = Canvas(width: 6, height: 1)
        let end = canvas.put("a日本", x: 0, y: 0, style: .plain)
        #expect(end == 5)
        #expect(canvas.text(ofRow: 0) == "a日本")
        var edge = Canvas(width: 4, height: 1)
        edge.put("ab日", x: 1, y: 0, style: .plain)  // 日 would need columns 3 and 4
        #expect(edge.text(ofRow: 0) == " ab")
        #expect(Canvas.units(of: "👋🏽").map(\.width) == [2, 2])
        #expect(Canvas.units(of: "e\u{301}").map(\.text) == ["e\u{301}"])
    }
}

@Suite struct KeyDecoderTests {
    static func decode(_ text: String) -> [Key] {
        var decoder = KeyDecoder()
        return decoder.feed(Array(text.utf8))
    }

    @Test func functionAndCursorKeysOfCommonTerminals() {
        #expect(
            Self.decode("\u{1B}OP\u{1B}OQ\u{1B}[15~\u{1B}[24~") == [
                .function(1), .function(2), .function(5), .function(12),
            ])
        #expect(Self.decode("\u{1B}[11~\u{1B}[21~") == [.function(1), .function(10)])
        #expect(Self.decode("\u{1B}[A\u{1B}[B\u{1B}OC\u{1B}OD") == [.up, .down, .right, .left])
        #expect(
            Self.decode("\u{1B}[H\u{1B}[F\u{1B}[1~\u{1B}[4~\u{1B}[7~\u{1B}[8~") == [
                .home, .end, .home, .end, .home, .end,
            ])
        #expect(Self.decode("\u{1B}[5~\u{1B}[6~\u{1B}[3~") == [.pageUp, .pageDown, .delete])
        #expect(Self.decode("\u{1B}[1;3C\u{1B}[1;3D") == [.altRight, .altLeft])
    }

    @Test func controlAltAndText() {
        #expect(Self.decode("\u{1}\u{5}\u{15}\u{B}\u{17}\u{E}\u{10}\u{C}") == "aeukwnpl".map { .ctrl($0) })
        #expect(Self.decode("\r\t\u{7F}\u{8}") == [.enter, .tab, .backspace, .backspace])
        #expect(Self.decode("\u{1B}1\u{1B}0\u{1B}a") == [.alt("1"), .alt("0"), .alt("a")])
        #expect(Self.decode("hé日🙂") == ["h", "é", "日", "🙂"].map { .character(Character($0)) })
    }

    @Test func sequencesSplitAcrossReadsAreKeptUntilWhole() {
        var decoder = KeyDecoder()
        #expect(decoder.feed([0x1B]).isEmpty)
        #expect(decoder.isWaiting)
        #expect(decoder.feed(Array("[2".utf8)).isEmpty)
        #expect(decoder.feed(Array("4~".utf8)) == [.function(12)])
        #expect(decoder.feed([0xE6, 0x97]).isEmpty)
        #expect(decoder.feed([0xA5]) == [.character("日")])
    }

    @Test func aLoneEscapeIsEscapeOnceNothingFollows() {
        var decoder = KeyDecoder()
        #expect(decoder.feed([0x1B]).isEmpty)
        #expect(decoder.flushEscape() == [.escape])
        #expect(!decoder.isWaiting)
    }

    @Test func bracketedPasteAndMouseClicks() {
        var decoder = KeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[200~line one\nline".utf8)).isEmpty)
        #expect(decoder.feed(Array(" two\u{1B}[20".utf8)).isEmpty)
        #expect(decoder.feed(Array("1~x".utf8)) == [.paste("line one\nline two"), .character("x")])
        #expect(Self.decode("\u{1B}[<0;3;5M\u{1B}[<0;3;5m\u{1B}[<2;1;1M") == [.click(x: 2, y: 4)])
    }
}

@Suite struct InputLineTests {
    @Test func editingKeys() {
        var input = InputLine()
        input.insert("hello world")
        input.left()
        input.left()
        input.insert("X")
        #expect(input.text == "hello worXld" && input.cursor == 10)
        input.home()
        input.deleteForward()
        #expect(input.text == "ello worXld")
        input.end()
        input.backspace()
        #expect(input.text == "ello worXl")
        input.deleteWordBefore()
        #expect(input.text == "ello ")
        input.insert("there")
        input.home()
        input.right()
        input.killToEnd()
        #expect(input.text == "e")
        input.end()
        input.killToStart()
        #expect(input.text == "" && input.cursor == 0)
    }

    @Test func historyWalksBackAndForthKeepingTheDraft() {
        var input = InputLine()
        input.insert("first")
        _ = input.submit()
        input.insert("second")
        _ = input.submit()
        input.insert("draft")
        input.historyUp()
        #expect(input.text == "second")
        input.historyUp()
        input.historyUp()
        #expect(input.text == "first")
        input.historyDown()
        input.historyDown()
        #expect(input.text == "draft")
    }

    @Test func theVisibleWindowKeepsTheCursorOnScreenWithWideCharacters() {
        var input = InputLine()
        input.insert("日本語日本語日本語")  // 18 cells
        let (text, cursor) = input.visible(width: 10)
        #expect(CellWidth.of(text) <= 10)
        #expect(cursor <= 9 && cursor == CellWidth.of(text))
        input.home()
        let (start, atStart) = input.visible(width: 10)
        #expect(start.hasPrefix("日本") && atStart == 0)
        input.right()
        #expect(input.visible(width: 10).cursorColumn == 2, "the cursor is after one wide character")
    }
}

@Suite struct CommandTests {
    @Test func everyCommandParses() throws {
        let cases: [(String, Command)] = [
            ("/join #ops", .join("#ops")), ("/JOIN ops", .join("ops")),
            ("/part", .part(channel: nil, reason: "")),
            ("/part #ops bye now", .part(channel: "#ops", reason: "bye now")),
            ("/part gone for lunch", .part(channel: nil, reason: "gone for lunch")),
            ("/msg bob hi there", .msg(target: "bob", text: "hi there")), ("/me waves", .me("waves")),
            ("/nick rob", .nick("rob")), ("/topic", .topic(nil)), ("/topic new topic", .topic("new topic")),
            ("/list", .list), ("/who", .who(nil)), ("/who #ops", .who("#ops")), ("/whois bob", .whois("bob")),
            ("/servers", .servers), ("/welcome", .welcome(nil)), ("/welcome hi me", .welcome("hi me")),
            ("/reverse abc", .reverse("abc")), ("/history 20", .history(20)), ("/clear", .clear), ("/help", .help),
            ("/quit", .quit("")), ("/quit see you", .quit("see you")),
        ]
        for (line, expected) in cases {
            #expect(try CommandSpec.parse(line).get() == expected, "\(line)")
        }
    }

    @Test func badCommandsSayWhatIsWrong() {
        #expect(throws: CommandError("unknown command /frobnicate; /help lists them")) {
            try CommandSpec.parse("/frobnicate").get()
        }
        #expect(throws: CommandError("usage: /msg nick text")) { try CommandSpec.parse("/msg bob").get() }
        #expect(throws: CommandError("usage: /history n")) { try CommandSpec.parse("/history lots").get() }
        #expect(throws: CommandError("usage: /join #channel [key]")) { try CommandSpec.parse("/join").get() }
    }
}
