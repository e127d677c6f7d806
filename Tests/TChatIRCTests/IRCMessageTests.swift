import Foundation
import Testing

@testable import TChatIRC

/// The line parser and serializer against the `irc-parser-tests` vectors (PyPI, CC0; `scripts/irc-parser-fixtures`).
@Suite struct IRCMessageTests {
    struct Atoms: Decodable {
        var tags: [String: String?]?
        var source: String?
        var verb: String
        var params: [String]?
    }

    struct SplitCase: Decodable {
        var input: String
        var atoms: Atoms
    }

    struct JoinCase: Decodable {
        var desc: String?
        var atoms: Atoms
        var matches: [String]
    }

    static func fixture<T: Decodable>(_ name: String, as type: T.Type) throws -> [T] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/irc-parser-tests/\(name).json")
        return try JSONDecoder().decode([T].self, from: Data(contentsOf: url))
    }

    @Test func everySplitVectorParsesToItsAtoms() throws {
        let cases = try Self.fixture("msg-split", as: SplitCase.self)
        #expect(cases.count >= 30)
        for test in cases {
            let message = try IRCMessage(parsing: test.input)
            #expect(message.command == test.atoms.verb, "\(test.input)")
            #expect(message.source == test.atoms.source, "\(test.input)")
            #expect(message.params == (test.atoms.params ?? []), "\(test.input)")
            var tags: [String: String] = [:]
            for tag in message.tags { tags[tag.key] = tag.value ?? "" }
            let expected = (test.atoms.tags ?? [:]).mapValues { $0 ?? "" }
            #expect(tags == expected, "\(test.input)")
        }
    }

    @Test func everyJoinVectorSerializesToALineItMatches() throws {
        let cases = try Self.fixture("msg-join", as: JoinCase.self)
        #expect(cases.count >= 15)
        for test in cases {
            let tags = (test.atoms.tags ?? [:]).sorted { $0.key < $1.key }.map { IRCTag($0.key, $0.value) }
            let message = IRCMessage(
                tags: tags, source: test.atoms.source, test.atoms.verb, test.atoms.params ?? [])
            let line = message.serialized()
            // Tag order is free: a line matches when it parses back to the same atoms as one of the matches.
            let reparsed = try IRCMessage(parsing: line)
            let candidates = try test.matches.map { try IRCMessage(parsing: $0) }
            #expect(
                candidates.contains {
                    $0.command == reparsed.command && $0.source == reparsed.source && $0.params == reparsed.params
                        && Set($0.tags.map { "\($0.key)=\($0.value ?? "")" })
                            == Set(reparsed.tags.map { "\($0.key)=\($0.value ?? "")" })
                }, "\(test.desc ?? line): \(line)")
        }
    }

    @Test func garbledLinesAreRefusedNotCrashedOn() {
        for line in ["", "@a=b", "@a=b ", ":src", ":src ", ": PRIVMSG x", "PRIV-MSG x", "12 x", "1234 x", "@ :"] {
            #expect(throws: IRCParseError.self, "\(line)") { try IRCMessage(parsing: line) }
        }
    }

    @Test func noParameterCanInjectALineOrAParameter() throws {
        let message = IRCMessage(
            source: "evil\r\nPRIVMSG", "PRIVMSG", ["#a b", ":x", "", "hi\r\nQUIT :bye\u{0}"])
        let line = message.serialized()
        #expect(!line.contains("\r") && !line.contains("\n") && !line.contains("\u{0}"))
        let parsed = try IRCMessage(parsing: line)
        #expect(parsed.params.count == 4)
        #expect(parsed.params.last == "hiQUIT :bye")
        #expect(parsed.source == "evilPRIVMSG")
        // A space or colon with a combining mark after it is one Character with it, and still a space byte.
        let combined = try IRCMessage(
            parsing: IRCMessage(source: "s", "332", ["me", "a \u{301}b", ": \u{301}x"]).serialized())
        #expect(combined.params == ["me", "a_\u{301}b", ": \u{301}x"])
        let leading = try IRCMessage(parsing: IRCMessage("X", [":\u{301}a", "b"]).serialized())
        #expect(leading.params.count == 2)
        let tagged = IRCMessage(tags: [IRCTag("a", "x;y z\\\r\n")], "TAGMSG", ["#c"])
        #expect(try IRCMessage(parsing: tagged.serialized()).tag("a") == "x;y z\\\r\n")
    }
}
