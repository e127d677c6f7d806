/// A `draft/multiline` batch an IRC client is sending: its lines, joined into the one tchat message they are (a line
/// break between lines, none before a `draft/multiline-concat` line), sent when the batch ends. tchat carries a
/// multi-line message whole, so a client that can send one gets it to tchat users, and to other such clients, as
/// it was written.
struct IRCMultilineBatch {
    /// The limits CAP LS announces (`draft/multiline=max-bytes=…,max-lines=…`).
    static let maxBytes = 4096
    static let maxLines = 100

    /// Why a batch was refused: a `FAIL BATCH` code, its context and text.
    struct Refusal: Equatable {
        let code: String
        let context: [String]
        let text: String
    }

    let reference: String
    let target: String
    /// PRIVMSG or NOTICE, as the first line says.
    private(set) var command: String?
    private(set) var text = ""
    private(set) var lines = 0
    /// Set once a line broke a rule: the rest of the batch is dropped and its end sends nothing.
    private(set) var refusal: Refusal?

    init(reference: String, target: String) {
        self.reference = reference
        self.target = target
    }

    /// Adds one line; the refusal it caused, if this line is the first to break a rule.
    mutating func add(command: String, target: String, text line: String, concatenates: Bool) -> Refusal? {
        guard refusal == nil else { return nil }
        let refused: Refusal?
        if target.lowercased() != self.target.lowercased() {
            refused = Refusal(
                code: "MULTILINE_INVALID_TARGET", context: [self.target, target],
                text: "Every line of a multiline batch goes to its target")
        } else if let first = self.command, first != command {
            refused = Refusal(
                code: "MULTILINE_INVALID", context: [], text: "A multiline batch is all PRIVMSG or all NOTICE")
        } else if concatenates, line.isEmpty {
            refused = Refusal(code: "MULTILINE_INVALID", context: [], text: "A concatenated line may not be blank")
        } else if lines + 1 > Self.maxLines {
            refused = Refusal(
                code: "MULTILINE_MAX_LINES", context: [String(Self.maxLines)], text: "Too many lines in the batch")
        } else if text.utf8.count + (lines > 0 && !concatenates ? 1 : 0) + line.utf8.count > Self.maxBytes {
            refused = Refusal(
                code: "MULTILINE_MAX_BYTES", context: [String(Self.maxBytes)], text: "Too many bytes in the batch")
        } else {
            refused = nil
        }
        if let refused {
            refusal = refused
            text = ""
            return refused
        }
        if lines > 0, !concatenates { text += "\n" }
        text += line
        self.command = self.command ?? command
        lines += 1
        return nil
    }
}
