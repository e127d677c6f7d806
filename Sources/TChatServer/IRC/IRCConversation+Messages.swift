import TChatIRC
import TChatProtocol

/// PRIVMSG and NOTICE: to a channel a tchat SEND, to a nick a SEND_DIRECT; `/me` travels as an action body.
///
/// tchat has no notice body, so a NOTICE is delivered as a message (docs/irc.md says so); like every server, this
/// one never answers a NOTICE with an error.
extension IRCConversation {
    mutating func message(_ message: IRCMessage, isNotice: Bool) {
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
        let body: MessageBody = IRCText.action(in: text).map { MessageBody(.action, $0) } ?? .text(text)
        for target in targets {
            let kind = IRCPendingRequest.Kind.message(target: target, text: text, isNotice: isNotice)
            if target.hasPrefix("#") {
                if request(.send(channel: target, body: body), kind) {
                    echoesExpected[target.lowercased(), default: 0] += 1
                }
            } else {
                request(.sendDirect(nick: target, body: body), kind)
            }
        }
    }

    /// The lines of one message as IRC carries it: each line of the body on its own, cut to fit 512 bytes with
    /// the source and target in front, `/me` wrapped as a CTCP ACTION.
    mutating func deliver(
        from sender: String, to target: String, body: MessageBody, time: Timestamp, messageID: String?,
        command: String = "PRIVMSG"
    ) {
        let source = Self.mask(sender)
        let isAction = body.contentType == .action
        // ":" source " " command " " target " :" text CR LF, and the ACTION wrapping.
        let overhead = 1 + source.utf8.count + 1 + command.utf8.count + 1 + target.utf8.count + 2 + 2
        let room = 512 - overhead - (isAction ? 9 : 0)
        let tags = messageTags(time: time, messageID: messageID)
        for piece in IRCText.pieces(of: body.text, maxBytes: room) {
            let text = isAction ? "\u{1}ACTION \(piece)\u{1}" : piece
            lines.append(IRCMessage(tags: tags, source: source, command, [target, text]))  // fits by its cut
        }
    }

    /// server-time and msgid, for the clients that asked for them.
    func messageTags(time: Timestamp, messageID: String?) -> [IRCTag] {
        var tags: [IRCTag] = []
        if capabilities.contains(.serverTime) { tags.append(IRCTag("time", time.iso8601)) }
        if let messageID, capabilities.contains(.messageTags) { tags.append(IRCTag("msgid", messageID)) }
        return tags
    }

    /// A network-unique msgid for channel message `id`: tchat numbers each channel's messages on its own.
    static func messageID(channel: String, id: UInt64) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in channel.lowercased().utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex + "-" + String(id)
    }
}
