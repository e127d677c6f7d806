/// Which entries have something unread, most urgent first: irssi's `Act:` and WeeChat's hotlist. The status line
/// shows it, Alt+A follows it, and the sidebar's marks for entries scrolled out of sight count from it, so
/// activity is never only where the eye is not.
public struct Hotlist: Sendable, Equatable {
    public enum Level: Int, Sendable, Comparable {
        case message = 1
        /// A direct message to you.
        case direct = 2
        /// A line naming you.
        case mention = 3

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public struct Entry: Sendable, Equatable {
        /// The sidebar index (shown 1-based).
        public var index: Int
        public var level: Level
        public var unread: Int
    }

    /// Mentions and direct messages first, then by sidebar order.
    public let entries: [Entry]

    public init(_ buffers: [ChatBuffer], active: Int) {
        entries = buffers.indices.compactMap { index in
            let buffer = buffers[index]
            guard index != active, buffer.unread > 0 else { return nil }
            return Entry(index: index, level: Self.level(of: buffer), unread: buffer.unread)
        }
        .sorted { ($0.level, -$0.index) > ($1.level, -$1.index) }
    }

    static func level(of buffer: ChatBuffer) -> Level {
        guard buffer.mentions > 0 else { return .message }
        if case .direct = buffer.kind { return .direct }
        return .mention
    }

    /// What entries in `range` hold in all: unread lines, and the most urgent level among them.
    public func summary(of range: Range<Int>) -> (unread: Int, level: Level)? {
        let inside = entries.filter { range.contains($0.index) }
        guard let top = inside.map(\.level).max() else { return nil }
        return (inside.reduce(0) { $0 + $1.unread }, top)
    }

    /// The status line's text: `5!,12@,3` (`!` a mention, `@` a direct message).
    public var text: String {
        entries.map { "\($0.index + 1)\(Self.mark($0.level))" }.joined(separator: ",")
    }

    public static func mark(_ level: Level) -> String {
        switch level {
        case .mention: "!"
        case .direct: "@"
        case .message: ""
        }
    }

    public static func style(_ level: Level, reverse: Bool = false) -> Style {
        switch level {
        case .mention: Style(foreground: .red, bold: true, reverse: reverse)
        case .direct: Style(foreground: .magenta, bold: true, reverse: reverse)
        case .message: Style(foreground: .yellow, reverse: reverse)
        }
    }
}

/// Which sidebar entries fit in its rows, keeping the active one in view, and whether a row at the top or the
/// bottom is given to a mark for the entries out of sight.
public struct SidebarWindow: Sendable, Equatable {
    /// The first entry shown.
    public var first: Int
    /// Entries shown.
    public var shown: Int
    /// The top row marks entries above (0..<first).
    public var above: Bool
    /// The bottom row marks entries below.
    public var below: Bool

    public init(entries: Int, rows: Int, active: Int) {
        guard rows > 0, entries > rows else {
            self.init(first: 0, shown: min(entries, max(rows, 0)), above: false, below: false)
            return
        }
        guard rows >= 3 else {
            // No room for marks: the active entry, and what fits after it.
            self.init(first: min(active, entries - rows), shown: rows, above: false, below: false)
            return
        }
        if active < rows - 1 {
            self.init(first: 0, shown: rows - 1, above: false, below: true)
        } else if active >= entries - (rows - 1) {
            self.init(first: entries - (rows - 1), shown: rows - 1, above: true, below: false)
        } else {
            let shown = rows - 2
            self.init(
                first: min(max(active - shown + 1, 1), entries - shown - 1), shown: shown, above: true, below: true)
        }
    }

    init(first: Int, shown: Int, above: Bool, below: Bool) {
        self.first = first
        self.shown = shown
        self.above = above
        self.below = below
    }

    /// The entry on sidebar row `row`, nil for a mark or an empty row.
    public func entry(atRow row: Int) -> Int? {
        let offset = row - (above ? 1 : 0)
        guard offset >= 0, offset < shown else { return nil }
        return first + offset
    }
}
