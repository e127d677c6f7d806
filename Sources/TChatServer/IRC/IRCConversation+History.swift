import TChatIRC
import TChatProtocol

/// CHATHISTORY (IRCv3 `draft/chathistory`): a channel's stored messages, from tchat's HISTORY, sent in a batch.
///
/// tchat numbers each channel's messages one by one and pages backwards by id, and a msgid here is the message's
/// id (`IRCConversation.messageID`), so every selector is one HISTORY request: BEFORE asks below the id, AFTER and
/// AROUND ask below an id past the window and keep what follows the reference. A timestamp is first found among
/// the ids (`IRCHistoryLookup`). Direct messages are not stored, so a nick's history is an empty batch.
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
        guard message.params.count >= (subcommand == "BETWEEN" ? 5 : 4) else {
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
        let words = subcommand == "BETWEEN" ? Array(message.params[2...3]) : [message.params[2]]
        guard ["LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"].contains(subcommand) else {
            fail("CHATHISTORY", "INVALID_PARAMS", [IRCMessage.word(subcommand)], "Unknown subcommand")
            return
        }
        let latest = subcommand == "LATEST" && words == ["*"]
        let references = latest ? [] : words.compactMap(IRCHistoryLookup.Reference.init)
        guard latest || references.count == words.count else {
            fail(
                "CHATHISTORY", "INVALID_PARAMS", [subcommand],
                "References are msgid= or timestamp= (MSGREFTYPES), a timestamp as server-time gives it")
            return
        }
        guard target.hasPrefix("#") else {
            // Direct messages are relayed, never stored.
            let reference = nextBatchReference()
            send(IRCMessage(source: facts.serverName, "BATCH", ["+" + reference, "chathistory", target]))
            send(IRCMessage(source: facts.serverName, "BATCH", ["-" + reference]))
            return
        }
        askHistory(IRCHistoryLookup(subcommand: subcommand, count: count, references: references), of: target)
    }

    /// Asks HISTORY for the next message a timestamp's search needs, or, once every reference is an id, for the
    /// messages themselves. While a search runs (`seekingHistory`), `IRCBridge` reads no more of the client's lines
    /// and this conversation holds any it is given (`heldLines`), so that what they ask is answered after this
    /// batch, as it would be without a search: a PING sent after CHATHISTORY gets its PONG after the batch.
    mutating func askHistory(_ lookup: IRCHistoryLookup, of target: String) {
        if let before = lookup.nextAsk {
            seekingHistory = request(
                .history(channel: target, before: before, limit: 1), .historySeek(target: target, lookup: lookup))
            if !seekingHistory { historyNotAsked(lookup, target: target) }
            return
        }
        seekingHistory = false
        if let window = lookup.window,
            !request(
                .history(channel: target, before: window.before, limit: UInt16(lookup.count)),
                .history(target: target, after: window.after, limit: lookup.count))
        {
            historyNotAsked(lookup, target: target)
        }
        readHeldLines()
    }

    private mutating func historyNotAsked(_ lookup: IRCHistoryLookup, target: String) {
        fail(
            "CHATHISTORY", "MESSAGE_ERROR", [lookup.subcommand, IRCMessage.word(target)],
            "Too many requests are waiting for answers")
        readHeldLines()
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
