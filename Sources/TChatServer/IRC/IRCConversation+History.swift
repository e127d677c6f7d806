import TChatIRC
import TChatProtocol

/// CHATHISTORY (IRCv3 `draft/chathistory`): a channel's stored messages, from tchat's HISTORY, sent in a batch.
///
/// tchat numbers each channel's messages one by one and pages backwards by id, and a msgid here is the message's
/// id (`IRCConversation.messageID`), so every selector is one HISTORY request: BEFORE asks below the id, AFTER and
/// AROUND ask below an id past the window and keep what follows the reference. Only msgid references are taken
/// (`MSGREFTYPES=msgid`); direct messages are not stored, so a nick's history is an empty batch.
extension IRCConversation {
    /// The most messages one request returns (tchat's HISTORY limit).
    static var maxHistoryMessages: Int { Int(ProtocolLimits.maxHistoryRequest) }

    mutating func chatHistory(_ message: IRCMessage) {
        let subcommand = message.params[0].uppercased()
        guard subcommand != "TARGETS" else {
            // Which conversations had messages lately: tchat keeps no such list for a client; none is an honest
            // answer that clients handle.
            let reference = nextBatchReference()
            send(IRCMessage(source: facts.serverName, "BATCH", ["+" + reference, "draft/chathistory-targets"]))
            send(IRCMessage(source: facts.serverName, "BATCH", ["-" + reference]))
            return
        }
        guard message.params.count >= 4 || (subcommand == "BETWEEN" && message.params.count >= 5) else {
            fail("CHATHISTORY", "NEED_MORE_PARAMS", [subcommand], "Missing parameters")
            return
        }
        let target = message.params[1]
        let limitText = message.params[subcommand == "BETWEEN" ? 4 : 3]
        guard let limit = Int(limitText), limit > 0 else {
            fail("CHATHISTORY", "INVALID_PARAMS", [subcommand], "The limit is not a positive number")
            return
        }
        let count = min(limit, Self.maxHistoryMessages)
        let first = message.params[2]
        let window: (before: UInt64, after: UInt64)?
        switch subcommand {
        case "LATEST":
            if first == "*" {
                window = (0, 0)
            } else if let id = Self.referencedID(first) {
                window = (0, id)
            } else {
                window = nil
            }
        case "BEFORE":
            window = Self.referencedID(first).map { ($0, 0) }
        case "AFTER":
            window = Self.referencedID(first).map { id in (Self.adding(id, count + 1), id) }
        case "AROUND":
            window = Self.referencedID(first).map { id in
                (Self.adding(id, count / 2 + 1), id > UInt64(count / 2) ? id - UInt64(count / 2) - 1 : 0)
            }
        case "BETWEEN":
            if let a = Self.referencedID(first), let b = Self.referencedID(message.params[3]) {
                window = (max(a, b), min(a, b))
            } else {
                window = nil
            }
        default:
            fail("CHATHISTORY", "INVALID_PARAMS", [IRCMessage.word(subcommand)], "Unknown subcommand")
            return
        }
        guard let window else {
            fail(
                "CHATHISTORY", "INVALID_PARAMS", [subcommand], "Only msgid= references are supported here (MSGREFTYPES)"
            )
            return
        }
        guard target.hasPrefix("#") else {
            // Direct messages are relayed, never stored.
            let reference = nextBatchReference()
            send(IRCMessage(source: facts.serverName, "BATCH", ["+" + reference, "chathistory", target]))
            send(IRCMessage(source: facts.serverName, "BATCH", ["-" + reference]))
            return
        }
        request(
            .history(channel: target, before: window.before, limit: UInt16(count)),
            .history(target: target, after: window.after, limit: count))
    }

    /// The tchat id in `msgid=ID-#channel`, nil for anything else (timestamps included).
    static func referencedID(_ reference: String) -> UInt64? {
        guard reference.hasPrefix("msgid=") else { return nil }
        return UInt64(reference.dropFirst("msgid=".count).prefix { $0 != "-" })
    }

    /// `id + n`, stopping at the largest id rather than overflowing on a hostile reference.
    static func adding(_ id: UInt64, _ n: Int) -> UInt64 {
        let (sum, overflow) = id.addingReportingOverflow(UInt64(n))
        return overflow ? UInt64.max : sum
    }

    /// HISTORY's answer, as a batch: the messages after the reference (when one was given), oldest first, at most
    /// the limit asked for.
    mutating func sendHistory(target: String, after: UInt64, limit: Int, messages: [ChatMessage]) {
        var kept = messages.filter { $0.id > after }
        if after > 0, kept.count > limit { kept = Array(kept.prefix(limit)) }  // AFTER keeps the oldest
        if kept.count > limit { kept = Array(kept.suffix(limit)) }
        let reference = nextBatchReference()
        send(IRCMessage(source: facts.serverName, "BATCH", ["+" + reference, "chathistory", target]))
        for message in kept {
            var tags = Self.tags(
                capabilities.union([.serverTime, .messageTags]), time: message.time,
                messageID: Self.messageID(channel: message.channel, id: message.id))
            tags.insert(IRCTag("batch", reference), at: 0)
            lines.append(
                contentsOf: Self.lines(from: message.from, to: message.channel, body: message.body, tags: tags))
        }
        send(IRCMessage(source: facts.serverName, "BATCH", ["-" + reference]))
    }

    /// IRCv3 standard replies: `FAIL COMMAND CODE [context…] :text`.
    mutating func fail(_ command: String, _ code: String, _ context: [String], _ text: String) {
        send(IRCMessage(source: facts.serverName, "FAIL", [command, code] + context + [text]))
    }

    mutating func nextBatchReference() -> String {
        batchCounter &+= 1
        return "h" + String(batchCounter, radix: 36)
    }
}
