/// Tab completion of the word before the cursor: commands after `/` at the start, channels after `#`, nicks
/// otherwise (recent speakers first). Pressing Tab again cycles through the candidates.
struct Completion: Sendable, Equatable {
    /// Where the completed word starts, in graphemes.
    let start: Int
    let candidates: [String]
    var index: Int
    /// The suffix put after a candidate: ": " for a nick at the start of the line, else " ".
    let suffix: String

    /// Starts a completion for the word before the cursor, or nil when nothing matches.
    static func begin(input: InputLine, nicks: [String], channels: [String]) -> Completion? {
        let characters = input.characters
        var start = input.cursor
        while start > 0, characters[start - 1] != " " { start -= 1 }
        let word = String(characters[start..<input.cursor])
        let lowered = word.lowercased()
        var candidates: [String]
        var suffix = " "
        if start == 0, word.hasPrefix("/") {
            let name = lowered.dropFirst()
            candidates = CommandSpec.all.map(\.name).filter { $0.hasPrefix(name) }.map { "/" + $0 }
        } else if word.hasPrefix("#") {
            candidates = channels.filter { $0.lowercased().hasPrefix(lowered) }
        } else {
            guard !word.isEmpty else { return nil }
            candidates = nicks.filter { $0.lowercased().hasPrefix(lowered) }
            if start == 0 { suffix = ": " }
        }
        var seen = Set<String>()
        candidates = candidates.filter { seen.insert($0.lowercased()).inserted }
        guard !candidates.isEmpty else { return nil }
        return Completion(start: start, candidates: candidates, index: 0, suffix: suffix)
    }

    /// Puts the current candidate in place of the word (or of the previous candidate).
    func apply(to input: inout InputLine) {
        input.replace(start..<input.cursor, with: candidates[index] + suffix)
    }

    mutating func advance() { index = (index + 1) % candidates.count }
}
