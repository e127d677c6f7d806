/// ISON or USERHOST under way: one WHOIS per nick, answered together, in the order asked, once every one is.
struct IRCLookup {
    enum Kind {
        /// 303: who of these is on the network.
        case ison
        /// 302: `nick=+nick@host` for each one on it, `-` when away.
        case userhost
    }

    let kind: Kind
    let nicks: [String]
    /// What each nick's WHOIS found: the nick as spelled by its holder, and whether it is away.
    var answers: [(nick: String, away: Bool)?]
    var answered = 0

    init(kind: Kind, nicks: [String]) {
        self.kind = kind
        self.nicks = nicks
        answers = Array(repeating: nil, count: nicks.count)
    }

    var isDone: Bool { answered == nicks.count }
}
