import CNcurses

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The terminal through ncursesw, for output only: keys are read from the file descriptor by `KeyDecoder`, so
/// that bracketed paste, mouse reports and Alt combinations are understood the same way on every terminal.
///
/// Only rows that changed since the last frame are sent (`wnoutrefresh` then `doupdate`, which lets ncurses
/// compute the smallest update). Colours are turned into colour pairs on demand; with `NO_COLOR`, or on a
/// terminal without colours, only bold, dim, reverse and underline are used.
public final class CursesTerminal: Terminal {
    private var shown: Canvas?
    private let useColor: Bool
    private var pairs: [Int: Int16] = [:]
    private var nextPair: Int16 = 1
    private let maxPairs: Int
    private var ended = false

    /// Sequences that turn on bracketed paste and SGR mouse reports (button presses only), and off again.
    static let modesOn = "\u{1B}[?2004h" + mouseOn
    static let modesOff = mouseOff + "\u{1B}[?2004l"
    static let mouseOn = "\u{1B}[?1000h\u{1B}[?1006h"
    static let mouseOff = "\u{1B}[?1006l\u{1B}[?1000l"

    public func setMouse(_ on: Bool) {
        guard !ended else { return }
        Self.emit(on ? Self.mouseOn : Self.mouseOff)
    }

    /// Sets up the terminal: call `end()` on every way out (the event loop does, on errors and signals too).
    public init(colors: Bool) {
        setlocale(LC_ALL, "")
        initscr()
        raw()
        noecho()
        nonl()
        keypad(tchat_stdscr(), false)
        intrflush(tchat_stdscr(), false)
        leaveok(tchat_stdscr(), false)
        if colors && has_colors() {
            start_color()
            use_default_colors()
            useColor = true
            maxPairs = Int(tchat_color_pairs())
        } else {
            useColor = false
            maxPairs = 0
        }
        Self.emit(Self.modesOn)
    }

    deinit { end() }

    /// Restores the terminal as it was. Safe to call more than once.
    public func end() {
        guard !ended else { return }
        ended = true
        Self.emit(Self.modesOff)
        endwin()
    }

    public var size: (width: Int, height: Int) {
        var window = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 {
            return (Int(window.ws_col), Int(window.ws_row))
        }
        return (Int(tchat_cols()), Int(tchat_lines()))
    }

    /// Tells ncurses the terminal's new size.
    public func resize(width: Int, height: Int) {
        resizeterm(Int32(height), Int32(width))
        shown = nil
    }

    public func invalidate() {
        shown = nil
        clearok(tchat_stdscr(), true)
    }

    public func bell() { beep() }

    public func draw(_ canvas: Canvas) {
        let window = tchat_stdscr()
        let previous = shown.flatMap { $0.width == canvas.width && $0.height == canvas.height ? $0 : nil }
        if previous == nil { werase(window) }
        for y in 0..<canvas.height where previous?.rows[y] != canvas.rows[y] {
            var x = 0
            for cell in canvas.rows[y] {
                defer { x += 1 }
                if cell.text.isEmpty { continue }  // the right half of a wide character
                // The last cell of the screen cannot be written without scrolling it on some terminals; skip it.
                if y == canvas.height - 1 && x == canvas.width - 1 { continue }
                var characters = cell.text.unicodeScalars.prefix(5).map { wchar_t(bitPattern: $0.value) }
                characters.append(0)
                _ = tchat_put_cell(window, Int32(y), Int32(x), characters, attributes(cell.style), pair(cell.style))
            }
        }
        if let cursor = canvas.cursor {
            curs_set(1)
            wmove(window, Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        wnoutrefresh(window)
        doupdate()
        shown = canvas
    }

    private func attributes(_ style: Style) -> attr_t {
        var value = tchat_a_normal()
        if style.bold { value |= tchat_a_bold() }
        if style.dim { value |= tchat_a_dim() }
        if style.reverse { value |= tchat_a_reverse() }
        if style.underline { value |= tchat_a_underline() }
        // Without colour, a coloured bar would vanish: show it reversed instead.
        if !useColor && style.background != nil { value |= tchat_a_reverse() }
        return value
    }

    private func pair(_ style: Style) -> Int16 {
        guard useColor, style.foreground != nil || style.background != nil else { return 0 }
        let foreground = style.foreground.map { Int($0.rawValue) } ?? -1
        let background = style.background.map { Int($0.rawValue) } ?? -1
        let key = (foreground + 1) * 16 + (background + 1)
        if let pair = pairs[key] { return pair }
        guard Int(nextPair) < maxPairs else { return 0 }
        init_pair(nextPair, Int16(foreground), Int16(background))
        pairs[key] = nextPair
        nextPair += 1
        return nextPair - 1
    }

    static func emit(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}
