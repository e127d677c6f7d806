public import TChatClient
import TChatProtocol

/// What the model asks the program around it to do.
public enum Effect: Sendable, Equatable {
    case session(SessionCommand)
    /// Ring the terminal bell (a mention or a direct message arrived).
    case bell
    /// Redraw the whole screen from scratch (Ctrl-L).
    case redraw
    case quit
}

/// The whole chat client as plain data: buffers, input line, connection state. Keys and session events go in,
/// effects come out; `ScreenComposer` turns it into a `Canvas`. Nothing here knows about curses or sockets, so
/// all of it is tested without a terminal (WeeChat keeps its core apart from its curses front end the same way).
public struct ChatUI: Sendable {
    public enum ConnectionState: Sendable, Equatable {
        case connecting(attempt: Int)
        case connected
        case reconnecting(reason: String, retryIn: Duration)
        case stopped(reason: String)
    }

    /// Where the answer to a request goes, and how to show it.
    enum Purpose: Sendable, Equatable {
        case list, who, whois, servers, welcome, reverse, setWelcome, history(Int)
        /// The topic asked for: the TOPIC event goes to the others, so the answer's OK is when ours changes.
        case setTopic(String)
        /// CHANNEL_MODES for a channel: shown when asked for, else only kept for the sidebar.
        case modes(show: Bool)
        /// An operator's request whose event (MODE_CHANGED, KICKED) says what happened.
        case channelRequest
        /// A server operator's request, answered by OK (and TEXT lines, listing bans): `done` says it worked.
        case operatorRequest(done: String)
    }

    public internal(set) var buffers: [ChatBuffer]
    public private(set) var active = 0
    public internal(set) var input = InputLine()
    public private(set) var connection: ConnectionState = .connecting(attempt: 1)
    public private(set) var nick: String
    public private(set) var serverName: String
    public let serverAddress: String
    public var lag: Duration?
    public private(set) var width: Int
    public private(set) var height: Int
    public var timeFormat: LineLayout.TimeFormat
    public var clock: LocalClock
    public let scrollback: Int
    /// Pasted lines waiting for a yes or no.
    public private(set) var pendingPaste: [String]?
    /// A password being typed (`/register`, `/login`, `/passwd`, `/unregister`): keys go there, unechoed.
    public internal(set) var secret: SecretPrompt?
    /// The nick asked for at start (the session may have had to take another): `/login`'s default account.
    public let preferredNick: String
    /// Pastes of more lines than this ask first.
    public static let pasteConfirmationThreshold = 5

    var completion: Completion?
    private var nextTag: UInt64 = 1
    private var requests: [UInt64: (purpose: Purpose, buffer: ChatBuffer.Kind)] = [:]
    /// Channels the user asked to join, to switch to them when joined.
    private var switchOnJoin: Set<String> = []
    /// Recent speakers and joiners per channel, most recent first, for completion and nick changes.
    private var nicksByChannel: [String: [String]] = [:]

    public init(
        nick: String, serverAddress: String, width: Int = 80, height: Int = 24, scrollback: Int = 5000,
        timeFormat: LineLayout.TimeFormat = .minutes, clock: LocalClock = .system
    ) {
        self.nick = nick
        self.preferredNick = nick
        self.serverName = serverAddress
        self.serverAddress = serverAddress
        self.width = width
        self.height = height
        self.scrollback = scrollback
        self.timeFormat = timeFormat
        self.clock = clock
        buffers = [ChatBuffer(kind: .status, name: "status", limit: scrollback)]
        buffers[0].append(
            .info(
                "tchat \(TChatVersion.current): connecting to \(serverAddress). /join #channel to talk; /help for more."
            ))
    }

    public var activeBuffer: ChatBuffer { buffers[active] }

    public var layout: Layout {
        let longest = buffers.map { CellWidth.of($0.name) }.max() ?? 6
        return Layout(width: width, height: height, sidebarWidth: longest + 8)
    }

    public func lineLayout(for buffer: ChatBuffer) -> LineLayout {
        LineLayout(timeFormat: timeFormat, nickColumn: max(buffer.nickWidth, 3), clock: clock)
    }

    public mutating func resize(width: Int, height: Int) {
        self.width = max(width, 1)
        self.height = max(height, 1)
    }

    // MARK: - Buffers

    public mutating func select(_ index: Int) {
        guard buffers.indices.contains(index) else { return }
        active = index
        buffers[index].unread = 0
        buffers[index].mentions = 0
    }

    /// The buffer of a kind, created at the end of the list when `create` is given.
    mutating func index(of kind: ChatBuffer.Kind, create name: String? = nil) -> Int? {
        if let index = buffers.firstIndex(where: { $0.kind == kind }) { return index }
        guard let name else { return nil }
        buffers.append(ChatBuffer(kind: kind, name: name, limit: scrollback))
        return buffers.count - 1
    }

    mutating func remove(_ index: Int) {
        guard index > 0, buffers.indices.contains(index) else { return }
        buffers.remove(at: index)
        if active >= index { select(max(active - 1, 0)) }
    }

    /// Adds a line to a buffer, counting it as unread (and a mention) when that buffer is not the one shown.
    /// Returns false for a message already held (nothing changes, nothing rings).
    @discardableResult
    mutating func add(_ line: Line, to index: Int, counts: Bool = false) -> Bool {
        guard buffers[index].append(line) else { return false }
        guard index != active, counts else { return true }
        buffers[index].unread += 1
        if line.mention { buffers[index].mentions += 1 }
        return true
    }

    mutating func info(_ text: String, in index: Int? = nil) {
        add(.info(text), to: index ?? active)
    }

    mutating func error(_ text: String, in index: Int? = nil) {
        add(.error(text), to: index ?? active)
    }

    static func key(_ name: String) -> String { name.lowercased() }

    // MARK: - Keys

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
        if key == .tab {
            complete()
            return []
        }
        completion = nil
        switch key {
        case .function(let number): select(number - 1)
        case .alt(let character) where character.isASCII && character.isNumber:
            let digit = Int(String(character))!
            select(digit == 0 ? 9 : digit - 1)
        case .ctrl("n"), .altRight: select((active + 1) % buffers.count)
        case .ctrl("p"), .altLeft: select((active + buffers.count - 1) % buffers.count)
        case .alt("a"): jumpToActivity()
        case .pageUp: return scrollUp()
        case .pageDown: scrollDown()
        case .up: input.historyUp()
        case .down: input.historyDown()
        case .left: input.left()
        case .right: input.right()
        case .home, .ctrl("a"): input.home()
        case .ctrl("e"): input.end()
        case .end:
            // End moves to the end of the line; pressed there, it returns the pane to live messages.
            if input.cursor == input.characters.count { buffers[active].scroll = 0 } else { input.end() }
        case .ctrl("u"): input.killToStart()
        case .ctrl("k"): input.killToEnd()
        case .ctrl("w"): input.deleteWordBefore()
        case .backspace: input.backspace()
        case .delete: input.deleteForward()
        case .ctrl("l"): return [.redraw]
        case .ctrl("c"): return quit(reason: "")
        case .ctrl("d") where input.isEmpty: return quit(reason: "")
        case .enter: return submit(input.submit())
        case .character(let character): input.insert(String(character))
        case .paste(let text): return paste(text)
        case .click(let x, let y): click(x: x, y: y)
        default: break
        }
        return []
    }

    private mutating func complete() {
        if completion == nil {
            let channels = buffers.compactMap(\.channelName)
            var nicks = activeBuffer.channelName.map { nicksByChannel[Self.key($0)] ?? [] } ?? []
            if case .direct = activeBuffer.kind { nicks.append(activeBuffer.name) }
            completion = Completion.begin(input: input, nicks: nicks.filter { $0 != nick }, channels: channels)
            completion?.apply(to: &input)
        } else {
            let previous = completion!.candidates[completion!.index] + completion!.suffix
            let start = completion!.start
            input.replace(start..<(start + previous.count), with: "")
            completion!.advance()
            completion!.apply(to: &input)
        }
    }

    /// Alt+A: the next buffer with a mention, else the next with unread messages.
    private mutating func jumpToActivity() {
        let order = (1..<buffers.count).map { (active + $0) % buffers.count }
        if let index = order.first(where: { buffers[$0].mentions > 0 })
            ?? order.first(where: { buffers[$0].unread > 0 })
        {
            select(index)
        }
    }

    private mutating func click(x: Int, y: Int) {
        guard let sidebar = layout.sidebar, sidebar.contains(x: x, y: y) else { return }
        let index = (y - sidebar.y) + sidebarFirstEntry(rows: sidebar.height)
        if index < buffers.count { select(index) }
    }

    /// The first entry shown when the sidebar has fewer rows than entries: the active one stays visible.
    public func sidebarFirstEntry(rows: Int) -> Int {
        guard rows > 0, buffers.count > rows else { return 0 }
        return min(max(active - rows + 1, 0), buffers.count - rows)
    }

    // MARK: - Scrolling

    /// Lines of the active buffer that fit in the pane above its current scroll position.
    private func linesPerPage() -> Int {
        let pane = layout.pane
        let buffer = activeBuffer
        let layout = lineLayout(for: buffer)
        var rows = 0
        var count = 0
        var index = buffer.lines.count - buffer.scroll - 1
        while index >= 0 {
            rows += layout.rowCount(for: buffer.lines[index], width: pane.width)
            if rows > max(pane.height - 1, 1) { break }
            count += 1
            index -= 1
        }
        return max(count, 1)
    }

    private mutating func scrollUp() -> [Effect] {
        let maximum = max(activeBuffer.lines.count - 1, 0)
        if activeBuffer.scroll >= maximum || maximum == 0 {
            return fetchOlder(count: 100)
        }
        buffers[active].scroll = min(activeBuffer.scroll + linesPerPage(), maximum)
        return []
    }

    /// Shows the first lines of the active buffer (the help reads from the top).
    private mutating func scrollToTop() {
        let pane = layout.pane
        let layout = lineLayout(for: activeBuffer)
        var rows = 0
        var fitting = 0
        for line in activeBuffer.lines {
            rows += layout.rowCount(for: line, width: pane.width)
            if rows > pane.height { break }
            fitting += 1
        }
        buffers[active].scroll = max(activeBuffer.lines.count - fitting, 0)
    }

    private mutating func scrollDown() {
        buffers[active].scroll = max(activeBuffer.scroll - linesPerPage(), 0)
    }

    /// Asks the server for `count` messages older than the oldest shown, unless already asking or at the start.
    private mutating func fetchOlder(count: Int) -> [Effect] {
        guard let channel = activeBuffer.channelName, activeBuffer.hasOlder, !activeBuffer.fetchingOlder,
            connection == .connected
        else { return [] }
        buffers[active].fetchingOlder = true
        let tag = register(.history(count), in: activeBuffer.kind)
        let before = activeBuffer.oldestID ?? 0
        return [.session(.history(channel: channel, before: before, limit: UInt16(count), tag: tag))]
    }

    private mutating func register(_ purpose: Purpose, in kind: ChatBuffer.Kind) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        requests[tag] = (purpose, kind)
        return tag
    }

    // MARK: - Lines typed

    private mutating func submit(_ line: String) -> [Effect] {
        guard !line.isEmpty else { return [] }
        if line.hasPrefix("/") && !line.hasPrefix("//") {
            switch CommandSpec.parse(line) {
            case .success(let command): return run(command)
            case .failure(let error):
                self.error(error.description)
                return []
            }
        }
        return say(line.hasPrefix("//") ? String(line.dropFirst()) : line)
    }

    /// Sends text to the active channel or conversation.
    private mutating func say(_ text: String, action: Bool = false) -> [Effect] {
        guard !text.isEmpty else { return [] }
        let body = MessageBody(action ? .action : .text, text)
        switch activeBuffer.kind {
        case .channel:
            buffers[active].scroll = 0
            return [.session(.send(channel: activeBuffer.name, body: body))]
        case .direct:
            // Direct messages are not echoed by the server: show ours now.
            add(Line(time: .now(), kind: .message(nick: nick, text: text, action: action), own: true), to: active)
            buffers[active].scroll = 0
            return [.session(.sendDirect(nick: activeBuffer.name, body: body))]
        case .status, .help:
            error("this is not a channel: /join #channel to talk, or /msg nick text")
            return []
        }
    }

    private mutating func paste(_ text: String) -> [Effect] {
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
            .map(String.init)
        guard text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            input.insert(text)
            return []
        }
        if lines.count > Self.pasteConfirmationThreshold {
            pendingPaste = lines
            return []
        }
        return lines.flatMap { say($0) }
    }

    private mutating func run(_ command: Command) -> [Effect] {
        switch command {
        case .join(let channel):
            guard let name = try? ChannelName(validating: channel) else {
                error("'\(channel)' is not a valid channel name")
                return []
            }
            if let existing = index(of: .channel(name.key)) {
                select(existing)
                return []
            }
            switchOnJoin.insert(name.key)
            return [.session(.join(name.name))]
        case .part(let channel, let reason):
            guard let name = channel ?? activeBuffer.channelName else {
                error("/part in a channel, or name one: /part #channel")
                return []
            }
            return [.session(.part(name, reason: reason))]
        case .msg(let target, let text):
            if target.hasPrefix("#") {
                return [.session(.send(channel: target, body: .text(text)))]
            }
            guard Nick.problem(with: target) == nil else {
                error("'\(target)' is not a valid nick")
                return []
            }
            let index = index(of: .direct(Self.key(target)), create: target)!
            select(index)
            return say(text)
        case .me(let text):
            return say(text, action: true)
        case .nick(let new):
            if let problem = Nick.problem(with: new) {
                error("invalid nick: \(problem)")
                return []
            }
            return [.session(.nick(new))]
        case .topic(let text):
            guard let channel = activeBuffer.channelName else {
                error("/topic works in a channel")
                return []
            }
            guard let text else {
                let topic = activeBuffer.topic
                info(topic.isEmpty ? "\(channel) has no topic" : "topic of \(channel): \(topic)")
                return []
            }
            return request(.setTopic(channel: channel, topic: text), .setTopic(text))
        case .list: return request(.listChannels, .list)
        case .who(let channel): return request(.listClients(channel: channel ?? activeBuffer.channelName ?? ""), .who)
        case .whois(let target): return request(.whois(nick: target), .whois)
        case .servers: return request(.listServers, .servers)
        case .welcome(let text):
            if let text { return request(.setWelcome(text), .setWelcome) }
            return request(.getWelcome, .welcome)
        case .reverse(let text): return request(.reverse(text), .reverse)
        case .history(let count):
            guard activeBuffer.channelName != nil else {
                error("/history works in a channel")
                return []
            }
            buffers[active].hasOlder = true
            return fetchOlder(count: count)
        case .clear:
            buffers[active].clear()
            return []
        case .help:
            showHelp()
            return []
        case .quit(let reason):
            return quit(reason: reason)
        case .register, .login, .changePassword, .unregister:
            startAccountCommand(command)
            return []
        case .joinKeyed, .mode, .op, .voice, .kick, .ban, .invite, .kill, .serverBan, .serverUnban, .closeChannel:
            return runChannelCommand(command)
        }
    }

    mutating func request(_ frame: ClientFrame, _ purpose: Purpose) -> [Effect] {
        let tag = register(purpose, in: activeBuffer.kind)
        return [.session(.request(frame, tag: tag))]
    }

    private mutating func quit(reason: String) -> [Effect] {
        [.session(.quit(reason: reason)), .quit]
    }

    private mutating func showHelp() {
        let index = index(of: .help, create: "help")!
        select(index)
        guard buffers[index].lines.isEmpty else { return }
        for line in HelpText.lines {
            buffers[index].append(Line(time: .now(), kind: .text(line.text, indent: line.indent)))
        }
        scrollToTop()
    }

    // MARK: - Session events

    public mutating func handle(_ event: SessionEvent) -> [Effect] {
        switch event {
        case .connecting(_, let attempt):
            connection = .connecting(attempt: attempt)
        case .connected(let welcome):
            connection = .connected
            nick = welcome.nick
            serverName = welcome.serverName
            buffers[0].name = welcome.serverName
            info("connected to \(welcome.serverName) (tchatd \(welcome.serverVersion)) as \(welcome.nick)", in: 0)
            if !welcome.welcomeText.isEmpty { info(welcome.welcomeText, in: 0) }
            if !welcome.motd.isEmpty {
                for line in welcome.motd.split(separator: "\n", omittingEmptySubsequences: false) {
                    info(String(line), in: 0)
                }
            }
        case .disconnected(let reason, let retryIn):
            if let retryIn {
                connection = .reconnecting(reason: reason, retryIn: retryIn)
                let seconds = Double(retryIn.components.seconds) + Double(retryIn.components.attoseconds) / 1e18
                let text = "disconnected: \(reason); reconnecting in \(String(format1: seconds)) s"
                for index in buffers.indices where buffers[index].kind != .help { info(text, in: index) }
            } else {
                connection = .stopped(reason: reason)
                info("disconnected: \(reason)", in: 0)
            }
            for index in buffers.indices { buffers[index].fetchingOlder = false }
        case .joined(let channel, let replay):
            joined(channel, replay: replay)
            // The modes, for the sidebar's mark of a private channel.
            return request(.channelMode(channel: channel.name, change: ""), .modes(show: false))
        case .parted(let channel):
            if let index = index(of: .channel(Self.key(channel))) { remove(index) }
        case .event(let frame):
            return handle(frame)
        case .history(let channel, let messages, let tag):
            history(channel: channel, messages: messages, tag: tag)
        case .reply(let tag, let frames):
            reply(tag: tag, frames: frames)
        case .failed(let what, let error):
            if let index = pendingTarget(of: what) {
                self.error("\(what) failed: \(error.message)", in: index)
            } else {
                self.error("\(what) failed: \(error.message)")
            }
        case .nickChanged(let new):
            info("you are now known as \(new)")
            nick = new
        case .loggedIn(let account):
            return loggedIn(account)
        case .accountChanged(let text):
            info(text)
        }
        return []
    }

    /// A failed history request unblocks its buffer; other failures show in the buffer they were made from.
    private mutating func pendingTarget(of what: String) -> Int? {
        guard what.hasPrefix("history of ") else { return nil }
        let channel = String(what.dropFirst("history of ".count))
        guard let index = index(of: .channel(Self.key(channel))) else { return nil }
        buffers[index].fetchingOlder = false
        return index
    }

    private mutating func joined(_ channel: ChannelInfo, replay: [ChatMessage]) {
        let key = Self.key(channel.name)
        let existed = index(of: .channel(key)) != nil
        let index = index(of: .channel(key), create: channel.name)!
        buffers[index].topic = channel.topic
        buffers[index].members = Int(channel.members)
        for message in replay { add(line(for: message), to: index) }
        if !existed {
            info("you joined \(channel.name)" + (channel.topic.isEmpty ? "" : " — \(channel.topic)"), in: index)
        }
        // Show a channel the user asked for, and the first one joined at start-up instead of the status buffer.
        if switchOnJoin.remove(key) != nil || (!existed && active == 0) { select(index) }
    }

    private mutating func history(channel: String, messages: [ChatMessage], tag: UInt64) {
        guard let index = index(of: .channel(Self.key(channel))) else { return }
        if tag == 0 {
            // Filling the gap after a reconnection: newer than what was shown, in id order.
            for message in messages { add(line(for: message), to: index) }
            return
        }
        requests[tag] = nil
        buffers[index].fetchingOlder = false
        let added = buffers[index].insertOlder(messages.map { line(for: $0) })
        if messages.isEmpty || added == 0 {
            buffers[index].hasOlder = false
            info("no older messages in \(channel)", in: index)
        } else if index == active {
            // Keep the view where it was, now that lines were added above it.
            buffers[index].scroll = min(buffers[index].scroll, max(buffers[index].lines.count - 1, 0))
        }
    }

    private func line(for message: ChatMessage) -> Line {
        let own = message.from.lowercased() == nick.lowercased()
        return Line(
            time: message.time, id: message.id,
            kind: .message(nick: message.from, text: message.body.text, action: message.body.contentType == .action),
            mention: !own && Self.mentions(message.body.text, nick: nick), own: own)
    }

    /// Whether `text` names `nick` as a word of its own, ignoring case ("bob:" and "@bob" do, "bobby" does not).
    static func mentions(_ text: String, nick: String) -> Bool {
        let nickCharacters = Set("_-[]{}\\|^`")
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber || nickCharacters.contains($0)) }
        let wanted = nick.lowercased()
        return words.contains { $0 == wanted }
    }

    mutating func remember(_ speaker: String, in channel: String) {
        let key = Self.key(channel)
        var nicks = nicksByChannel[key] ?? []
        nicks.removeAll { $0.lowercased() == speaker.lowercased() }
        nicks.insert(speaker, at: 0)
        if nicks.count > 500 { nicks.removeLast() }
        nicksByChannel[key] = nicks
    }

    mutating func forget(_ speaker: String, in channel: String) {
        nicksByChannel[Self.key(channel)]?.removeAll { $0.lowercased() == speaker.lowercased() }
    }

    private mutating func handle(_ frame: ServerFrame) -> [Effect] {
        switch frame {
        case .message(let message):
            guard let index = index(of: .channel(Self.key(message.channel))) else { return [] }
            let line = line(for: message)
            remember(message.from, in: message.channel)
            let added = add(line, to: index, counts: !line.own)
            return added && line.mention ? [.bell] : []
        case .direct(let message):
            // One we sent from another session of our account: it belongs with the one we wrote to.
            let own = Nick.key(for: message.from) == Nick.key(for: nick)
            let peer = own ? message.to : message.from
            let index = index(of: .direct(Self.key(peer)), create: peer)!
            let line = Line(
                time: message.time,
                kind: .message(
                    nick: message.from, text: message.body.text, action: message.body.contentType == .action),
                mention: !own, own: own)
            add(line, to: index, counts: !own)
            return own ? [] : [.bell]
        case .joined(let channel, let who, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].members += 1
            remember(who, in: channel)
            add(Line(time: time, kind: .event(marker: "-->", text: "\(who) joined \(channel)")), to: index)
        case .parted(let channel, let who, let reason, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].members = max(buffers[index].members - 1, 0)
            forget(who, in: channel)
            let text = "\(who) left \(channel)" + (reason.isEmpty ? "" : " (\(reason))")
            add(Line(time: time, kind: .event(marker: "<--", text: text)), to: index)
        case .quitted(let who, let reason, let time):
            for index in buffers.indices where sharesChannel(index, with: who) {
                buffers[index].members = max(buffers[index].members - 1, 0)
                forget(who, in: buffers[index].name)
                let text = "\(who) quit" + (reason.isEmpty ? "" : " (\(reason))")
                add(Line(time: time, kind: .event(marker: "<--", text: text)), to: index)
            }
        case .nickChanged(let old, let new, let time):
            if old.lowercased() == nick.lowercased() {
                nick = new
                info("you are now known as \(new)")
            }
            for index in buffers.indices where sharesChannel(index, with: old) {
                forget(old, in: buffers[index].name)
                remember(new, in: buffers[index].name)
                add(Line(time: time, kind: .event(marker: "--", text: "\(old) is now known as \(new)")), to: index)
            }
            if let index = index(of: .direct(Self.key(old))), self.index(of: .direct(Self.key(new))) == nil {
                buffers[index] = renamed(buffers[index], to: new)
            }
        case .topic(let channel, let topic, let setBy, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].topic = topic
            add(Line(time: time, kind: .event(marker: "--", text: "\(setBy) set the topic: \(topic)")), to: index)
        case .notice(let text):
            info(text, in: 0)
            if active != 0 { info(text) }
        case .error(let error):
            self.error(error.message, in: 0)
        case .modeChanged, .kicked, .invited:
            return channelEvent(frame)
        default:
            break
        }
        return []
    }

    private func sharesChannel(_ index: Int, with who: String) -> Bool {
        guard let channel = buffers[index].channelName else { return false }
        return (nicksByChannel[Self.key(channel)] ?? []).contains { $0.lowercased() == who.lowercased() }
    }

    private func renamed(_ buffer: ChatBuffer, to name: String) -> ChatBuffer {
        var copy = ChatBuffer(kind: .direct(Self.key(name)), name: name, limit: buffer.limit)
        for line in buffer.lines { copy.append(line) }
        copy.unread = buffer.unread
        copy.mentions = buffer.mentions
        return copy
    }

    private mutating func reply(tag: UInt64, frames: [ServerFrame]) {
        guard let (purpose, kind) = requests.removeValue(forKey: tag) else { return }
        let index = index(of: kind) ?? active
        switch purpose {
        case .list:
            info("\(frames.count) channels:", in: index)
            for case .channelInfo(let channel) in frames {
                let topic = channel.topic.isEmpty ? "" : " — \(channel.topic)"
                info("  \(channel.name) (\(channel.members))\(topic)", in: index)
            }
        case .who:
            let clients = frames.compactMap { if case .clientInfo(let c) = $0 { c } else { nil } }
            info("\(clients.count) connected:", in: index)
            // A server shows others' addresses to no one but themselves: an empty one is left out.
            for client in clients {
                let from = client.address.isEmpty ? "" : " from \(client.address)"
                info("  \(client.nick)\(from), for \(Self.duration(client.durationMilliseconds))", in: index)
            }
        case .whois:
            for frame in frames {
                if case .clientInfo(let client) = frame {
                    let from = client.address.isEmpty ? "" : " from \(client.address)"
                    let host = client.host.isEmpty ? "" : " on \(client.host)"
                    info(
                        "\(client.nick) is connected\(from) to \(client.server) since "
                            + "\(client.connectedAt.iso8601) (\(Self.duration(client.durationMilliseconds))), "
                            + "using \(client.clientName) \(client.clientVersion)\(host)",
                        in: index)
                }
            }
            let channels = frames.compactMap { if case .channelInfo(let c) = $0 { c.name } else { nil } }
            if !channels.isEmpty { info("  in \(channels.joined(separator: " "))", in: index) }
        case .servers:
            for case .serverInfo(let server) in frames {
                let this = server.isThisServer ? " (this server)" : ""
                info(
                    "\(server.name)\(this) at \(server.clientAddress): \(server.clients)/\(server.capacity) clients, "
                        + "up since \(server.startedAt.iso8601)", in: index)
            }
        case .welcome:
            for case .text(let text) in frames {
                info(
                    text.isEmpty ? "you have no welcome text; /welcome text sets one" : "your welcome text: \(text)",
                    in: index)
            }
        case .setWelcome:
            info("welcome text saved: it greets your next connections", in: index)
        case .reverse:
            for case .text(let text) in frames { info(text, in: index) }
        case .setTopic(let topic):
            // The TOPIC event does not come back to us: the title bar and /topic take it from here.
            buffers[index].topic = topic
            if let channel = buffers[index].channelName {
                info(topic.isEmpty ? "you cleared the topic of \(channel)" : "you set the topic: \(topic)", in: index)
            }
        case .history, .channelRequest:
            break
        case .operatorRequest(let done):
            for case .text(let text) in frames { info(text, in: index) }
            if !done.isEmpty { info(done, in: index) }
        case .modes(let show):
            for case .channelModes(let channel, let modes, let operators, let voiced, let bans) in frames {
                let bufferIndex = self.index(of: .channel(Self.key(channel)))
                if let bufferIndex { buffers[bufferIndex].modes = String(modes.prefix { $0 != " " }) }
                guard show else { continue }
                var parts = ["modes of \(channel): \(modes == "+" ? "none" : modes)"]
                parts.append("operators: \(operators.isEmpty ? "none" : operators)")
                if !voiced.isEmpty { parts.append("voiced: \(voiced)") }
                if !bans.isEmpty { parts.append("bans: \(bans)") }
                info(parts.joined(separator: "; "), in: bufferIndex ?? index)
            }
        }
    }

    static func duration(_ milliseconds: UInt64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min" }
        if seconds < 86_400 { return "\(seconds / 3600) h \(seconds / 60 % 60) min" }
        return "\(seconds / 86_400) d \(seconds / 3600 % 24) h"
    }
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
