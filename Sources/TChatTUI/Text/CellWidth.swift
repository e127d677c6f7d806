import TChatIRC

/// How many terminal cells text takes.
///
/// Text is always handled whole graphemes at a time (Swift's `Character`): wrapping never splits one, and the
/// cursor moves over one at a time. A grapheme's width is the sum of its code points' widths as the C library
/// computes them (`CellWidthTable`), because that is what ncurses and the terminal count when they draw it:
/// combining marks add nothing, CJK and emoji take two cells.
public enum CellWidth {
    public static func of(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x300 { return 1 }  // ASCII and Latin-1 (controls are replaced before text gets here)
        if contains(CellWidthTable.zeroWidth, value) { return 0 }
        if contains(CellWidthTable.doubleWidth, value) { return 2 }
        return 1
    }

    public static func of(_ character: Character) -> Int {
        var width = 0
        for scalar in character.unicodeScalars { width += of(scalar) }
        return width
    }

    public static func of(_ text: some StringProtocol) -> Int {
        var width = 0
        for character in text { width += of(character) }
        return width
    }

    private static func contains(_ ranges: [ClosedRange<UInt32>], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if value < ranges[middle].lowerBound {
                high = middle - 1
            } else if value > ranges[middle].upperBound {
                low = middle + 1
            } else {
                return true
            }
        }
        return false
    }
}

/// Makes text from the network safe to put on a terminal.
public enum TerminalText {
    /// Control characters (which could move the cursor or change colours) become U+FFFD; a tab becomes a space.
    /// IRC's formatting codes (bold, colours with their digits, italics...), which IRC users send and which would
    /// otherwise show as U+FFFD and stray digits, are taken out. Newlines are not allowed here: callers split text
    /// into lines first.
    public static func sanitize(_ text: some StringProtocol) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in IRCText.stripFormatting(String(text)).unicodeScalars {
            switch scalar.value {
            case 0x09: result.unicodeScalars.append(" ")
            case 0x00..<0x20, 0x7F..<0xA0: result.unicodeScalars.append("\u{FFFD}")
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The longest prefix of `text` that fits in `width` cells, and its width.
    public static func prefix(_ text: some StringProtocol, fitting width: Int) -> (Substring, Int) {
        let string = Substring(text)
        var used = 0
        var end = string.startIndex
        for index in string.indices {
            let cells = CellWidth.of(string[index])
            if used + cells > width { break }
            used += cells
            end = string.index(after: index)
        }
        return (string[..<end], used)
    }

    /// `text` cut to `width` cells, ending in `…` when it had to be cut.
    public static func truncate(_ text: some StringProtocol, to width: Int) -> String {
        guard width > 0 else { return "" }
        if CellWidth.of(text) <= width { return String(text) }
        let (head, _) = prefix(text, fitting: width - 1)
        return head + "…"
    }

    /// `text` cut to `width` cells in the middle, keeping both ends: `#engineering-…-backend` and
    /// `#engineering-…-frontend` stay apart where cutting the end would make them the same.
    public static func truncateMiddle(_ text: some StringProtocol, to width: Int) -> String {
        guard width > 2 else { return truncate(text, to: width) }
        if CellWidth.of(text) <= width { return String(text) }
        let tailWidth = (width - 1) / 2
        let (head, _) = prefix(text, fitting: width - 1 - tailWidth)
        var tail = ""
        var used = 0
        for character in text.reversed() {
            let cells = CellWidth.of(character)
            if used + cells > tailWidth { break }
            used += cells
            tail.insert(character, at: tail.startIndex)
        }
        return head + "…" + tail
    }
}
