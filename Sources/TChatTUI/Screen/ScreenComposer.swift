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
        if let sidebar = layout.sidebar { drawSidebar(ui, into: &canvas, sidebar) }
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

    static func drawSidebar(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        let first = ui.sidebarFirstEntry(rows: rect.height)
        for row in 0..<rect.height {
            // The separator between the sidebar and the pane.
            canvas.put("│", x: rect.x + rect.width, y: rect.y + row, style: .dimmed)
            let index = first + row
            guard index < ui.buffers.count else { continue }
            let buffer = ui.buffers[index]
            let isActive = index == ui.active
            var style = Style.plain
            if isActive {
                style.reverse = true
                canvas.fill(x: rect.x, y: rect.y + row, count: rect.width, style: style)
            }
            let number = index + 1 < 10 ? " \(index + 1)" : "\(index + 1)"
            var end = canvas.put(
                number + " ", x: rect.x, y: rect.y + row, style: Style(dim: !isActive, reverse: isActive))
            // The count, right-aligned: mentions (and direct messages) stand out from plain unread messages.
            var count = ""
            var countStyle = style
            if buffer.mentions > 0 {
                count = "\(buffer.unread)!"
                countStyle = Style(foreground: .red, bold: true, reverse: isActive)
            } else if buffer.unread > 0 {
                count = "\(buffer.unread)"
                countStyle = Style(foreground: .yellow, reverse: isActive)
            }
            let countWidth = count.isEmpty ? 0 : count.count + 1
            var nameStyle = style
            if buffer.unread > 0 && !isActive { nameStyle.bold = true }
            if case .direct = buffer.kind, buffer.unread > 0, !isActive { nameStyle.foreground = .magenta }
            // A private channel (+i, +k or +s) is marked after its name.
            let mark = buffer.isPrivate ? " \(buffer.modes.filter { "iks".contains($0) })" : ""
            let room = rect.width - (end - rect.x) - countWidth - mark.count
            end = canvas.put(
                TerminalText.truncate(TerminalText.sanitize(buffer.name), to: max(room, 1)), x: end, y: rect.y + row,
                style: nameStyle)
            if !mark.isEmpty, room > 1 {
                canvas.put(
                    mark, x: end, y: rect.y + row, style: Style(foreground: .cyan, dim: !isActive, reverse: isActive))
            }
            if !count.isEmpty {
                canvas.put(count, x: rect.x + rect.width - count.count, y: rect.y + row, style: countStyle)
            }
        }
    }

    static func drawPane(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        guard rect.height > 0, rect.width > 0 else { return }
        let buffer = ui.activeBuffer
        let lineLayout = ui.lineLayout(for: buffer)
        let clock = ui.clock
        // Collect rows from the newest visible line back until the pane is full.
        var rows: [LineLayout.Row] = []
        var index = buffer.lines.count - buffer.scroll - 1
        var newerDay: Int?
        while index >= 0 && rows.count < rect.height {
            let line = buffer.lines[index]
            let day = clock.day(line.time)
            if let newerDay, newerDay != day {
                rows.insert(dayChange(clock.describe(day: newerDay), width: rect.width), at: 0)
            }
            newerDay = day
            rows.insert(contentsOf: lineLayout.rows(for: line, width: rect.width), at: 0)
            index -= 1
        }
        if rows.count > rect.height { rows.removeFirst(rows.count - rect.height) }
        let top = rect.y + rect.height - rows.count
        for (offset, row) in rows.enumerated() {
            var x = rect.x
            for run in row {
                x = canvas.put(run.text, x: x, y: top + offset, style: run.style, limit: rect.x + rect.width)
            }
        }
        if buffer.scroll > 0 && rect.height > 1 {
            let marker = " \(buffer.scroll) newer ↓ End "
            canvas.put(
                marker, x: rect.x + max(rect.width - CellWidth.of(marker), 0), y: rect.y + rect.height - 1,
                style: Style(reverse: true))
        }
    }

    static func dayChange(_ text: String, width: Int) -> LineLayout.Row {
        let label = "── \(text) "
        let fill = max(width - CellWidth.of(label), 0)
        return [(label + String(repeating: "─", count: fill), .dimmed)]
    }

    static func drawStatus(_ ui: ChatUI, into canvas: inout Canvas, _ rect: Rect) {
        canvas.fill(x: rect.x, y: rect.y, count: rect.width, style: .bar)
        var x = rect.x + 1
        x = canvas.put("[\(ui.nick)]", x: x, y: rect.y, style: Style(foreground: .white, background: .blue, bold: true))
        x = canvas.put(" \(ui.serverName) \(ui.serverAddress) ", x: x, y: rect.y, style: .bar)
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
        let position = " \(ui.active + 1):\(ui.activeBuffer.name) "
        let right = rect.x + rect.width - CellWidth.of(position)
        if right > x { canvas.put(TerminalText.sanitize(position), x: right, y: rect.y, style: .bar) }
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
