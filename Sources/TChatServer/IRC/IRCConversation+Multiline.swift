import TChatIRC
import TChatProtocol

/// IRCv3 `draft/multiline`: a client's BATCH of lines becomes one tchat message, and a tchat message of several
/// lines (or one longer than an IRC line) reaches a client that asked as one batch, not as separate messages.
extension IRCConversation {
    /// Whether this client takes multi-line messages as batches (it needs `batch` too).
    var takesMultilineBatches: Bool { capabilities.contains(.multiline) && capabilities.contains(.batch) }

    /// `BATCH +ref draft/multiline target` opens a batch, `BATCH -ref` sends it.
    mutating func batch(_ message: IRCMessage) {
        let reference = message.params[0]
        if reference.hasPrefix("+") {
            guard takesMultilineBatches else {
                failBatch("MULTILINE_INVALID", "Ask for draft/multiline and batch first")
                return
            }
            guard message.params.count >= 3, message.params[1] == "draft/multiline", reference.count > 1,
                reference.count <= 64, !message.params[2].isEmpty
            else {
                failBatch("MULTILINE_INVALID", "Only draft/multiline batches, with a target, are taken")
                return
            }
            if let open = multiline, open.refusal == nil {
                failBatch("MULTILINE_INVALID", "A batch began before the last one ended")
            }
            multiline = IRCMultilineBatch(reference: String(reference.dropFirst()), target: message.params[2])
            return
        }
        guard reference.hasPrefix("-"), let open = multiline, open.reference == reference.dropFirst() else {
            failBatch("MULTILINE_INVALID", "No such batch is open")
            return
        }
        multiline = nil
        guard open.refusal == nil else { return }  // told when it was refused
        guard let command = open.command, open.text.contains(where: { $0 != "\n" }) else {
            failBatch("MULTILINE_INVALID", "The batch was empty")
            return
        }
        guard !open.target.contains(",") else {
            failBatch("MULTILINE_INVALID_TARGET", "A multiline batch goes to one target", context: [open.target])
            return
        }
        self.message(IRCMessage(command, [open.target, open.text]), isNotice: command == "NOTICE")
    }

    /// A PRIVMSG or NOTICE tagged with a batch: one line of the open multiline batch.
    mutating func batchedLine(_ message: IRCMessage, reference: String, isNotice: Bool) {
        guard var open = multiline, open.reference == reference else {
            failBatch("MULTILINE_INVALID", "No such batch is open")
            return
        }
        let target = message.params.first ?? ""
        let text = message.params.count > 1 ? message.params[1] : ""
        let refusal = open.add(
            command: isNotice ? "NOTICE" : "PRIVMSG", target: target, text: text,
            concatenates: message.tag("draft/multiline-concat") != nil)
        multiline = open
        if let refusal { failBatch(refusal.code, refusal.text, context: refusal.context) }
    }

    private mutating func failBatch(_ code: String, _ text: String, context: [String] = []) {
        fail("BATCH", code, context.map { IRCMessage.word($0) }, text)
    }

    /// A message of several lines, or of one line too long for IRC, as one batch: the message's tags on the
    /// batch, each line of it a PRIVMSG or NOTICE in it, a long line cut into pieces that join again
    /// (`draft/multiline-concat`). Nil when one line carries it, or when it is an action or too long for a batch
    /// (`lines` cuts those as before).
    static func multilineBatch(
        from sender: String, to target: String, body: MessageBody, tags: [IRCTag], reference: String
    ) -> [IRCMessage]? {
        guard body.contentType != .action else { return nil }
        let command = body.contentType == .notice ? "NOTICE" : "PRIVMSG"
        let source = mask(sender)
        let overhead = 1 + source.utf8.count + 1 + command.utf8.count + 1 + target.utf8.count + 2 + 2
        let room = 512 - overhead
        let rows = body.text.split(separator: "\n", omittingEmptySubsequences: false)
        guard rows.count > 1 || body.text.utf8.count > room else { return nil }
        var inside: [IRCMessage] = []
        for row in rows {
            let pieces = IRCText.pieces(of: String(row), maxBytes: room)
            if pieces.isEmpty {
                inside.append(IRCMessage(tags: [IRCTag("batch", reference)], source: source, command, [target, ""]))
            }
            for (index, piece) in pieces.enumerated() {
                var pieceTags = [IRCTag("batch", reference)]
                if index > 0 { pieceTags.append(IRCTag("draft/multiline-concat", nil)) }
                inside.append(IRCMessage(tags: pieceTags, source: source, command, [target, piece]))
            }
            guard inside.count <= maxLinesPerMessage else { return nil }
        }
        return [IRCMessage(tags: tags, source: source, "BATCH", ["+" + reference, "draft/multiline", target])]
            + inside + [IRCMessage(source: source, "BATCH", ["-" + reference])]
    }
}
