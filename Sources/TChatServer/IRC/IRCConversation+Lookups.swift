import TChatIRC
import TChatProtocol

/// ISON and USERHOST, which irssi's notify list and many bots send: a WHOIS per nick (so a nick on any server of
/// the network is found, and the request budget counts each), one reply once all are answered.
extension IRCConversation {
    /// The most nicks one ISON asks about (a 512-byte line holds about 50; RFC 2812 sets no number).
    static let maxIsonNicks = 32
    /// The most nicks one USERHOST asks about (RFC 2812: five).
    static let maxUserhostNicks = 5

    mutating func ison(_ message: IRCMessage) {
        lookUp(.ison, Self.words(message.params).prefix(Self.maxIsonNicks))
    }

    mutating func userhost(_ message: IRCMessage) {
        lookUp(.userhost, Self.words(message.params).prefix(Self.maxUserhostNicks))
    }

    /// Every parameter split at spaces: `ISON a b` and `ISON :a b` ask the same.
    private static func words(_ params: [String]) -> [String] {
        params.flatMap { $0.split(separator: " ").map(String.init) }
    }

    private mutating func lookUp(_ kind: IRCLookup.Kind, _ nicks: ArraySlice<String>) {
        guard !nicks.isEmpty else {
            numeric(.needMoreParams, kind == .ison ? "ISON" : "USERHOST", "Not enough parameters")
            return
        }
        lookupCounter &+= 1
        let group = lookupCounter
        lookups[group] = IRCLookup(kind: kind, nicks: Array(nicks))
        for (index, nick) in nicks.enumerated() where !request(.whois(nick: nick), .lookup(group: group, index: index))
        {
            lookupAnswered(group: group, index: index, nick: nil, away: false)
        }
    }

    /// One nick's WHOIS is answered: `nick` as its holder spells it, nil when nobody holds it (or it was refused).
    mutating func lookupAnswered(group: UInt32, index: Int, nick: String?, away: Bool) {
        guard var lookup = lookups[group], lookup.answers.indices.contains(index) else { return }
        lookup.answers[index] = nick.map { (nick: $0, away: away) }
        lookup.answered += 1
        guard lookup.isDone else {
            lookups[group] = lookup
            return
        }
        lookups[group] = nil
        let found = lookup.answers.compactMap { $0 }
        switch lookup.kind {
        case .ison:
            numeric(.isOn, found.map(\.nick).joined(separator: " "))
        case .userhost:
            numeric(
                .userHost,
                found.map { "\($0.nick)=\($0.away ? "-" : "+")\($0.nick)@\(Self.userHost)" }.joined(separator: " "))
        }
    }
}
