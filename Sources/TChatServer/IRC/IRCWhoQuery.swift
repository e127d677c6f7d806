import TChatIRC
import TChatProtocol

/// What a WHO asks for beyond its mask: WHOX's `%fields[,token]` (a 354 line with those fields, in WHOX's order,
/// instead of 352) and the `o` flag (server operators only).
///
/// Clients that track accounts (irssi, WeeChat 4, bots) send `WHO #channel %tcuhnfar,NNN` once they see `WHOX` in
/// ISUPPORT: with account-notify and extended-join it is how they learn the accounts of members who joined before
/// them.
struct IRCWhoQuery: Equatable {
    /// The field letters in the order a 354 line gives them.
    static let order: [Character] = ["t", "c", "u", "i", "h", "s", "n", "f", "d", "l", "a", "o", "r"]

    /// The WHOX fields asked for; nil for a plain WHO.
    var fields: Set<Character>?
    /// WHOX's token, echoed as field `t`: one to three digits, else `0`.
    var token = "0"
    /// `o`: only server operators, whom tchat does not show as such in WHO, so nobody.
    var operatorsOnly = false

    init(fields: Set<Character>? = nil, token: String = "0", operatorsOnly: Bool = false) {
        self.fields = fields
        self.token = token
        self.operatorsOnly = operatorsOnly
    }

    /// Reads WHO's second parameter (`o`, `%tna,42`, `o%cn`); absent, a plain WHO.
    init(parameter: String?) {
        guard let parameter else { return }
        let (flags, percent) =
            parameter.firstIndex(of: "%").map { (parameter[..<$0], parameter[parameter.index(after: $0)...]) }
            ?? (parameter[...], nil)
        operatorsOnly = flags.contains("o")
        guard let percent else { return }
        let parts = percent.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        fields = Set(parts[0].filter { Self.order.contains($0) })
        if parts.count > 1, (1...3).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) {
            token = String(parts[1])
        }
    }

    /// One client as WHO shows it.
    struct Entry: Equatable {
        var info: ClientInfo
        var away: String?
        var account: String?
    }

    /// The parameters of one reply after the client's own nick: 352's, or 354's with the fields asked for.
    /// `prefix` is the member's `@`/`+` in `channel`, as this connection knows it from the channels it is in.
    func reply(_ entry: Entry, channel: String, prefix: String) -> (IRCNumeric, [String]) {
        let flags = (entry.away == nil ? "H" : "G") + prefix
        let info = entry.info
        guard let fields else {
            return (
                .whoReply,
                [
                    channel, info.nick, IRCConversation.userHost, info.server, info.nick, flags,
                    "0 " + IRCConversation.realName(of: info),
                ]
            )
        }
        var parameters: [String] = []
        for field in Self.order where fields.contains(field) {
            switch field {
            case "t": parameters.append(token)
            case "c": parameters.append(channel)
            case "u": parameters.append(info.nick)
            case "i": parameters.append("255.255.255.255")  // tchat tells no client another's address
            case "h": parameters.append(IRCConversation.userHost)
            case "s": parameters.append(info.server)
            case "n": parameters.append(info.nick)
            case "f": parameters.append(flags)
            case "d": parameters.append("0")
            case "l": parameters.append("0")
            case "a": parameters.append(entry.account.map { IRCMessage.word($0) } ?? "0")
            case "o": parameters.append("n/a")
            default: parameters.append(IRCConversation.realName(of: info))
            }
        }
        return (.whoxReply, parameters)
    }
}
