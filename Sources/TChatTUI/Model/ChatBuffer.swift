public import DequeModule
import TChatProtocol

/// One sidebar entry and its scrollback: the status buffer, a channel, a direct conversation or the help.
public struct ChatBuffer: Sendable {
    public enum Kind: Sendable, Hashable {
        case status
        /// A channel, by lower-cased name.
        case channel(String)
        /// A conversation, by lower-cased nick.
        case direct(String)
        case help
    }

    public let kind: Kind
    /// The name shown: `#ops`, `bob`, the server's name.
    public var name: String
    public private(set) var lines: Deque<Line> = []
    /// Lines kept; older ones are dropped as new ones arrive.
    public let limit: Int
    public var unread = 0
    public var mentions = 0
    public var topic = ""
    /// A channel's modes as the server last said (`+is`; never the key).
    public var modes = ""
    public var members = 0
    /// Rows scrolled up from the newest line; 0 follows live messages.
    public var scroll = 0
    /// Widest nick seen, for the nick column.
    public private(set) var nickWidth = 0
    /// Ids of the channel messages held, to place history and drop repeats.
    private var ids: Set<UInt64> = []
    /// Whether older messages exist on the server (false once a history request came back empty).
    public var hasOlder = true
    /// Whether a request for older messages is on its way (so PgUp does not ask twice).
    public var fetchingOlder = false
    /// Lines added since the user last left this buffer; nil until they first leave it. The unread marker line
    /// is drawn above the newest this many, so what came while they were away is easy to find.
    public private(set) var linesAfterMarker: Int?

    public init(kind: Kind, name: String, limit: Int = 5000) {
        self.kind = kind
        self.name = name
        self.limit = max(limit, 1)
    }

    /// Whether the channel keeps people out or hides itself (`+i`, `+k`, `+s`): the sidebar marks it.
    public var isPrivate: Bool { modes.contains("i") || modes.contains("k") || modes.contains("s") }

    public var channelName: String? {
        if case .channel = kind { return name }
        return nil
    }

    /// The index of the first line after the unread marker, when there is a marker to draw.
    public var markerIndex: Int? {
        guard let after = linesAfterMarker, after > 0, after < lines.count else { return nil }
        return lines.count - after
    }

    /// The user leaves the buffer: everything in it counts as read, and the marker moves to its end.
    public mutating func markRead() {
        linesAfterMarker = 0
        unread = 0
        mentions = 0
    }

    /// The last "is away" the server said of this conversation's peer, so it is shown once, not after every line.
    public var lastAwayNote = ""
    /// The oldest message id a history answer brought, shown or not (an ignored nick's are not).
    public var oldestFetched: UInt64?

    /// The id to ask for messages before: the oldest held or fetched.
    public var oldestID: UInt64? {
        let held = lines.first { $0.id != nil }?.id
        guard let fetched = oldestFetched else { return held }
        return min(held ?? fetched, fetched)
    }

    /// Adds a line at the end (live), dropping the oldest past the limit. Returns false for a repeated message.
    @discardableResult
    public mutating func append(_ line: Line) -> Bool {
        if let id = line.id {
            guard ids.insert(id).inserted else { return false }
            // A message older than one already held (gap filling) goes where its id says.
            if let index = lines.lastIndex(where: { $0.id != nil }), let last = lines[index].id, id < last {
                noteNick(line)
                insertInOrder(line)
                linesAfterMarker? += 1
                return true
            }
        }
        noteNick(line)
        lines.append(line)
        if lines.count > limit { drop(lines.removeFirst()) }
        // Keep the view still while scrolled back, but never past the oldest line held.
        if scroll > 0 { scroll = min(scroll + 1, lines.count - 1) }
        linesAfterMarker? += 1
        return true
    }

    /// Adds a line above everything held ("no older messages" belongs where the history ends).
    public mutating func prepend(_ line: Line) {
        guard lines.count < limit else { return }
        lines.prepend(line)
    }

    /// Adds older messages (history) before what is held, in id order, skipping repeats, within the limit.
    /// Returns how many were added.
    @discardableResult
    public mutating func insertOlder(_ older: [Line]) -> Int {
        var added = 0
        for line in older.reversed() {
            guard lines.count < limit else { break }
            guard let id = line.id, !ids.contains(id) else { continue }
            ids.insert(id)
            noteNick(line)
            insertInOrder(line)
            added += 1
        }
        return added
    }

    private mutating func insertInOrder(_ line: Line) {
        guard let id = line.id else {
            lines.append(line)
            return
        }
        // Before the first message with a larger id; events between keep their place.
        let index = lines.firstIndex { ($0.id ?? 0) > id } ?? lines.endIndex
        lines.insert(line, at: index)
        if lines.count > limit { drop(lines.removeFirst()) }
    }

    private mutating func drop(_ line: Line) {
        if let id = line.id { ids.remove(id) }
    }

    private mutating func noteNick(_ line: Line) {
        if case .message(let nick, _, let style) = line.kind {
            nickWidth = max(nickWidth, CellWidth.of(nick) + (style == .notice ? 2 : 0))  // `-nick-`
        }
    }

    public mutating func clear() {
        lines.removeAll()
        ids.removeAll()
        scroll = 0
        linesAfterMarker = linesAfterMarker.map { _ in 0 }
    }

    public func contains(id: UInt64) -> Bool { ids.contains(id) }
}
