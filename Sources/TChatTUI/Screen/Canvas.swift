/// One terminal cell: a code point that takes space with any zero-width ones after it (or a space), and its style.
/// A wide one fills its cell and the next, which holds an empty `text` so that both sides agree on which column
/// everything is in.
public struct Cell: Sendable, Hashable {
    public var text: String
    public var style: Style

    public static let blank = Cell(text: " ", style: .plain)
    /// The second column of a wide grapheme.
    static func continuation(_ style: Style) -> Cell { Cell(text: "", style: style) }
}

/// The whole screen as it should look: what the renderer draws, and what tests read instead of a terminal.
public struct Canvas: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var rows: [[Cell]]
    /// Where the terminal cursor goes (the input line's caret); nil hides it.
    public var cursor: (x: Int, y: Int)? {
        get { cursorPosition.map { ($0.x, $0.y) } }
        set { cursorPosition = newValue.map { CursorPosition(x: $0.x, y: $0.y) } }
    }

    private struct CursorPosition: Sendable, Equatable {
        var x: Int
        var y: Int
    }

    private var cursorPosition: CursorPosition?

    public init(width: Int, height: Int) {
        self.width = max(width, 0)
        self.height = max(height, 0)
        rows = Array(repeating: Array(repeating: .blank, count: self.width), count: self.height)
    }

    /// Writes `text` from column `x` of row `y`, never past `limit` (default: the right edge). A grapheme that
    /// would straddle the limit is replaced by spaces. Returns the column after the last cell written.
    ///
    /// A cell holds one code point that takes space, with the zero-width ones after it (accents, variation
    /// selectors): exactly what ncurses puts in one `cchar_t`, so the canvas and the terminal agree on columns
    /// even for a grapheme made of several wide code points.
    @discardableResult
    public mutating func put(_ text: some StringProtocol, x: Int, y: Int, style: Style, limit: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let end = min(limit ?? width, width)
        var column = max(x, 0)
        for character in text {
            let cells = CellWidth.of(character)
            if cells == 0 { continue }  // only zero-width code points: nothing to draw them on
            guard column + cells <= end else {
                while column < end {
                    rows[y][column] = Cell(text: " ", style: style)
                    column += 1
                }
                return end
            }
            for unit in Self.units(of: character) {
                rows[y][column] = Cell(text: unit.text, style: style)
                if unit.width == 2 { rows[y][column + 1] = .continuation(style) }
                column += unit.width
            }
        }
        return column
    }

    /// A grapheme cut into drawable units: each code point that takes space, with the zero-width ones after it.
    static func units(of character: Character) -> [(text: String, width: Int)] {
        var units: [(text: String, width: Int)] = []
        for scalar in character.unicodeScalars {
            let width = CellWidth.of(scalar)
            if width == 0, !units.isEmpty {
                units[units.count - 1].text.unicodeScalars.append(scalar)
            } else if width > 0 {
                units.append((String(scalar), width))
            }
        }
        return units
    }

    /// Paints `count` cells from `x` with spaces in `style` (bars, highlighted entries).
    public mutating func fill(x: Int, y: Int, count: Int, style: Style) {
        guard y >= 0, y < height else { return }
        let start = max(x, 0)
        let end = min(x + count, width)
        guard start < end else { return }
        for column in start..<end { rows[y][column] = Cell(text: " ", style: style) }
    }

    /// A row as plain text, the way `tmux capture-pane -p` shows it: trailing spaces removed.
    public func text(ofRow y: Int) -> String {
        var line = rows[y].map(\.text).joined()
        while line.last == " " { line.removeLast() }
        return line
    }

    /// Every row as plain text.
    public var lines: [String] { (0..<height).map(text(ofRow:)) }

    public static func == (lhs: Canvas, rhs: Canvas) -> Bool {
        lhs.width == rhs.width && lhs.height == rhs.height && lhs.rows == rhs.rows
            && lhs.cursorPosition == rhs.cursorPosition
    }
}
