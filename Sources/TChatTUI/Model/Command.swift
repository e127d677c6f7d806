/// A slash command, parsed and checked.
public enum Command: Sendable, Equatable {
    case join(String)
    case part(channel: String?, reason: String)
    case msg(target: String, text: String)
    case me(String)
    case nick(String)
    case topic(String?)
    case list
    case who(String?)
    case whois(String)
    case servers
    case welcome(String?)
    case reverse(String)
    case history(Int)
    case clear
    case help
    case quit(String)
    /// A channel with a key.
    case joinKeyed(String, key: String)
    /// Shows a channel's modes (empty change) or changes one.
    case mode(channel: String?, change: String)
    case op(String, on: Bool)
    case voice(String, on: Bool)
    case kick(String, reason: String)
    case ban(String, on: Bool)
    case invite(String, channel: String?)
    /// Server operators' commands.
    case kill(String, reason: String)
    case serverBan(String, reason: String)
    case serverUnban(String)
    case closeChannel(String?, reason: String)
    case register
    /// The account to log in to; nil for the nick asked for at start.
    case login(String?)
    case changePassword
    case unregister
    /// Leaves a channel, or closes a conversation or the help.
    case close(reason: String)
    /// Opens a conversation without sending anything.
    case query(String, text: String)
    /// Shows sidebar entry n (1-based).
    case window(Int)
    case reconnect
    /// Turns mouse reports on or off; nil toggles.
    case mouse(Bool?)
    /// Hides a nick's messages, joins and parts; nil lists those hidden.
    case ignore(String?)
    case unignore(String)
    /// Away with a text; an empty one is back.
    case away(String)
}

/// Every command once, with what it takes and does: the parser, `/help` and Tab completion all read this one
/// table (as Ergo's command table serves its dispatcher and its help).
public struct CommandSpec: Sendable {
    public let name: String
    public let arguments: String
    public let summary: String
    /// Other names the same command answers to (`/j` for `/join`, as IRC clients have them).
    public var aliases: [String] = []
    /// Words required before the rest of the line; the last argument may hold spaces.
    let required: Int
    let make: @Sendable (_ words: [String], _ rest: String) -> Command?

    public static let all: [CommandSpec] = [
        CommandSpec(
            name: "join", arguments: "#channel [key]", summary: "join a channel (created if new) and switch to it",
            aliases: ["j"], required: 1
        ) { words, _ in
            // A channel name has no spaces: "/join bad channel name" is a mistake, not #bad with the key "channel".
            guard words.count <= 2 else { return nil }
            return words.count > 1 ? .joinKeyed(words[0], key: words[1]) : .join(words[0])
        },
        CommandSpec(
            name: "part", arguments: "[#channel] [reason]",
            summary: "leave this channel, or the one named (in a conversation or the help, close it)",
            required: 0
        ) { words, rest in
            guard let first = words.first, first.hasPrefix("#") else { return .part(channel: nil, reason: rest) }
            return .part(channel: first, reason: Self.after(first, in: rest))
        },
        CommandSpec(
            name: "close", arguments: "[reason]",
            summary: "leave this channel, or close this conversation or the help", aliases: ["wc"], required: 0
        ) { _, rest in .close(reason: rest) },
        CommandSpec(
            name: "msg", arguments: "nick text", summary: "send a direct message (opens a conversation once sent)",
            required: 2
        ) { words, rest in .msg(target: words[0], text: Self.after(words[0], in: rest)) },
        CommandSpec(
            name: "query", arguments: "nick [text]", summary: "open a conversation with a nick (and say text there)",
            aliases: ["q"], required: 1
        ) { words, rest in .query(words[0], text: Self.after(words[0], in: rest)) },
        CommandSpec(
            name: "window", arguments: "n", summary: "switch to sidebar entry n (as Alt+J n)", aliases: ["win"],
            required: 1
        ) { words, _ in Int(words[0]).flatMap { $0 > 0 ? .window($0) : nil } },
        CommandSpec(
            name: "me", arguments: "action", summary: "say what you are doing: * nick action",
            required: 1
        ) { _, rest in .me(rest) },
        CommandSpec(name: "nick", arguments: "newnick", summary: "change your nick", required: 1) { words, _ in
            .nick(words[0])
        },
        CommandSpec(
            name: "topic", arguments: "[text]", summary: "show the channel's topic, or set it",
            required: 0
        ) { _, rest in .topic(rest.isEmpty ? nil : rest) },
        CommandSpec(name: "list", arguments: "", summary: "every channel with its size and topic", required: 0) {
            _, _ in .list
        },
        CommandSpec(
            name: "who", arguments: "[#channel]", summary: "who is in a channel (or connected at all)",
            aliases: ["names"], required: 0
        ) { words, _ in .who(words.first) },
        CommandSpec(name: "whois", arguments: "nick", summary: "what the server knows of a nick", required: 1) {
            words, _ in .whois(words[0])
        },
        CommandSpec(
            name: "servers", arguments: "", summary: "the servers of the network and their load",
            required: 0
        ) { _, _ in .servers },
        CommandSpec(
            name: "welcome", arguments: "[text]", summary: "show or set the text greeting your next visits",
            required: 0
        ) { _, rest in .welcome(rest.isEmpty ? nil : rest) },
        CommandSpec(name: "reverse", arguments: "text", summary: "ask the server to reverse a text", required: 1) {
            _, rest in .reverse(rest)
        },
        CommandSpec(
            name: "history", arguments: "n", summary: "fetch n older messages of this channel",
            required: 1
        ) { words, _ in Int(words[0]).flatMap { $0 > 0 ? .history(min($0, 1000)) : nil } },
        CommandSpec(name: "clear", arguments: "", summary: "clear this buffer's scrollback", required: 0) { _, _ in
            .clear
        },
        CommandSpec(
            name: "mode", arguments: "[#channel] [+i|+k key|...]",
            summary: "show this channel's modes, or change one (channel operators)", required: 0
        ) { words, rest in
            guard let first = words.first, first.hasPrefix("#") else { return .mode(channel: nil, change: rest) }
            return .mode(channel: first, change: Self.after(first, in: rest))
        },
        CommandSpec(name: "op", arguments: "nick", summary: "make a member a channel operator", required: 1) {
            words, _ in .op(words[0], on: true)
        },
        CommandSpec(name: "deop", arguments: "nick", summary: "take a channel operator's status", required: 1) {
            words, _ in .op(words[0], on: false)
        },
        CommandSpec(name: "voice", arguments: "nick", summary: "let a member speak in a moderated channel", required: 1)
        {
            words, _ in .voice(words[0], on: true)
        },
        CommandSpec(name: "devoice", arguments: "nick", summary: "take a member's voice", required: 1) { words, _ in
            .voice(words[0], on: false)
        },
        CommandSpec(name: "kick", arguments: "nick [reason]", summary: "put a member out of this channel", required: 1)
        {
            words, rest in .kick(words[0], reason: Self.after(words[0], in: rest))
        },
        CommandSpec(
            name: "ban", arguments: "mask",
            summary: "keep nicks matching a pattern (bad*) or an account (account:name) out", required: 1
        ) { words, _ in .ban(words[0], on: true) },
        CommandSpec(name: "unban", arguments: "mask", summary: "lift a ban", required: 1) { words, _ in
            .ban(words[0], on: false)
        },
        CommandSpec(
            name: "invite", arguments: "nick [#channel]", summary: "let a nick into this invite-only channel",
            required: 1
        ) { words, _ in .invite(words[0], channel: words.count > 1 ? words[1] : nil) },
        CommandSpec(
            name: "kill", arguments: "nick [reason]", summary: "end a client's session (server operators)", required: 1
        ) { words, rest in .kill(words[0], reason: Self.after(words[0], in: rest)) },
        CommandSpec(
            name: "serverban", arguments: "[mask] [reason]",
            summary: "ban account:name or address:ip from the server, or list bans (server operators)", required: 0
        ) { words, rest in
            guard let first = words.first else { return .serverBan("", reason: "") }
            return .serverBan(first, reason: Self.after(first, in: rest))
        },
        CommandSpec(
            name: "serverunban", arguments: "mask", summary: "lift a server ban (server operators)",
            required: 1
        ) { words, _ in .serverUnban(words[0]) },
        CommandSpec(
            name: "closechannel", arguments: "[#channel] [reason]",
            summary: "put everyone out of a channel and close it (server operators)", required: 0
        ) { words, rest in
            guard let first = words.first, first.hasPrefix("#") else { return .closeChannel(nil, reason: rest) }
            return .closeChannel(first, reason: Self.after(first, in: rest))
        },
        CommandSpec(
            name: "register", arguments: "", summary: "make your nick an account (asks for a password, unechoed)",
            required: 0
        ) { _, _ in .register },
        CommandSpec(
            name: "login", arguments: "[account]", summary: "log in to your account (asks for its password)",
            required: 0
        ) { words, _ in .login(words.first) },
        CommandSpec(name: "passwd", arguments: "", summary: "change your account's password", required: 0) { _, _ in
            .changePassword
        },
        CommandSpec(
            name: "unregister", arguments: "", summary: "drop your account (asks for its password)", required: 0
        ) { _, _ in .unregister },
        CommandSpec(
            name: "away", arguments: "[text]",
            summary: "say you are away (shown in /whois and to whoever writes to you); alone, you are back",
            required: 0
        ) { _, rest in .away(rest) },
        CommandSpec(
            name: "ignore", arguments: "[nick]",
            summary:
                "hide a nick's messages, direct messages, joins and parts (kept across restarts); alone, list them",
            required: 0
        ) { words, _ in words.count <= 1 ? .ignore(words.first) : nil },
        CommandSpec(name: "unignore", arguments: "nick", summary: "show a nick again", required: 1) { words, _ in
            .unignore(words[0])
        },
        CommandSpec(
            name: "reconnect", arguments: "", summary: "drop the connection and make a new one", required: 0
        ) { _, _ in .reconnect },
        CommandSpec(
            name: "mouse", arguments: "[on|off]",
            summary:
                "off gives the mouse to the terminal (select, copy, its own wheel), on takes it back; alone, toggle",
            required: 0
        ) { words, _ in
            switch words.first?.lowercased() {
            case nil: .mouse(nil)
            case "on": .mouse(true)
            case "off": .mouse(false)
            default: nil
            }
        },
        CommandSpec(name: "help", arguments: "", summary: "every command and key", required: 0) { _, _ in .help },
        CommandSpec(name: "quit", arguments: "[reason]", summary: "leave tchat", aliases: ["exit"], required: 0) {
            _, rest in
            .quit(rest)
        },
    ]

    static func named(_ name: String) -> CommandSpec? {
        let name = name.lowercased()
        return all.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// The text after the first occurrence of `word` in `line`, leading spaces removed.
    static func after(_ word: String, in line: String) -> String {
        let trimmed = line.drop { $0 == " " }
        guard trimmed.hasPrefix(word) else { return line }
        return String(trimmed.dropFirst(word.count).drop { $0 == " " })
    }

    /// Parses a line that starts with `/`: the command, or a sentence saying what is wrong.
    public static func parse(_ line: String) -> Result<Command, CommandError> {
        let body = line.dropFirst()
        let name = String(body.prefix { $0 != " " })
        let rest = String(body.dropFirst(name.count).drop { $0 == " " })
        guard !name.isEmpty else { return .failure(CommandError("type a command after '/'; /help lists them")) }
        guard let spec = named(name) else {
            return .failure(CommandError("unknown command /\(name); /help lists them"))
        }
        let words = rest.split(separator: " ").map(String.init)
        guard words.count >= spec.required, let command = spec.make(words, rest) else {
            return .failure(CommandError("usage: /\(spec.name) \(spec.arguments)"))
        }
        return .success(command)
    }
}

public struct CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
