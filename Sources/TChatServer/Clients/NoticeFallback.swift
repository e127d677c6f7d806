import NIOCore
import TChatProtocol

/// Notices (content type 3) go as they are only to sessions whose HELLO said they know them (flag bit 3); any other
/// gets the same message as text. An older tchat client refuses a content type it does not know by closing the
/// connection, and would meet the same message again in the history its rejoin asks for.
enum NoticeFallback {
    /// Whether `session` gets `body` as text.
    static func needsText(_ body: MessageBody, _ session: ClientSession) -> Bool {
        body.contentType == .notice && !session.hello.knowsNotices
    }

    /// `message` as `session` may be shown it.
    static func shown(_ message: ChatMessage, to session: ClientSession) -> ChatMessage {
        needsText(message.body, session) ? asText(message) : message
    }

    static func asText(_ message: ChatMessage) -> ChatMessage {
        var text = message
        text.body = .text(message.body.text)
        return text
    }

    static func asText(_ message: DirectMessage) -> DirectMessage {
        var text = message
        text.body = .text(message.body.text)
        return text
    }

    /// Sends a direct message to each of `sessions`: one frame shared by all, and one more, as text, when some of
    /// them need it. False when it does not fit a frame.
    static func send(_ message: DirectMessage, to sessions: [ClientSession]) -> Bool {
        guard let frame = SubscriberSet.encode(.direct(message)) else { return false }
        var asText: ByteBuffer?
        for session in sessions {
            if needsText(message.body, session) {
                if asText == nil { asText = SubscriberSet.encode(.direct(Self.asText(message))) }
                if let asText { session.send(asText) }
            } else {
                session.send(frame)
            }
        }
        return true
    }
}
