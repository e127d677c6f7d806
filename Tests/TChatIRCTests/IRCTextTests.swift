import Testing

@testable import TChatIRC

@Suite struct IRCTextTests {
    @Test func piecesFitTheirBytesAtSpacesOrCharactersAndEveryLineBreakStartsOne() {
        let text = "one two three four five six seven eight nine ten"
        let pieces = IRCText.pieces(of: text, maxBytes: 16)
        #expect(pieces.allSatisfy { $0.utf8.count <= 16 })
        #expect(pieces.joined() == text)
        #expect(pieces.first == "one two three ")
        #expect(IRCText.pieces(of: "a\nb\r\n\nc", maxBytes: 10) == ["a", "b", "c"])
        let emoji = String(repeating: "👋🏽", count: 20)  // 8 bytes each
        let cut = IRCText.pieces(of: emoji, maxBytes: 20)
        #expect(cut.allSatisfy { $0.utf8.count <= 20 } && cut.joined() == emoji)
        #expect(cut.first == "👋🏽👋🏽")
        let marks = "e" + String(repeating: "\u{301}", count: 30)  // one character of 61 bytes
        let split = IRCText.pieces(of: marks, maxBytes: 10)
        #expect(split.allSatisfy { $0.utf8.count <= 10 } && split.joined().unicodeScalars.count == 31)
    }

    @Test func actionsAreRecognisedWithOrWithoutTheClosingByte() {
        #expect(IRCText.action(in: "\u{1}ACTION waves\u{1}") == "waves")
        #expect(IRCText.action(in: "\u{1}ACTION waves") == "waves")
        #expect(IRCText.action(in: "\u{1}VERSION\u{1}") == nil)
        #expect(IRCText.action(in: "hi") == nil)
    }

    @Test func formattingIsStrippedWithColourDigits() {
        #expect(IRCText.stripFormatting("\u{2}bold\u{2} \u{3}4,12red\u{3} \u{1D}it\u{F}") == "bold red it")
        #expect(IRCText.stripFormatting("\u{3}12,x") == ",x")
        #expect(IRCText.stripFormatting("\u{4}FF0000hex") == "hex")
        #expect(IRCText.stripFormatting("plain 3,4") == "plain 3,4")
    }
}
