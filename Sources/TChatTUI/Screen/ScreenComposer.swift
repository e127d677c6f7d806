import TChatProtocol

/// Draws the chat model onto a `Canvas`: title bar, sidebar, message pane, status line, input line.
///
/// It lays out only what is visible (walking back from the newest line shown until the pane is full), so the
/// cost of a frame does not depend on how long a buffer's scrollback is.
public enum ScreenComposer {
    public static func compose(_ ui: ChatUI) -> Canvas {
        var canvas = Canvas(width: ui.width, height: ui.height)
        let layout = ui.layout
        if let title = layout.title { drawTitle(ui, into: &canvas, title) }
        if let sidebar = layout.sidebar { drawSidebar(ui, into: &canvas, sidebar, compact: layout.compactSidebar) }
        drawPane(ui, into: &canvas, layout.pane)
        if let status = layout.status { drawStatus(ui, into: &canvas, status) }
        drawInput(ui, into: &canvas, layout.input)
        return canvas
    }

    static func drawTitle(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        canvas.fill(x: rect.x, y: rect.y, count: rect.width, style: .bar)
        let buffer = ui.activeBuffer
        var text: String
        switch buffer.kind {
        case .channel:
            let members = buffer.members == 1 ? "1 member" : "\(buffer.members) members"
            text = "\(buffer.name) · \(members)" + (buffer.topic.isEmpty ? "" : " · \(buffer.topic)")
        case .direct: text = "\(buffer.name) · direct conversation"
        case .status: text = "\(ui.serverName) · tchat \(TChatVersion.current)"
        case .help: text = "help · /help"
        }
        var style = Style.bar
        style.bold = true
        canvas.put(
            TerminalText.truncate(TerminalText.sanitize(text), to: rect.width - 2), x: rect.x + 1, y: rect.y,
            style: style)
    }

    static func drawSidebar(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect, compact: Bool) {
        let window = ui.sidebarWindow(rows: rect.height)
        let hotlist = ui.hotlist
        for row in 0..<rect.height {
            // The separator between the sidebar and the pane.
            canvas.put("│", x: rect.x + rect.width, y: rect.y + row, style: .dimmed)
        }
        if window.above {
            drawHidden(
                hotlist.summary(of: 0..<window.first), count: window.first, up: true, compact: compact,
                into: &canvas, x: rect.x, y: rect.y, width: rect.width)
        }
        if window.below {
            let start = window.first + window.shown
            drawHidden(
                hotlist.summary(of: start..<ui.buffers.count), count: ui.buffers.count - start, up: false,
                compact: compact, into: &canvas, x: rect.x, y: rect.y + rect.height - 1, width: rect.width)
        }
        for row in 0..<rect.height {
            guard let index = window.entry(atRow: row), index < ui.buffers.count else { continue }
            drawEntry(ui, index, compact: compact, into: &canvas, x: rect.x, y: rect.y + row, width: rect.width)
        }
    }

    /// The mark for entries out of sight: how many, and their unread lines coloured by the most urgent.
    static func drawHidden(
        _ summary: (unread: Int, level: Hotlist.Level)?, count: Int, up: Bool, compact: Bool,
        into canvas: inout Canvas, x: Int, y: Int, width: Int
    ) {
        let arrow = up ? "↑" : "↓"
        let label = compact ? " \(arrow)" : " \(arrow) \(count) more"
        canvas.put(label, x: x, y: y, style: .dimmed)
        guard let summary else { return }
        let text =
            compact
            ? Hotlist.mark(summary.level).isEmpty ? "+" : Hotlist.mark(summary.level)
            : "\(summary.unread)\(Hotlist.mark(summary.level))"
        canvas.put(text, x: x + width - CellWidth.of(text), y: y, style: Hotlist.style(summary.level))
    }

    static func drawEntry(
        _ ui: ChatUI, _ index: Int, compact: Bool, into canvas: inout Canvas, x: Int, y: Int, width: Int
    ) {
        let buffer = ui.buffers[index]
        let isActive = index == ui.active
        var style = Style.plain
        if isActive {
            style.reverse = true
            canvas.fill(x: x, y: y, count: width, style: style)
        }
        let level = buffer.unread > 0 ? Hotlist.level(of: buffer) : nil
        let number = index + 1 < 10 ? " \(index + 1)" : "\(index + 1)"
        if compact {
            // Numbers only: the activity is the mark after the number.
            let end = canvas.put(number, x: x, y: y, style: level.map { Hotlist.style($0, reverse: isActive) } ?? style)
            if let level {
                canvas.put(
                    Hotlist.mark(level).isEmpty ? "+" : Hotlist.mark(level), x: end, y: y,
                    style: Hotlist.style(level, reverse: isActive))
            }
            return
        }
        var end = canvas.put(number + " ", x: x, y: y, style: Style(dim: !isActive, reverse: isActive))
        // The count, right-aligned: mentions (and direct messages) stand out from plain unread messages.
        let count = level.map { "\(buffer.unread)\(Hotlist.mark($0))" } ?? ""
        let countWidth = count.isEmpty ? 0 : count.count + 1
        var nameStyle = style
        if buffer.unread > 0 && !isActive { nameStyle.bold = true }
        if case .direct = buffer.kind, buffer.unread > 0, !isActive { nameStyle.foreground = .magenta }
        // A private channel (+i, +k or +s) is marked after its name.
        let mark = buffer.isPrivate ? " \(buffer.modes.filter { "iks".contains($0) })" : ""
        let room = width - (end - x) - countWidth - mark.count
        end = canvas.put(
            TerminalText.truncateMiddle(TerminalText.sanitize(buffer.name), to: max(room, 1)), x: end, y: y,
            style: nameStyle)
        if !mark.isEmpty, room > 1 {
            canvas.put(mark, x: end, y: y, style: Style(foreground: .cyan, dim: !isActive, reverse: isActive))
        }
        if let level {
            canvas.put(count, x: x + width - count.count, y: y, style: Hotlist.style(level, reverse: isActive))
        }
    }

    static func drawPane(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        guard rect.height > 0, rect.width > 0 else { return }
        let window = ui.window
        let scroll = ui.activeBuffer.scroll
        let rows = window.visibleRows(scroll: scroll)
        let bottom = rect.y + window.textHeight(scroll: scroll)
        let top = bottom - rows.count
        for (offset, row) in rows.enumerated() {
            var x = rect.x
            for run in row {
                x = canvas.put(run.text, x: x, y: top + offset, style: run.style, limit: rect.x + rect.width)
            }
        }
        if scroll > 0 && rect.height > 1 {
            // Its own row: the newest line shown is never hidden under it.
            let bar = TerminalText.truncate(window.bar(scroll: scroll), to: rect.width)
            canvas.fill(x: rect.x, y: rect.y + rect.height - 1, count: rect.width, style: Style(reverse: true))
            canvas.put(bar, x: rect.x, y: rect.y + rect.height - 1, style: Style(reverse: true))
        }
    }

    static func drawStatus(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        canvas.fill(x: rect.x, y: rect.y, count: rect.width, style: .bar)
        var x = rect.x + 1
        let nick = ui.away.isEmpty ? "[\(ui.nick)]" : "[\(ui.nick) (away)]"
        x = canvas.put(nick, x: x, y: rect.y, style: Style(foreground: .white, background: .blue, bold: true))
        // The server's name, and where it was reached when that differs (before the welcome both are the address).
        let server = ui.serverName == ui.serverAddress ? ui.serverName : "\(ui.serverName) (\(ui.serverAddress))"
        x = canvas.put(" \(TerminalText.sanitize(server)) ", x: x, y: rect.y, style: .bar)
        let state: (String, Color)
        switch ui.connection {
        case .connected: state = ("connected", .green)
        case .connecting(let attempt): state = (attempt > 1 ? "connecting (attempt \(attempt))" : "connecting", .yellow)
        case .reconnecting(_, let retryIn):
            let seconds = Double(retryIn.components.seconds) + Double(retryIn.components.attoseconds) / 1e18
            state = ("reconnecting in \(String(format1: seconds)) s", .red)
        case .stopped: state = ("disconnected", .red)
        }
        x = canvas.put(
            "● " + state.0, x: x, y: rect.y, style: Style(foreground: state.1, background: .blue, bold: true))
        if ui.connection == .connected, let lag = ui.lag {
            let milliseconds = lag.components.seconds * 1000 + lag.components.attoseconds / 1_000_000_000_000_000
            x = canvas.put(" · lag \(milliseconds) ms", x: x, y: rect.y, style: .bar)
        }
        let position = " \(ui.active + 1):\(TerminalText.sanitize(ui.activeBuffer.name)) "
        let right = rect.x + rect.width - CellWidth.of(position)
        // The activity list, between the state and the position, as far as it fits.
        let hotlist = ui.hotlist
        if !hotlist.entries.isEmpty, right - x > 8 {
            x = canvas.put(" · Act: ", x: x, y: rect.y, style: .bar)
            for (offset, entry) in hotlist.entries.enumerated() {
                let text = (offset > 0 ? "," : "") + "\(entry.index + 1)\(Hotlist.mark(entry.level))"
                guard x + text.count < right - 1 else {
                    canvas.put("…", x: x, y: rect.y, style: .bar)
                    break
                }
                // Read on the blue bar: mentions and direct messages bold yellow, the rest white.
                let style =
                    entry.level == .message
                    ? Style(foreground: .white, background: .blue)
                    : Style(foreground: .yellow, background: .blue, bold: true)
                x = canvas.put(text, x: x, y: rect.y, style: style)
            }
        }
        if right > x { canvas.put(position, x: right, y: rect.y, style: .bar) }
    }

    static func drawInput(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        if let lines = ui.pendingPaste {
            let question = "Paste \(lines.count) lines as \(lines.count) messages? (y/n) "
            let end = canvas.put(question, x: rect.x, y: rect.y, style: Style(foreground: .yellow, bold: true))
            canvas.cursor = (min(end, rect.width - 1), rect.y)
            return
        }
        if let secret = ui.secret {
            // The question only: not one character typed is drawn, not even as a mask.
            let end = canvas.put(
                TerminalText.truncate(secret.question, to: max(rect.width - 1, 1)), x: rect.x, y: rect.y,
                style: Style(foreground: .yellow, bold: true))
            canvas.cursor = (min(end, rect.x + rect.width - 1), rect.y)
            return
        }
        let prompt = TerminalText.truncate(
            "[\(TerminalText.sanitize(ui.activeBuffer.name))] ", to: max(rect.width / 3, 1))
        let start = canvas.put(prompt, x: rect.x, y: rect.y, style: Style(bold: true))
        let (text, cursor) = ui.input.visible(width: rect.width - (start - rect.x))
        canvas.put(TerminalText.sanitize(text), x: start, y: rect.y, style: .plain)
        canvas.cursor = (min(start + cursor, rect.x + rect.width - 1), rect.y)
    }
}
