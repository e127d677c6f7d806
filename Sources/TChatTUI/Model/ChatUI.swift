public import TChatClient
import TChatProtocol

/// What the model asks the program around it to do.
public enum Effect: Sendable, Equatable {
    case session(SessionCommand)
    /// Ring the terminal bell (a mention or a direct message arrived).
    case bell
    /// Redraw the whole screen from scratch (Ctrl-L).
    case redraw
    /// Turn mouse reports on or off (`/mouse`).
    case mouse(Bool)
    /// Keep this list of ignored nicks for the next start (`/ignore`, `/unignore`).
    case saveIgnored([String])
    case quit
}

/// The whole chat client as plain data: buffers, input line, connection state. Keys and session events go in,
/// effects come out; `ScreenComposer` turns it into a `Canvas`. Nothing here knows about curses or sockets, so
/// all of it is tested without a terminal (WeeChat keeps its core apart from its curses front end the same way).
///
/// Its parts live apart: `KeyBindings` says what a key does, `ChatUI+Keys` does it; `ChatUI+Commands` runs
/// what is typed; `ChatUI+Events` reduces session events; `RequestTable` and `ReplyFormatter` route and word
/// answers; `BufferWindow` pages; `Hotlist` ranks activity.
public struct ChatUI: Sendable {
    public enum ConnectionState: Sendable, Equatable {
        case connecting(attempt: Int)
        case connected
        case reconnecting(reason: String, retryIn: Duration)
        case stopped(reason: String)
    }

    public internal(set) var buffers: [ChatBuffer]
    public internal(set) var active = 0
    public internal(set) var input = InputLine()
    public internal(set) var connection: ConnectionState = .connecting(attempt: 1)
    public internal(set) var nick: String
    public internal(set) var serverName: String
    public let serverAddress: String
    public var lag: Duration?
    public private(set) var width: Int
    public private(set) var height: Int
    public var timeFormat: LineLayout.TimeFormat
    public var clock: LocalClock
    public let scrollback: Int
    /// Pasted lines waiting for a yes or no.
    public internal(set) var pendingPaste: [String]?
    /// A password being typed (`/register`, `/login`, `/passwd`, `/unregister`): keys go there, unechoed.
    public internal(set) var secret: SecretPrompt?
    /// The nick asked for at start (the session may have had to take another): `/login`'s default account.
    public let preferredNick: String
    /// Whether mouse reports are on (the wheel scrolls tchat); `/mouse` turns them off for the terminal's own.
    public internal(set) var mouse = true
    /// The longest frame the server takes (its WELCOME says): long lines are cut to fit it.
    public internal(set) var maxFrameLength = ProtocolLimits.defaultMaxFrameLength
    /// Ctrl-C was pressed on an empty line: a second one quits.
    public internal(set) var quitArmed = false
    /// The away text the server has for us; empty when we are not away.
    public internal(set) var away = ""
    /// Nicks whose lines are not shown, lower-cased (`/ignore`); set at start from the saved list.
    public var ignored: [String] = []
    /// Digits typed after Alt+J, waiting for the second.
    var jumpDigits: String?
    /// Pastes of more lines than this ask first.
    public static let pasteConfirmationThreshold = 5

    var completion: Completion?
    var requests = RequestTable()
    /// Channels the user asked to join, to switch to them when joined.
    var switchOnJoin: Set<String> = []
    /// Conversations `/msg` opened, to switch to when the server took the message.
    var switchOnDirect: Set<String> = []
    var speakers = RecentSpeakers()
    /// The connection was lost and every buffer was told: later failed attempts only update the status line.
    var outageAnnounced = false

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

    /// The active buffer as the message pane shows it.
    public var window: BufferWindow {
        let pane = layout.pane
        return BufferWindow(
            buffer: activeBuffer, layout: lineLayout(for: activeBuffer), width: pane.width, height: pane.height)
    }

    /// The entries with unread lines, most urgent first.
    public var hotlist: Hotlist { Hotlist(buffers, active: active) }

    public mutating func resize(width: Int, height: Int) {
        self.width = max(width, 1)
        self.height = max(height, 1)
    }

    // MARK: - Buffers

    public mutating func select(_ index: Int) {
        guard buffers.indices.contains(index), index != active else { return }
        // Leaving a buffer reads it: the unread marker goes to its end.
        buffers[active].markRead()
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

    /// Takes an entry out of the sidebar (never the status buffer); the one before it is shown if it was.
    mutating func remove(_ index: Int) {
        guard index > 0, buffers.indices.contains(index) else { return }
        buffers.remove(at: index)
        if active > index {
            active -= 1
        } else if active == index {
            active = index - 1
            buffers[active].unread = 0
            buffers[active].mentions = 0
        }
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

    /// Shows a problem of the program around the model (a file that could not be written) where the user looks.
    public mutating func showError(_ text: String) { error(text) }

    /// Tells the status buffer, and the buffer shown when it is another.
    mutating func announce(_ text: String, error isError: Bool = false) {
        for index in Set([0, active]).sorted() {
            if isError { error(text, in: index) } else { info(text, in: index) }
        }
    }

    static func key(_ name: String) -> String { name.lowercased() }

    /// Compared as the server compares nicks (look-alikes are the same nick).
    func isIgnored(_ who: String) -> Bool {
        let key = Nick.key(for: who)
        return ignored.contains { Nick.key(for: $0) == key }
    }
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
