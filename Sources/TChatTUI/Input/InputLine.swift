/// The line being typed: its text, the cursor, and the lines typed before (Up and Down walk them).
///
/// Positions are grapheme indices, so the cursor never lands inside an emoji or between a letter and its accent.
public struct InputLine: Sendable, Equatable {
    public private(set) var characters: [Character] = []
    /// Index in `characters` the cursor is before.
    public private(set) var cursor = 0
    public private(set) var history: [String] = []
    private var historyIndex: Int?
    /// What was being typed when Up first left it.
    private var draft: [Character] = []
    /// What the last Ctrl-U, Ctrl-K or Ctrl-W cut, for Ctrl-Y.
    public private(set) var cut: [Character] = []

    public static let historyLimit = 500

    public init() {}

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    /// Inserts at the cursor. The text is clustered again with the characters on either side: a combining accent
    /// or a skin tone typed on its own joins the character before it, so Backspace later removes them together.
    /// Only the neighbours are looked at, so typing into a long line costs the same as into a short one.
    public mutating func insert(_ text: some StringProtocol) {
        let start = max(cursor - 1, 0)
        let end = min(cursor + 1, characters.count)
        let before = String(characters[start..<cursor]) + text
        let clustered = Array(before + String(characters[cursor..<end]))
        characters.replaceSubrange(start..<end, with: clustered)
        // The cursor goes after what was typed, counted in the new clusters.
        cursor = start + min(before.count, clustered.count)
    }

    /// Replaces the whole text, cursor at the end.
    public mutating func set(_ text: String) {
        characters = Array(text)
        cursor = characters.count
    }

    /// Replaces `range` (grapheme indices) with `text`, the cursor after it (completion).
    public mutating func replace(_ range: Range<Int>, with text: String) {
        let new = Array(text)
        characters.replaceSubrange(range, with: new)
        cursor = range.lowerBound + new.count
    }

    public mutating func backspace() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    public mutating func left() { cursor = max(cursor - 1, 0) }
    public mutating func right() { cursor = min(cursor + 1, characters.count) }
    public mutating func home() { cursor = 0 }
    public mutating func end() { cursor = characters.count }

    /// Ctrl-U: cut from the start of the line to the cursor.
    public mutating func killToStart() {
        cutRange(0..<cursor)
    }

    /// Ctrl-K: cut from the cursor to the end of the line.
    public mutating func killToEnd() {
        cutRange(cursor..<characters.count)
    }

    /// Ctrl-W: cut the word before the cursor, and the spaces after it.
    public mutating func deleteWordBefore() {
        cutRange(wordStart(before: cursor)..<cursor)
    }

    /// Ctrl-Y: inserts what was cut last.
    public mutating func yank() {
        guard !cut.isEmpty else { return }
        insert(String(cut))
    }

    /// Alt-B, Ctrl-Left: to the start of this word, or of the one before.
    public mutating func wordLeft() { cursor = wordStart(before: cursor) }

    /// Alt-F, Ctrl-Right: to the end of this word, or of the next.
    public mutating func wordRight() {
        var end = cursor
        while end < characters.count, characters[end] == " " { end += 1 }
        while end < characters.count, characters[end] != " " { end += 1 }
        cursor = end
    }

    private func wordStart(before position: Int) -> Int {
        var start = position
        while start > 0, characters[start - 1] == " " { start -= 1 }
        while start > 0, characters[start - 1] != " " { start -= 1 }
        return start
    }

    private mutating func cutRange(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        cut = Array(characters[range])
        characters.removeSubrange(range)
        cursor = range.lowerBound
    }

    public mutating func historyUp() {
        guard !history.isEmpty else { return }
        let index: Int
        if let current = historyIndex {
            index = max(current - 1, 0)
        } else {
            draft = characters
            index = history.count - 1
        }
        historyIndex = index
        set(history[index])
    }

    public mutating func historyDown() {
        guard let current = historyIndex else { return }
        if current + 1 < history.count {
            historyIndex = current + 1
            set(history[current + 1])
        } else {
            historyIndex = nil
            characters = draft
            cursor = characters.count
        }
    }

    /// Takes the line, remembers it (unless it repeats the last one), and empties the input.
    public mutating func submit() -> String {
        let line = text
        if !line.isEmpty, history.last != line {
            history.append(line)
            if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
        }
        characters = []
        cursor = 0
        historyIndex = nil
        draft = []
        return line
    }

    /// What to show in `width` cells: a window of the text that keeps the cursor visible, and the cursor's column
    /// inside it.
    public func visible(width: Int) -> (text: String, cursorColumn: Int) {
        guard width > 1 else { return ("", 0) }
        let widths = characters.map(CellWidth.of)
        // Start far enough right that the text up to the cursor, plus one cell for the cursor, fits.
        var start = 0
        var beforeCursor = widths[0..<cursor].reduce(0, +)
        while beforeCursor + 1 > width, start < cursor {
            beforeCursor -= widths[start]
            start += 1
        }
        var shown = ""
        var used = 0
        for index in start..<characters.count {
            if used + widths[index] > width { break }
            shown.append(characters[index])
            used += widths[index]
        }
        return (shown, beforeCursor)
    }
}
