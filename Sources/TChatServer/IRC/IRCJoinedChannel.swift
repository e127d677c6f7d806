import TChatProtocol

/// What the IRC side remembers of a channel it joined: its spelling, topic, and who holds `@` and `+`, for NAMES,
/// WHO and TOPIC answered without asking the server again.
struct IRCJoinedChannel {
    var name: String
    var topic = ""
    var topicSetBy = ""
    var topicSetAt = Timestamp(milliseconds: 0)
    /// The skeletons (`Nick.key`) of the operators' and voiced members' names CHANNEL_MODES gives.
    var operators: Set<String> = []
    var voiced: Set<String> = []

    init(name: String) {
        self.name = name
    }

    /// `@`, `+`, both (multi-prefix) or nothing before `nick`.
    func prefix(of nick: String, all: Bool) -> String {
        let key = Nick.key(for: nick)
        var prefix = ""
        if operators.contains(key) { prefix += "@" }
        if voiced.contains(key), all || prefix.isEmpty { prefix += "+" }
        return prefix
    }

    /// Follows a MODE_CHANGED of `+o NAME`, `-v NAME` and the like.
    mutating func apply(_ change: String) {
        let words = change.split(separator: " ")
        guard words.count == 2, let sign = words[0].first, words[0].count == 2 else { return }
        let key = Nick.key(for: String(words[1]))
        switch (sign, words[0].last) {
        case ("+", "o"): operators.insert(key)
        case ("-", "o"): operators.remove(key)
        case ("+", "v"): voiced.insert(key)
        case ("-", "v"): voiced.remove(key)
        default: break
        }
    }
}
