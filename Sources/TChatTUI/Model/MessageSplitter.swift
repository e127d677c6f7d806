/// Cuts a long line into messages that each fit the server's frame limit, so a big paste is sent as several
/// messages in order instead of one frame the server must refuse (and close the connection over).
///
/// Cuts fall between grapheme clusters, never inside an emoji or between a letter and its accent, and at the
/// last space of a piece when there is one in its final quarter, as irssi's split-long-messages does.
enum MessageSplitter {
    /// Pieces of `text` of at most `maxBytes` UTF-8 bytes each (at least one grapheme each, whatever its size).
    static func split(_ text: String, maxBytes: Int) -> [String] {
        let limit = max(maxBytes, 1)
        guard text.utf8.count > limit else { return [text] }
        var pieces: [String] = []
        var current: [Character] = []
        var bytes = 0
        var lastSpace: Int?
        for character in text {
            let size = character.utf8.count
            if bytes + size > limit, !current.isEmpty {
                // Prefer a space in the last quarter; the space itself ends the piece it closes.
                if let space = lastSpace, space >= current.count * 3 / 4 {
                    pieces.append(String(current[..<space]))
                    current = Array(current[(space + 1)...])
                } else {
                    pieces.append(String(current))
                    current = []
                }
                bytes = current.reduce(0) { $0 + $1.utf8.count }
                lastSpace = current.lastIndex(of: " ")
                // What was carried over may still not leave room for this character.
                if bytes + size > limit, !current.isEmpty {
                    pieces.append(String(current))
                    current = []
                    bytes = 0
                    lastSpace = nil
                }
            }
            if character == " " { lastSpace = current.count }
            current.append(character)
            bytes += size
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces.filter { !$0.isEmpty }
    }
}
