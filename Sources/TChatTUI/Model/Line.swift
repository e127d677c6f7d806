public import TChatProtocol

/// One line of a buffer's scrollback, before layout.
public struct Line: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Someone said something: `style` is the body's content type (an action for `/me`, a notice from a bot
        /// or service; text and JSON alike are plain).
        case message(nick: String, text: String, style: ContentType)
        /// A join, part, quit, nick or topic change: shown dimmed, after a marker.
        case event(marker: String, text: String)
        /// Something from the server or from tchat itself.
        case info(String)
        case error(String)
        /// Text on its own, without time or nick column (the help buffer); rows after the first start `indent`
        /// cells in.
        case text(String, indent: Int)
    }

    public var time: Timestamp
    /// The channel message id, for ordering history and dropping repeats.
    public var id: UInt64?
    public var kind: Kind
    /// It names my nick (or is a direct message to me).
    public var mention = false
    /// I sent it.
    public var own = false

    public init(time: Timestamp, id: UInt64? = nil, kind: Kind, mention: Bool = false, own: Bool = false) {
        self.time = time
        self.id = id
        self.kind = kind
        self.mention = mention
        self.own = own
    }

    public static func info(_ text: String, at time: Timestamp = .now()) -> Line {
        Line(time: time, kind: .info(text))
    }

    public static func error(_ text: String, at time: Timestamp = .now()) -> Line {
        Line(time: time, kind: .error(text))
    }
}
