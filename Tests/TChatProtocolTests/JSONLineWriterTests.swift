import Foundation
import TChatProtocol
import Testing

/// The hand-written JSON lines: whatever a string holds, a JSON parser reads back exactly that string.
@Suite struct JSONLineWriterTests {
    static let awkward = [
        "", "plain text", "quote \" and backslash \\ and slash /", "new\nline\r\ttab", "\u{0}\u{1}\u{1F}\u{7F}",
        "日本語 and 👋🏽", "\\\"\\\"", "ends with escape\n", "\"starts with one",
        String(repeating: "long run without escapes ", count: 40) + "\u{2}",
    ]

    @Test(arguments: awkward) func everyStringReadsBackExactly(_ text: String) throws {
        var writer = JSONLineWriter()
        writer.field("body", text)
        writer.field("id", UInt64(7))
        let line = writer.finish()
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        #expect(object?["body"] as? String == text)
        #expect(object?["id"] as? Int == 7)
    }

    @Test func controlCharactersUseTheShortFormsOrUnicodeEscapes() {
        var bytes: [UInt8] = []
        JSONLineWriter.appendQuoted("a\"b\\c\nd\u{1}e", to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #""a\"b\\c\nd\u0001e""#)
    }

    /// `tchat listen`'s lines: nothing a terminal obeys or hides reaches it raw, in strings or in an embedded JSON
    /// document, and a JSON parser still reads back exactly what was sent.
    @Test(
        arguments: awkward + [
            "osc 52 \u{1B}]52;c;cHduZWQ=\u{7} bell", "csi \u{9B}2J c1", "bidi \u{202E}gnp.exe", "line \u{2028} sep",
            "zero\u{200B}width 👨‍👩‍👧 \u{E0001}tag", "del \u{7F}",
        ])
    func linesForTerminalsEscapeEverythingATerminalWouldObey(_ text: String) throws {
        var writer = JSONLineWriter(forTerminal: true)
        writer.field("body", text)
        let json =
            "{\"k\":\""
            + text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\t", with: "\\t")
            .unicodeScalars.map { $0.value < 0x20 ? String(format: "\\u%04x", $0.value) : String($0) }.joined()
            + "\"}"
        writer.field("doc", json: json)
        let line = writer.finish()
        let raw = String(decoding: line.dropLast(), as: UTF8.self)
        #expect(!raw.unicodeScalars.contains { TextField.isUnsafeForTerminal($0) }, "\(raw)")
        let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
        #expect(object?["body"] as? String == text)
        #expect((object?["doc"] as? [String: Any])?["k"] as? String == text)
    }

    @Test func linesContinuingABufferAndTimesWrittenInPlaceMatchTheirStandaloneForms() throws {
        let time = Timestamp(milliseconds: 1_796_000_123_456)
        var standalone = JSONLineWriter()
        standalone.field("time", time.iso8601)
        standalone.field("body", "a \"quote\"")
        let expected = standalone.finish()

        let earlier = Array("{\"earlier\":1}\n".utf8)
        var continuing = JSONLineWriter(continuing: earlier)
        continuing.field("time", time)
        continuing.field("body", "a \"quote\"")
        #expect(continuing.finish() == earlier + expected)

        var bytes: [UInt8] = []
        time.appendISO8601(to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == time.iso8601)
        #expect(Timestamp(iso8601: time.iso8601) == time)
    }
}
