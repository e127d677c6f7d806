import NIOCore
import Testing

@testable import TChatIRC

@Suite struct IRCLineReaderTests {
    func lines(_ chunks: [String], max: Int = 32) -> ([IRCLineReader.Line], IRCLineReader) {
        var reader = IRCLineReader(maxLineBytes: max)
        var out: [IRCLineReader.Line] = []
        for (time, chunk) in chunks.enumerated() {
            reader.receive(ByteBuffer(string: chunk), now: UInt64(time))
            while let line = reader.next() { out.append(line) }
        }
        return (out, reader)
    }

    @Test func linesEndAtLFWithOrWithoutCRAndMayArriveInPieces() {
        let (out, reader) = lines(["NICK a\r\nUSER a 0 * :A\nPI", "NG :x\r", "\n\r\n\n"])
        #expect(out == [.text("NICK a"), .text("USER a 0 * :A"), .text("PING :x")])
        #expect(reader.partialSince == nil && reader.heldBytes == 0)
    }

    @Test func anOverlongLineIsReportedOnceAndItsRestSkippedWithoutBeingHeld() {
        let long = String(repeating: "x", count: 100)
        let (out, reader) = lines(["PING :a\r\n" + long, long, long + "\r\nPING :b\r\n"])
        #expect(out == [.text("PING :a"), .tooLong, .text("PING :b")])
        #expect(reader.heldBytes == 0)
        let (exact, _) = lines([String(repeating: "y", count: 32) + "\r\n" + String(repeating: "z", count: 33) + "\n"])
        #expect(exact == [.text(String(repeating: "y", count: 32)), .tooLong])
    }

    @Test func anUnfinishedLineStartsTheClockOnceAndStopsItWhenDone() {
        var reader = IRCLineReader(maxLineBytes: 64)
        reader.receive(ByteBuffer(string: "PRIV"), now: 5)
        #expect(reader.partialSince == 5)
        reader.receive(ByteBuffer(string: "MSG"), now: 9)
        #expect(reader.partialSince == 5)
        reader.receive(ByteBuffer(string: " #a :x\r\n"), now: 12)
        #expect(reader.partialSince == nil)
        #expect(reader.next() == .text("PRIVMSG #a :x"))
    }

    @Test func aClientWhoseReadsEndMidLineWhileLinesFinishKeepsAFreshClock() {
        var reader = IRCLineReader(maxLineBytes: 64)
        reader.receive(ByteBuffer(string: "PING :a\r\nPRIV"), now: 1)
        #expect(reader.partialSince == 1)
        reader.receive(ByteBuffer(string: "MSG #a :x\r\nPING"), now: 7)
        #expect(reader.partialSince == 7, "a line finished; the one held now began in this read")
        reader.receive(ByteBuffer(string: " :b\r\nNUL\u{0}AND\rCR\r\n"), now: 9)
        #expect(reader.partialSince == nil)
        var lines: [IRCLineReader.Line] = []
        while let line = reader.next() { lines.append(line) }
        #expect(lines.suffix(2) == [.text("PING :b"), .text("NULANDCR")])
    }

    @Test func bytesThatAreNotUTF8AreReadAsLatin1() {
        var reader = IRCLineReader(maxLineBytes: 64)
        reader.receive(ByteBuffer(bytes: Array("PRIVMSG #a :caf".utf8) + [0xE9, 0x0A]), now: 0)
        #expect(reader.next() == .text("PRIVMSG #a :café"))
        reader.receive(ByteBuffer(string: "PRIVMSG #a :café\n"), now: 0)
        #expect(reader.next() == .text("PRIVMSG #a :café"))
    }
}
