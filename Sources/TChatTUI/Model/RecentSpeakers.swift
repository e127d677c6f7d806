/// Who spoke or joined lately in each channel, most recent first: Tab offers them in that order, and a quit or a
/// nick change is shown in the channels where that nick was seen.
struct RecentSpeakers: Sendable {
    private var byChannel: [String: [String]] = [:]
    /// Nicks kept per channel.
    static let limit = 500

    func nicks(in channel: String) -> [String] { byChannel[channel.lowercased()] ?? [] }

    func contains(_ nick: String, in channel: String) -> Bool {
        nicks(in: channel).contains { $0.lowercased() == nick.lowercased() }
    }

    mutating func remember(_ nick: String, in channel: String) {
        let key = channel.lowercased()
        var nicks = byChannel[key] ?? []
        nicks.removeAll { $0.lowercased() == nick.lowercased() }
        nicks.insert(nick, at: 0)
        if nicks.count > Self.limit { nicks.removeLast() }
        byChannel[key] = nicks
    }

    mutating func forget(_ nick: String, in channel: String) {
        byChannel[channel.lowercased()]?.removeAll { $0.lowercased() == nick.lowercased() }
    }

    /// A nick gone from every channel (our own old nick, after /nick).
    mutating func forgetEverywhere(_ nick: String) {
        for key in byChannel.keys { byChannel[key]?.removeAll { $0.lowercased() == nick.lowercased() } }
    }

    mutating func forgetChannel(_ channel: String) { byChannel[channel.lowercased()] = nil }
}

/// Whether a line names you: a nick as a word of its own, ignoring case ("bob:" and "@bob" do, "bobby" does not),
/// as irssi's and WeeChat's highlights match.
enum Mention {
    static let nickCharacters = Set("_-[]{}\\|^`")

    static func names(_ nick: String, in text: String) -> Bool {
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber || nickCharacters.contains($0)) }
        let wanted = nick.lowercased()
        return words.contains { $0 == wanted }
    }
}
