/// Keys: `KeyBindings` names the action, this carries it out on the model.
extension ChatUI {
    public mutating func handle(_ key: Key) -> [Effect] {
        if secret != nil { return handleSecret(key) }
        if let lines = pendingPaste {
            pendingPaste = nil
            switch key {
            case .character("y"), .character("Y"), .enter: return lines.flatMap { say($0) }
            default:
                info("paste of \(lines.count) lines cancelled")
                return []
            }
        }
        if jumpDigits != nil, case .character(let character) = key, character.isASCII, character.isNumber {
            return jump(digit: character)
        }
        jumpDigits = nil
        guard let action = KeyBindings.action(for: key) else { return [] }
        if action != .interrupt && action != .endOfInput { quitArmed = false }
        if action != .complete { completion = nil }
        return perform(action)
    }

    private mutating func perform(_ action: KeyAction) -> [Effect] {
        switch action {
        case .select(let index): select(index)
        case .next: select((active + 1) % buffers.count)
        case .previous: select((active + buffers.count - 1) % buffers.count)
        case .nextActivity: if let first = hotlist.entries.first { select(first.index) }
        case .jumpPrefix: jumpDigits = ""
        case .pageUp:
            guard let scroll = window.pageUp(from: activeBuffer.scroll) else { return fetchOlder(count: 100) }
            buffers[active].scroll = scroll
        case .pageDown: buffers[active].scroll = window.pageDown(from: activeBuffer.scroll)
        case .wheel(let lines):
            let scroll = window.scrolled(from: activeBuffer.scroll, by: lines)
            if lines > 0, scroll == activeBuffer.scroll { return fetchOlder(count: 100) }
            buffers[active].scroll = scroll
        case .historyUp: input.historyUp()
        case .historyDown: input.historyDown()
        case .left: input.left()
        case .right: input.right()
        case .wordLeft: input.wordLeft()
        case .wordRight: input.wordRight()
        case .home: input.home()
        case .end:
            // End moves to the end of the line; pressed there, it returns the pane to live messages.
            if input.cursor == input.characters.count { buffers[active].scroll = 0 } else { input.end() }
        case .killToStart: input.killToStart()
        case .killToEnd: input.killToEnd()
        case .killWordBefore: input.deleteWordBefore()
        case .yank: input.yank()
        case .backspace: input.backspace()
        case .deleteForward: input.deleteForward()
        case .redraw: return [.redraw]
        case .interrupt: return interrupt()
        case .endOfInput: if input.isEmpty { return interrupt() } else { input.deleteForward() }
        case .submit: return submit(input.submit())
        case .complete: complete()
        case .insert(let character): input.insert(String(character))
        case .paste(let text): return paste(text)
        case .click(let x, let y): click(x: x, y: y)
        }
        return []
    }

    /// Ctrl-C, which irssi users press for colours and shells for "never mind": it empties the line; on an empty
    /// line it says how to quit, and a second press in a row quits.
    private mutating func interrupt() -> [Effect] {
        if !input.isEmpty {
            // Cut, not thrown away: Ctrl-Y brings it back.
            input.home()
            input.killToEnd()
            return []
        }
        if quitArmed { return quit(reason: "") }
        quitArmed = true
        info("press Ctrl-C again to quit, or type /quit")
        return []
    }

    /// Alt+J then two digits: entry 01 to 99.
    private mutating func jump(digit: Character) -> [Effect] {
        let digits = (jumpDigits ?? "") + String(digit)
        guard digits.count == 2 else {
            jumpDigits = digits
            return []
        }
        jumpDigits = nil
        if let number = Int(digits), number >= 1 { selectEntry(number) }
        return []
    }

    /// Shows entry `number` (1-based, as the sidebar numbers them), or says there is none.
    mutating func selectEntry(_ number: Int) {
        guard buffers.indices.contains(number - 1) else {
            error("no entry \(number): there are \(buffers.count)")
            return
        }
        select(number - 1)
    }

    private mutating func complete() {
        if completion == nil {
            let channels = buffers.compactMap(\.channelName)
            var nicks = activeBuffer.channelName.map { speakers.nicks(in: $0) } ?? []
            if case .direct = activeBuffer.kind { nicks.append(activeBuffer.name) }
            let own = nick.lowercased()
            completion = Completion.begin(
                input: input, nicks: nicks.filter { $0.lowercased() != own }, channels: channels)
            completion?.apply(to: &input)
        } else {
            let previous = completion!.candidates[completion!.index] + completion!.suffix
            let start = completion!.start
            input.replace(start..<(start + previous.count), with: "")
            completion!.advance()
            completion!.apply(to: &input)
        }
    }

    private mutating func click(x: Int, y: Int) {
        guard let sidebar = layout.sidebar, sidebar.contains(x: x, y: y) else { return }
        let window = sidebarWindow(rows: sidebar.height)
        let row = y - sidebar.y
        if let index = window.entry(atRow: row) {
            select(index)
        } else if window.above, row == 0 {
            select(window.first - 1)
        } else if window.below, row == sidebar.height - 1 {
            select(window.first + window.shown)
        }
    }

    /// The sidebar entries that fit in `rows`, the active one among them.
    public func sidebarWindow(rows: Int) -> SidebarWindow {
        SidebarWindow(entries: buffers.count, rows: rows, active: active)
    }

    /// Asks the server for `count` messages older than the oldest shown, unless already asking or at the start.
    mutating func fetchOlder(count: Int) -> [Effect] {
        guard let channel = activeBuffer.channelName, activeBuffer.hasOlder, !activeBuffer.fetchingOlder,
            connection == .connected
        else { return [] }
        buffers[active].fetchingOlder = true
        let tag = requests.register(.history(count), in: activeBuffer.kind)
        let before = activeBuffer.oldestID ?? 0
        return [.session(.history(channel: channel, before: before, limit: UInt16(count), tag: tag))]
    }
}
