/// One IRC line without its CR LF: IRCv3 tags, an optional source, a command and its parameters.
///
/// Parsing follows RFC 1459 where the RFCs and practice differ (runs of spaces separate parameters), the IRCv3
/// message-tags specification for tags, and the `irc-parser-tests` vectors. Serializing never lets a parameter
/// break the line: CR, LF and NUL are dropped from every parameter, and a middle parameter that would read as
/// more than one is mended (see `serialized()`), so text from one user cannot inject a line into another's stream.
public struct IRCMessage: Sendable, Hashable {
    public var tags: [IRCTag]
    /// The source without its leading colon (`nick!user@host` or a server name), nil when none was given.
    public var source: String?
    /// The command as sent (`privmsg` stays lower-case; compare with `verb`).
    public var command: String
    public var params: [String]

    public init(tags: [IRCTag] = [], source: String? = nil, _ command: String, _ params: [String] = []) {
        self.tags = tags
        self.source = source
        self.command = command
        self.params = params
    }

    /// The command upper-cased, as commands are compared.
    public var verb: String { command.uppercased() }

    /// The value of a tag, "" for a tag without one, nil when absent (the last of repeated keys wins).
    public func tag(_ key: String) -> String? {
        tags.last(where: { $0.key == key }).map { $0.value ?? "" }
    }

    /// Reads one line (without CR LF). Throws on an empty line, a line of only tags or a source, or a command
    /// that is neither letters nor three digits.
    public init(parsing line: Substring) throws(IRCParseError) {
        var rest = line[...]
        tags = []
        source = nil
        if rest.first == "@" {
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            tags = IRCTag.parseList(rest[rest.index(after: rest.startIndex)..<end])
            rest = rest[end...]
            Self.skipSpaces(&rest)
        }
        if rest.first == ":" {
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            let text = rest[rest.index(after: rest.startIndex)..<end]
            guard !text.isEmpty else { throw .emptySource }
            source = String(text)
            rest = rest[end...]
            Self.skipSpaces(&rest)
        }
        let commandEnd = rest.firstIndex(of: " ") ?? rest.endIndex
        let commandText = rest[rest.startIndex..<commandEnd]
        guard !commandText.isEmpty else { throw .noCommand }
        guard Self.isCommand(commandText) else { throw .invalidCommand }
        command = String(commandText)
        rest = rest[commandEnd...]
        params = []
        while true {
            Self.skipSpaces(&rest)
            guard let first = rest.first else { break }
            if first == ":" {
                params.append(String(rest.dropFirst()))
                break
            }
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            params.append(String(rest[rest.startIndex..<end]))
            rest = rest[end...]
        }
    }

    public init(parsing line: String) throws(IRCParseError) {
        try self.init(parsing: line[...])
    }

    private static func skipSpaces(_ text: inout Substring) {
        while text.first == " " { text = text.dropFirst() }
    }

    /// Letters only (`PRIVMSG`) or exactly three digits (`001`).
    private static func isCommand(_ text: Substring) -> Bool {
        let bytes = text.utf8
        if bytes.allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") }) { return true }
        return bytes.count == 3 && bytes.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// The line to send, without CR LF.
    ///
    /// The last parameter takes a colon when it needs one (empty, has a space, or starts with a colon). Any other
    /// parameter that could not stand as one word (empty, a space in it, a leading colon) has its spaces turned to
    /// underscores and an empty one becomes `*`: a server never builds such a line, and a bug must not become an
    /// injected parameter.
    public func serialized() -> String {
        var line = ""
        if !tags.isEmpty {
            line += "@"
            line += tags.map { $0.serialized() }.joined(separator: ";")
            line += " "
        }
        if let source {
            line += ":"
            line += Self.word(source)
            line += " "
        }
        line += Self.word(command)
        for (index, param) in params.enumerated() {
            line += " "
            let clean = Self.lineSafe(param)
            if index == params.count - 1 {
                // By bytes: a space or colon followed by a combining mark is one Character with it, and would
                // pass a Character test while still splitting the line for every client.
                if clean.isEmpty || clean.utf8.contains(0x20) || clean.utf8.first == 0x3A
                    || Self.textCommands.contains(command)
                {
                    line += ":"
                }
                line += clean
            } else {
                var word = Self.word(clean)
                if word.utf8.first == 0x3A { word = "_" + String(word.unicodeScalars.dropFirst()) }
                line += word
            }
        }
        return line
    }

    /// The bytes of `serialized()` without its tags, at most (a colon is always counted; CR, LF and NUL are not
    /// subtracted).
    public var messageBytes: Int {
        var count = command.utf8.count
        if let source { count += source.utf8.count + 2 }
        for param in params { count += param.utf8.count + 1 }
        if !params.isEmpty { count += 1 }  // the last one's colon, counted whether it takes one or not
        return count
    }

    /// The message cut to fit `maxBytes` without its tags: the longest parameter is shortened (at a character
    /// boundary) until it fits. For replies that quote what a client sent, which may be a line's worth itself.
    public func fitted(to maxBytes: Int) -> IRCMessage {
        var message = self
        while message.messageBytes > maxBytes, !message.params.isEmpty {
            let over = message.messageBytes - maxBytes
            let longest = message.params.indices.max { message.params[$0].utf8.count < message.params[$1].utf8.count }!
            var text = message.params[longest]
            guard !text.isEmpty else { break }
            let keep = max(0, text.utf8.count - over)
            var kept = ""
            for character in text {
                if kept.utf8.count + character.utf8.count > keep { break }
                kept.append(character)
            }
            if kept.isEmpty, message.params.count - 1 != longest { kept = "*" }
            text = kept
            if text == message.params[longest] { break }
            message.params[longest] = text
        }
        return message
    }

    /// Commands whose last parameter is free text: it always takes its colon, as every server writes it, since
    /// clients and bots that split on the first colon after the command read `PRIVMSG #a 1:2` wrong.
    static let textCommands: Set<String> = ["PRIVMSG", "NOTICE", "TOPIC", "PART", "QUIT", "KICK", "ERROR", "AWAY"]

    /// `text` without CR, LF and NUL.
    public static func lineSafe(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { return text }
        return String(text.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != "\0" }.map(Character.init))
    }

    /// `text` as one word: line-safe, spaces as underscores, never empty.
    public static func word(_ text: String) -> String {
        let safe = lineSafe(text)
        if safe.isEmpty { return "*" }
        guard safe.utf8.contains(0x20) else { return safe }
        return String(String.UnicodeScalarView(safe.unicodeScalars.map { $0 == " " ? "_" : $0 }))
    }
}

/// Why a line could not be read as a message.
public enum IRCParseError: Error, Sendable, Hashable {
    case noCommand
    case invalidCommand
    case emptySource
}
