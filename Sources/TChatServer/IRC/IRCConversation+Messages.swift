import TChatIRC
import TChatProtocol

/// PRIVMSG and NOTICE: to a channel a tchat SEND, to a nick a SEND_DIRECT; `/me` travels as an action body.
///
/// A NOTICE travels as a notice body, and comes back to IRC as NOTICE; like every server, this one never answers a
/// NOTICE with an error.
extension IRCConversation {
    mutating func message(_ message: IRCMessage, isNotice: Bool) {
        if let reference = message.tag("batch") {
            batchedLine(message, reference: reference, isNotice: isNotice)
            return
        }
        guard let targetList = message.params.first, !targetList.isEmpty else {
            if !isNotice { numeric(.noRecipient, "No recipient given (\(message.verb))") }
            return
        }
        guard message.params.count > 1, !message.params[1].isEmpty else {
            if !isNotice { numeric(.noTextToSend, "No text to send") }
            return
        }
        let targets = Self.targets(targetList)
        guard targets.count <= Self.maxTargets else {
            if !isNotice { numeric(.tooManyTargets, IRCMessage.word(targetList), "Too many recipients") }
            return
        }
        let text = message.params[1]
        let body = Self.body(of: text, isNotice: isNotice)
        for target in targets {
            let kind = IRCPendingRequest.Kind.message(target: target, text: text, isNotice: isNotice)
            if target.hasPrefix("#") {
                // Its own copy comes back only with echo-message: the bridge tells the server which (`OwnCopies`).
                request(.send(channel: target, body: body), kind)
            } else {
                request(.sendDirect(nick: target, body: body), kind)
            }
        }
    }

    /// What an IRC PRIVMSG's or NOTICE's text is as a tchat body: `/me` an action, a NOTICE a notice.
    static func body(of text: String, isNotice: Bool) -> MessageBody {
        if isNotice { return MessageBody(.notice, text) }
        return IRCText.action(in: text).map { MessageBody(.action, $0) } ?? .text(text)
    }

    /// `PRIVMSG #channel :text`, as clients send nearly every line, read from its bytes and sent on as `message`
    /// would, without building an `IRCMessage`; false, having done nothing, for any other line. Only a line whose
    /// command and target are ASCII and whose text starts with an ASCII character other than CTCP's is taken:
    /// every character up to the text is then one byte, so the parser would split it at the same places.
    mutating func receivePlainChannelMessage(_ line: String) -> Bool {
        let bytes = line.utf8
        guard phase == .welcomed, bytes.starts(with: "PRIVMSG #".utf8) else { return false }
        let targetStart = bytes.index(bytes.startIndex, offsetBy: 8)
        var index = targetStart
        while index < bytes.endIndex, bytes[index] != 0x20 {
            let byte = bytes[index]
            guard byte < 0x80, byte != UInt8(ascii: ",") else { return false }
            index = bytes.index(after: index)
        }
        let targetEnd = index
        guard index < bytes.endIndex else { return false }
        index = bytes.index(after: index)
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") else { return false }
        let textStart = bytes.index(after: index)
        guard textStart < bytes.endIndex, bytes[textStart] >= 0x20, bytes[textStart] < 0x80 else { return false }
        let target = String(line[targetStart..<targetEnd])
        let text = String(line[textStart...])
        request(.send(channel: target, body: .text(text)), .message(target: target, text: text, isNotice: false))
        return true
    }

    /// The lines of one message as IRC carries it: each line of the body on its own, cut to fit 512 bytes with
    /// the source and target in front, `/me` wrapped as a CTCP ACTION, a notice as NOTICE. With `batch` (a client
    /// that takes draft/multiline), a message of several lines is one batch of that reference.
    static func lines(
        from sender: String, to target: String, body: MessageBody, tags: [IRCTag], batch: String? = nil
    ) -> [IRCMessage] {
        if let batch, let batched = multilineBatch(from: sender, to: target, body: body, tags: tags, reference: batch) {
            return batched
        }
        let command = body.contentType == .notice ? "NOTICE" : "PRIVMSG"
        let source = mask(sender)
        let isAction = body.contentType == .action
        // ":" source " " command " " target " :" text CR LF, and the ACTION wrapping.
        let overhead = 1 + source.utf8.count + 1 + command.utf8.count + 1 + target.utf8.count + 2 + 2
        let room = 512 - overhead - (isAction ? 9 : 0)
        var pieces = IRCText.pieces(of: body.text, maxBytes: room)
        if pieces.count > maxLinesPerMessage {
            // A body of thousands of short lines would be thousands of IRC lines, each with its sender in front:
            // megabytes per member, past --max-queue. The rest is in the channel's history for those who want it.
            let left = pieces.count - (maxLinesPerMessage - 1)
            pieces = Array(pieces.prefix(maxLinesPerMessage - 1))
            pieces.append("[\(left) more lines: the whole message is in tchat and CHATHISTORY]")
        }
        // Only the first piece carries the msgid (IRCv3 multiline's fallback rule): it names one message, and a
        // client that keys messages by it must not take the other pieces for copies.
        let rest = tags.contains { $0.key == "msgid" } ? tags.filter { $0.key != "msgid" } : tags
        return pieces.enumerated().map { index, piece in
            IRCMessage(
                tags: index == 0 ? tags : rest, source: source, command,
                [target, isAction ? "\u{1}ACTION \(piece)\u{1}" : piece])
        }
    }

    /// The most IRC lines one message becomes: enough for a 64 KiB body without line breaks (about 140 lines of
    /// 470 bytes); a body of many short lines is cut there, so no message costs a member more than about 90 KB.
    static let maxLinesPerMessage = 160

    /// A channel message's lines for a client with `capabilities`: all a client needs to know to render it, so
    /// one rendering serves every client alike (`IRCRenderCache`).
    static func channelLines(_ message: ChatMessage, capabilities: Set<IRCCapability>) -> [IRCMessage] {
        let tags = tags(
            capabilities, time: message.time, messageID: messageID(channel: message.channel, id: message.id))
        let batches = capabilities.contains(.multiline) && capabilities.contains(.batch)
        return lines(
            from: message.from, to: message.channel, body: message.body, tags: tags,
            batch: batches ? "ml" + String(message.id, radix: 36) : nil)
    }

    /// Which rendering of a channel message this client takes: the tags it asked for, and whether it takes
    /// multi-line messages as batches, as three bits.
    var renderVariant: Int {
        (capabilities.contains(.serverTime) ? 1 : 0) | (capabilities.contains(.messageTags) ? 2 : 0)
            | (takesMultilineBatches ? 4 : 0)
    }

    /// Every live channel message reaching this client is shown, in its `renderVariant`, once it is welcomed: its
    /// own copies come only when it asked for echo-message (`OwnCopies`), so none has to be told apart.
    var showsEveryChannelMessage: Bool { phase == .welcomed }

    /// Whether the server is to send this client its own channel messages back (`OwnCopies`).
    var wantsOwnCopies: Bool { capabilities.contains(.echoMessage) }

    /// A SEND's SENT (`done` false) or OK: true when `requestID` is a channel message's, whose answer shows
    /// nothing (the channel's copy is the echo), so the frame need not be decoded.
    mutating func settlesMessage(requestID: UInt32, done: Bool) -> Bool {
        guard case .message(let target, _, _)? = pending[requestID]?.kind, target.hasPrefix("#") else { return false }
        if done { pending[requestID] = nil }
        return true
    }

    /// A message delivered to this client alone (a direct message, or a channel message on the slow path).
    /// `id`: a channel message's, which names its multiline batch as the shared rendering does (`channelLines`).
    mutating func deliver(
        from sender: String, to target: String, body: MessageBody, time: Timestamp,
        messageID: @autoclosure () -> String?, id: UInt64? = nil
    ) {
        let tags = capabilities.isEmpty ? [] : Self.tags(capabilities, time: time, messageID: messageID())
        let batch = takesMultilineBatches ? "ml" + String(id ?? time.milliseconds, radix: 36) : nil
        lines.append(contentsOf: Self.lines(from: sender, to: target, body: body, tags: tags, batch: batch))
    }

    /// server-time and msgid, for the clients that asked for them.
    func messageTags(time: Timestamp, messageID: @autoclosure () -> String?) -> [IRCTag] {
        Self.tags(capabilities, time: time, messageID: messageID())
    }

    static func tags(
        _ capabilities: Set<IRCCapability>, time: Timestamp, messageID: @autoclosure () -> String?
    ) -> [IRCTag] {
        var tags: [IRCTag] = []
        if capabilities.contains(.serverTime) { tags.append(IRCTag("time", time.iso8601)) }
        if capabilities.contains(.messageTags), let messageID = messageID() { tags.append(IRCTag("msgid", messageID)) }
        return tags
    }

    /// A network-unique msgid for channel message `id`: tchat numbers each channel's messages on its own, so the
    /// id and the channel's key together (`42-#ops`), unique by construction rather than by a hash.
    static func messageID(channel: String, id: UInt64) -> String {
        String(id) + "-" + channel.lowercased()
    }
}
