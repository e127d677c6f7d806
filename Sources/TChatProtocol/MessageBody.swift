/// What a message body's bytes are; the content-type byte on the wire.
public enum ContentType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// UTF-8 text.
    case text = 0
    /// A UTF-8 JSON document (any JSON value, RFC 8259).
    case json = 1
    /// UTF-8 text describing what the sender does (IRC's `/me`): shown as `* nick text`.
    case action = 2
    /// UTF-8 text that programs must never answer automatically (IRC's NOTICE: what bots and services send, so two
    /// of them cannot answer each other forever): shown as `-nick- text`.
    case notice = 3

    public var description: String {
        switch self {
        case .text: "text"
        case .json: "json"
        case .action: "action"
        case .notice: "notice"
        }
    }
}

/// A message body as sent and relayed: the server checks it and passes the bytes on unchanged.
public struct MessageBody: Sendable, Hashable {
    public var contentType: ContentType
    /// The body. Always valid UTF-8 (a Swift `String`); for `.json` also a JSON document.
    public var text: String

    public init(_ contentType: ContentType, _ text: String) {
        self.contentType = contentType
        self.text = text
    }

    public static func text(_ text: String) -> MessageBody { MessageBody(.text, text) }
    public static func json(_ text: String) -> MessageBody { MessageBody(.json, text) }
}
