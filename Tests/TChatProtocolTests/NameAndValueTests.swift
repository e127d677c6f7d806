import TChatProtocol
import Testing

@Suite struct NameAndValueTests {
    @Test(arguments: ["alice", "Bob_2", "[x]", "a-b", "x\\y", "^ok`", String(repeating: "n", count: 32)])
    func validNicks(_ nick: String) {
        #expect(Nick.problem(with: nick) == nil)
    }

    @Test(arguments: [
        "", "2fast", "-x", "a b", "al\u{0}ice", "ålice", "аlice" /* Cyrillic а */, "a/b", "a\u{202E}b",
        "zero\u{200B}width", String(repeating: "n", count: 33),
    ])
    func invalidNicks(_ nick: String) {
        #expect(Nick.problem(with: nick) != nil)
    }

    /// Look-alikes are one nick: the attacks of issue 12's "Why" (`aIice`, `a1ice` and `ALlCE` beside `alice`).
    @Test(arguments: [
        ("alice", "aIice"), ("alice", "a1ice"), ("alice", "ALlCE"), ("alice", "a|ice"), ("alice", "ALICE"),
        ("bob0", "BoBo"), ("corn", "com"), ("c0rn", "COM"), ("vvill", "wiII"), ("Nick_", "nlck_"), ("vvvx", "vwx"),
        ("vwx", "wvx"), ("rnm", "mrn"),
    ])
    func lookAlikeNicksAreOneNick(_ pair: (String, String)) throws {
        #expect(try Nick(validating: pair.0) == Nick(validating: pair.1), "\(pair)")
    }

    @Test(arguments: [("alice", "alicia"), ("bob", "rob"), ("mn", "nm"), ("ab", "ba"), ("x[y]", "x{y}")])
    func differentNicksStayApart(_ pair: (String, String)) throws {
        #expect(try Nick(validating: pair.0) != Nick(validating: pair.1), "\(pair)")
    }

    @Test func theSkeletonExpandsLookAlikeLettersAndKeepsTheSpelling() throws {
        #expect(Nick.key(for: "aIice") == "allce")
        #expect(Nick.key(for: "mm") == "rnrn")
        #expect(Nick.key(for: "Com") == "corn")
        #expect(Nick.key(for: "vw") == "vvv" && Nick.key(for: "wv") == "vvv")
        #expect(try Nick(validating: "A1ice").name == "A1ice")
    }

    @Test func nicksCompareCaseInsensitively() throws {
        #expect(try Nick(validating: "Alice") == Nick(validating: "aLICE"))
        #expect(try Nick(validating: "Alice").name == "Alice")
    }

    @Test(arguments: ["ops", "#ops", "#Ops-2", "#日本語", "#café", "##rust", "#a.b", "#.."])
    func validChannels(_ name: String) throws {
        let channel = try ChannelName(validating: name)
        #expect(channel.name.hasPrefix("#"))
    }

    @Test(arguments: [
        "#", "", "#a b", "#a,b", "#a/b", "#a\\b", "#\u{0}", "#a\u{7}", "#x\u{202E}y", "#x\u{200B}",
        "#" + String(repeating: "c", count: 51),
    ])
    func invalidChannels(_ name: String) {
        #expect(throws: ProtocolError.self) { try ChannelName(validating: name) }
    }

    @Test func confusableChannelNamesAreToldApart() throws {
        // Channels may be in any script, so a look-alike is a different channel, never the same one.
        #expect(try ChannelName(validating: "#оps") != ChannelName(validating: "#ops"))  // Cyrillic о
    }

    @Test func channelsCompareCaseInsensitively() throws {
        #expect(try ChannelName(validating: "#OPS") == ChannelName(validating: "ops"))
        #expect(try ChannelName(validating: "#ÉTÉ").key == "#été")
    }

    @Test func timestampsFormatAndParseISO8601() throws {
        let time = Timestamp(milliseconds: 1_764_000_000_123)
        #expect(time.iso8601 == "2025-11-24T16:00:00.123Z")
        #expect(Timestamp(iso8601: time.iso8601) == time)
        #expect(Timestamp(milliseconds: 0).iso8601 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(milliseconds: 951_782_400_000).iso8601 == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp(iso8601: "2025-13-01T00:00:00.000Z") == nil)
        #expect(Timestamp(iso8601: "yesterday") == nil)
        for milliseconds in stride(from: UInt64(0), to: 4_102_444_800_000, by: 86_399_999_937) {
            #expect(Timestamp(iso8601: Timestamp(milliseconds: milliseconds).iso8601)?.milliseconds == milliseconds)
        }
    }

    @Test func serverAddressesParse() throws {
        #expect(
            try ServerAddress(parsing: "127.0.0.1:7667", defaultPort: 1) == ServerAddress(host: "127.0.0.1", port: 7667)
        )
        #expect(try ServerAddress(parsing: "[::1]:0", defaultPort: 1) == ServerAddress(host: "::1", port: 0))
        #expect(try ServerAddress(parsing: "localhost", defaultPort: 7667).port == 7667)
        #expect(ServerAddress(host: "::1", port: 5).description == "[::1]:5")
        #expect(try ServerAddress(parsing: "::1", defaultPort: 7) == ServerAddress(host: "::1", port: 7))
        for bad in ["", ":80", "host:99999", "host:x", "[::1", "[::1]x"] {
            #expect(throws: ProtocolError.self, "\(bad)") { try ServerAddress(parsing: bad, defaultPort: 1) }
        }
    }
}

@Suite struct JSONValidatorTests {
    @Test(arguments: [
        "{}", "[]", "0", "-1.5e+10", "\"x\"", "true", "null", " {\"a\" : [1, {\"b\": null}, \"\\u00e9\\n\"]} ",
        "[[[[[]]]]]", "{\"a\":1,\"b\":[true,false]}",
    ])
    func validDocuments(_ text: String) {
        #expect(JSONValidator.problem(in: text.utf8) == nil)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\"}", "{\"a\":1,}", "{a:1}", "01", "1.", "-", "\"\\x\"", "\"\u{1}\"",
        "tru", "nul", "[1] [2]", "{\"a\":1}}", "\"unterminated", "'single'", "NaN",
    ])
    func invalidDocuments(_ text: String) {
        #expect(JSONValidator.problem(in: text.utf8) != nil)
    }

    @Test func nestingIsBoundedWithoutExhaustingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(JSONValidator.problem(in: deep.utf8)?.contains("nested deeper") == true)
        let fine = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(JSONValidator.problem(in: fine.utf8) == nil)
    }
}
