public import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How one scrollback line becomes screen rows: time, nick column, text wrapped with a hanging indent.
///
/// ```
/// 12:04     alice │ a long message that wraps onto the next row and stays
///                 │ aligned under its first word
/// 12:05       --> │ bob joined #ops
/// ```
public struct LineLayout: Sendable {
    public enum TimeFormat: String, Sendable, Codable {
        case minutes = "HH:mm"
        case seconds = "HH:mm:ss"
    }

    public var timeFormat: TimeFormat
    /// The nick column's width (nicks are right-aligned in it, cut with `+` when longer).
    public var nickColumn: Int
    /// Local time of day and date for a timestamp; injectable so tests do not depend on the machine's zone.
    public var clock: LocalClock

    public init(timeFormat: TimeFormat = .minutes, nickColumn: Int, clock: LocalClock = .system) {
        self.timeFormat = timeFormat
        self.nickColumn = min(max(nickColumn, 3), 16)
        self.clock = clock
    }

    /// Columns before the text: time, a space, the nick column, " │ ".
    public var textColumn: Int { timeFormat.rawValue.count + 1 + nickColumn + 3 }

    /// A row, as runs of styled text.
    public typealias Row = [(text: String, style: Style)]

    public func rows(for line: Line, width: Int) -> [Row] {
        if case .text(let text, let indent) = line.kind {
            return Self.plainRows(text, indent: indent, width: width).map { [($0, .plain)] }
        }
        let (marker, markerStyle, text, textStyle) = parts(of: line)
        let time = clock.time(line.time, format: timeFormat)
        let textWidth = max(width - textColumn, 1)
        var rows: [Row] = []
        for (index, piece) in Self.wrap(text, width: textWidth).enumerated() {
            let prefix: Row =
                index == 0
                ? [(time + " ", .dimmed), (Self.rightAligned(marker, nickColumn), markerStyle), (" │ ", .dimmed)]
                : [(String(repeating: " ", count: textColumn - 2), .plain), ("│ ", .dimmed)]
            rows.append(prefix + [(piece, textStyle)])
        }
        return rows
    }

    public func rowCount(for line: Line, width: Int) -> Int {
        if case .text(let text, let indent) = line.kind {
            return Self.plainRows(text, indent: indent, width: width).count
        }
        return Self.wrap(parts(of: line).2, width: max(width - textColumn, 1)).count
    }

    private func parts(of line: Line) -> (String, Style, String, Style) {
        switch line.kind {
        case .message(let nick, let text, let style):
            var textStyle = line.mention ? Style.highlight : Style.plain
            if style == .action {
                textStyle.bold = line.mention
                return ("*", Style.nick(nick), nick + " " + text, textStyle)
            }
            // As IRC clients show a notice: the nick between dashes, the text as it is.
            if style == .notice { return ("-" + nick + "-", Style.nick(nick), text, textStyle) }
            // A mention's nick on a yellow ground (without colour the background turns into reverse video).
            let nickStyle = line.mention ? Style(foreground: .black, background: .yellow, bold: true) : Style.nick(nick)
            return (nick, nickStyle, text, textStyle)
        case .event(let marker, let text):
            return (marker, .dimmed, text, .dimmed)
        case .info(let text):
            return ("--", Style(foreground: .cyan), text, .plain)
        case .error(let text):
            return ("!!", .error, text, Style(foreground: .red))
        case .text(let text, _):
            return ("", .plain, text, .plain)
        }
    }

    /// Text wrapped to `width`, rows after the first indented (when the indent leaves room for text).
    static func plainRows(_ text: String, indent: Int, width: Int) -> [String] {
        let width = max(width, 1)
        let indent = indent < width / 2 ? indent : 0
        let head = wrap(text, width: width)
        guard head.count > 1, indent > 0 else { return head }
        let rest = wrap(String(text.dropFirst(head[0].count).drop { $0 == " " }), width: width - indent)
        return [head[0]] + rest.map { String(repeating: " ", count: indent) + $0 }
    }

    static func rightAligned(_ text: String, _ width: Int) -> String {
        let cells = CellWidth.of(text)
        if cells > width {
            let (head, used) = TerminalText.prefix(text, fitting: width - 1)
            return String(repeating: " ", count: width - 1 - used) + head + "+"
        }
        return String(repeating: " ", count: width - cells) + text
    }

    /// Splits text into rows of at most `width` cells: at spaces where possible, inside a word only when the word
    /// is longer than a row, never inside a grapheme. Newlines in the text start new rows.
    public static func wrap(_ text: String, width: Int) -> [String] {
        var rows: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let clean = TerminalText.sanitize(paragraph)
            var row = ""
            var rowWidth = 0
            var word = ""
            var wordWidth = 0
            func flushWord() {
                if rowWidth + wordWidth <= width {
                    row += word
                    rowWidth += wordWidth
                } else {
                    // The word does not fit: start a new row (dropping the space that ended the last one), and cut
                    // the word itself if even a whole row cannot hold it.
                    if !row.isEmpty {
                        while row.last == " " { row.removeLast() }
                        rows.append(row)
                        row = ""
                        rowWidth = 0
                        word = String(word.drop { $0 == " " })
                        wordWidth = CellWidth.of(word)
                    }
                    while wordWidth > width {
                        let (head, used) = TerminalText.prefix(word, fitting: width)
                        let cut = head.isEmpty ? word.prefix(1) : head
                        rows.append(String(cut))
                        word = String(word.dropFirst(cut.count))
                        wordWidth -= head.isEmpty ? CellWidth.of(cut) : used
                    }
                    row = word
                    rowWidth = wordWidth
                }
                word = ""
                wordWidth = 0
            }
            for character in clean {
                if character == " " && !word.isEmpty && word.last != " " { flushWord() }
                word.append(character)
                wordWidth += CellWidth.of(character)
            }
            flushWord()
            rows.append(row)
        }
        return rows
    }
}

/// Local time for display.
public struct LocalClock: Sendable {
    /// Seconds to add to UTC for the local zone at a given instant.
    public let offset: @Sendable (Timestamp) -> Int

    public init(offset: @escaping @Sendable (Timestamp) -> Int) { self.offset = offset }

    public static let utc = LocalClock { _ in 0 }

    /// The machine's zone (TZ or /etc/localtime), daylight saving included.
    public static let system = LocalClock { time in
        var seconds = time_t(time.milliseconds / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return Int(parts.tm_gmtoff)
    }

    public func time(_ time: Timestamp, format: LineLayout.TimeFormat) -> String {
        let seconds = Int(time.milliseconds / 1000) + offset(time)
        let day = ((seconds % 86_400) + 86_400) % 86_400
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        let base = two(day / 3600) + ":" + two(day / 60 % 60)
        return format == .seconds ? base + ":" + two(day % 60) : base
    }

    /// Days since 1970-01-01 in local time, to notice a change of day.
    public func day(_ time: Timestamp) -> Int {
        let seconds = Int(time.milliseconds / 1000) + offset(time)
        return seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    }

    /// "Tuesday 24 November 2026" for a day number.
    public func describe(day: Int) -> String {
        let (year, month, date) = Timestamp.civil(fromDays: day)
        let weekdays = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"]
        let months = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ]
        let weekday = weekdays[((day % 7) + 7) % 7]
        return "\(weekday) \(date) \(months[month - 1]) \(year)"
    }
}
