import TChatIRC

/// One IRC command this server understands: how many parameters it needs, whether only after the welcome, and
/// what it does. One table, checked before dispatch (as Ergo's `irc/commands.go`), instead of a switch per phase.
struct IRCCommand: Sendable {
    let minimumParameters: Int
    let needsWelcome: Bool
    let run: @Sendable (inout IRCConversation, IRCMessage) -> Void

    init(
        _ minimumParameters: Int, welcomed: Bool = true,
        _ run: @escaping @Sendable (inout IRCConversation, IRCMessage) -> Void
    ) {
        self.minimumParameters = minimumParameters
        self.needsWelcome = welcomed
        self.run = run
    }

    static let table: [String: IRCCommand] = [
        "AUTHENTICATE": IRCCommand(1, welcomed: false) { $0.authenticate($1) },
        "AWAY": IRCCommand(0) { $0.away($1) },
        "BATCH": IRCCommand(1) { $0.batch($1) },
        "CAP": IRCCommand(1, welcomed: false) { $0.capability($1) },
        "CHATHISTORY": IRCCommand(2) { $0.chatHistory($1) },
        "INVITE": IRCCommand(2) { $0.invite($1) },
        "ISON": IRCCommand(1) { $0.ison($1) },
        "JOIN": IRCCommand(1) { $0.join($1) },
        "KICK": IRCCommand(2) { $0.kick($1) },
        "KILL": IRCCommand(1) { $0.kill($1) },
        "LINKS": IRCCommand(0) { conversation, _ in conversation.links() },
        "LIST": IRCCommand(0) { $0.list($1) },
        "LUSERS": IRCCommand(0) { conversation, _ in conversation.lusers() },
        "MODE": IRCCommand(1) { $0.mode($1) },
        "MOTD": IRCCommand(0) { conversation, _ in conversation.messageOfTheDay() },
        "NAMES": IRCCommand(1) { $0.names($1) },
        "NICK": IRCCommand(0, welcomed: false) { $0.nickCommand($1) },
        "NOTICE": IRCCommand(0) { $0.message($1, isNotice: true) },
        "PART": IRCCommand(1) { $0.part($1) },
        "PASS": IRCCommand(1, welcomed: false) { $0.pass($1) },
        "PING": IRCCommand(1, welcomed: false) { $0.ping($1) },
        "PONG": IRCCommand(0, welcomed: false) { _, _ in },
        "PRIVMSG": IRCCommand(0) { $0.message($1, isNotice: false) },
        "QUIT": IRCCommand(0, welcomed: false) { $0.quit($1) },
        "TIME": IRCCommand(0) { conversation, _ in conversation.time() },
        "TOPIC": IRCCommand(1) { $0.topic($1) },
        "USER": IRCCommand(4, welcomed: false) { $0.userCommand($1) },
        "USERHOST": IRCCommand(1) { $0.userhost($1) },
        "VERSION": IRCCommand(0) { conversation, _ in conversation.version() },
        "WHO": IRCCommand(0) { $0.who($1) },
        "WHOIS": IRCCommand(1) { $0.whois($1) },
        "WHOWAS": IRCCommand(1) { $0.whowas($1) },
    ]
}
