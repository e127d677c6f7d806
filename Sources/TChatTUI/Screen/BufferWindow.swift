/// What of a buffer the message pane shows, and where paging takes it.
///
/// `ChatBuffer.scroll` counts lines back from the newest: the pane shows the line `scroll` from the end at its
/// bottom and fills upwards. Drawing and paging both count rows through `rows(at:)`, day changes and the unread
/// marker included, so PgUp can never pass the first line and PgDn moves by the page it shows. While scrolled
/// back, the bottom row is the "more below" bar, never drawn over text.
public struct BufferWindow {
    public let buffer: ChatBuffer
    public let layout: LineLayout
    public let width: Int
    public let height: Int

    public init(buffer: ChatBuffer, layout: LineLayout, width: Int, height: Int) {
        self.buffer = buffer
        self.layout = layout
        self.width = max(width, 1)
        self.height = max(height, 0)
    }

    /// Rows for text: one fewer while scrolled back, for the bar.
    public func textHeight(scroll: Int) -> Int { scroll > 0 && height > 1 ? height - 1 : height }

    /// The rows of the line at `index`, with the day change and the unread marker that go above it.
    public func rows(at index: Int) -> [LineLayout.Row] {
        let line = buffer.lines[index]
        var rows: [LineLayout.Row] = []
        let clock = layout.clock
        if index > 0, clock.day(buffer.lines[index - 1].time) != clock.day(line.time) {
            rows.append(Self.rule(clock.describe(day: clock.day(line.time)), width: width, style: .dimmed))
        }
        if index == buffer.markerIndex { rows.append(Self.rule("unread", width: width, style: Self.markerStyle)) }
        return rows + layout.rows(for: line, width: width)
    }

    public func rowCount(at index: Int) -> Int {
        let clock = layout.clock
        var count = layout.rowCount(for: buffer.lines[index], width: width)
        if index > 0, clock.day(buffer.lines[index - 1].time) != clock.day(buffer.lines[index].time) { count += 1 }
        if index == buffer.markerIndex { count += 1 }
        return count
    }

    /// The rows to draw at `scroll`, top to bottom: at most `textHeight(scroll:)`, the oldest cut off first.
    public func visibleRows(scroll: Int) -> [LineLayout.Row] {
        let room = textHeight(scroll: scroll)
        var rows: [LineLayout.Row] = []
        var index = buffer.lines.count - scroll - 1
        while index >= 0 && rows.count < room {
            rows.insert(contentsOf: self.rows(at: index), at: 0)
            index -= 1
        }
        if rows.count > room { rows.removeFirst(rows.count - room) }
        return rows
    }

    /// The scroll that shows the first line at the top; 0 when everything fits.
    public var maximumScroll: Int {
        let count = buffer.lines.count
        var fromEnd = 0
        for index in stride(from: count - 1, through: 0, by: -1) {
            fromEnd += rowCount(at: index)
            if fromEnd > height { break }
            if index == 0 { return 0 }  // everything fits at the live end
        }
        let room = textHeight(scroll: 1)
        var total = 0
        for index in 0..<count {
            total += rowCount(at: index)
            // Lines 0..<index fit above the bar and this one does not: the view ending at index - 1 shows line 0
            // whole at the top (a first line taller than the pane shows its end).
            if total > room { return index == 0 ? count - 1 : count - index }
        }
        return 0
    }

    /// A page back: the line at the top comes to the bottom. Nil at the first line already (time to fetch
    /// older messages).
    public func pageUp(from scroll: Int) -> Int? {
        let maximum = maximumScroll
        guard scroll < maximum else { return nil }
        return min(scroll + linesFitting(endingAt: buffer.lines.count - scroll - 1, downwards: false), maximum)
    }

    /// A page forward, towards the live end (0).
    public func pageDown(from scroll: Int) -> Int {
        guard scroll > 0 else { return 0 }
        return max(scroll - linesFitting(endingAt: buffer.lines.count - scroll, downwards: true), 0)
    }

    /// `lines` lines back (positive) or forward, kept between the live end and the first line (the mouse wheel).
    public func scrolled(from scroll: Int, by lines: Int) -> Int {
        min(max(scroll + lines, 0), max(maximumScroll, scroll))
    }

    /// How many lines from `start` (going up, or down) fill the text rows less one, the row kept for context;
    /// at least one, so a line taller than the pane still moves.
    private func linesFitting(endingAt start: Int, downwards: Bool) -> Int {
        let room = max(textHeight(scroll: 1) - 1, 1)
        var rows = 0
        var count = 0
        var index = start
        while index >= 0 && index < buffer.lines.count {
            rows += rowCount(at: index)
            if rows > room { break }
            count += 1
            index += downwards ? 1 : -1
        }
        return max(count, 1)
    }

    /// The bar shown on the bottom row while scrolled back.
    public func bar(scroll: Int) -> String {
        " ↓ \(scroll) newer \(scroll == 1 ? "line" : "lines") below · End returns to live "
    }

    static let markerStyle = Style(foreground: .red)

    /// A full-width rule with a label: a day change, the unread marker.
    static func rule(_ text: String, width: Int, style: Style) -> LineLayout.Row {
        let label = "── \(text) "
        let fill = max(width - CellWidth.of(label), 0)
        return [(label + String(repeating: "─", count: fill), style)]
    }
}
