import TChatIRC
import TChatProtocol

/// The IRC side of one connection, as a state machine: an IRC client's lines in, tchat requests and IRC lines out;
/// the tchat server's answers and events in, IRC lines out.
///
/// Everything a tchat client may do, an IRC client does by the same requests through the same `ConnectionHandler`,
/// so limits, budgets, accounts and the network treat both alike; this type only translates, and remembers what it
/// must to speak IRC (which request an answer belongs to, the channels joined and their operators). It does no I/O
/// and reads no clock: `IRCBridge` feeds it and sends what it returns.
struct IRCConversation {
    /// Targets one PRIVMSG, NOTICE, JOIN, PART or KICK may name (TARGMAX).
    static let maxTargets = 4
    /// Mode changes one MODE may carry (MODES); each is one tchat request.
    static let maxModeChanges = 4
    /// The part of USER's user name kept.
    static let maxUserLength = 16
    /// Requests waiting for their answers; one more command is refused until some are answered. A tchat server
    /// answers every request, so this is reached only by a client that floods faster than the request budget.
    static let maxPending = 512
    /// The host every user is shown with: tchat does not tell one client another's address.
    static let userHost = "tchat"

    enum Phase: Equatable {
        case registering
        case welcomed
        /// The client said QUIT or was refused: nothing more it sends is read.
        case closing
    }

    let facts: IRCServerFacts
    private(set) var phase = Phase.registering
    /// The nick asked for while registering; the nick held once welcomed.
    var nick: String?
    var user: String?
    var realName = ""
    /// CAP LS or REQ came before registration ended: the welcome waits for CAP END.
    var capabilityNegotiation = false
    var capabilities: Set<IRCCapability> = []
    var helloSent = false
    var sasl: IRCSASLExchange?
    var account: String?
    var userModes: Set<Character> = []
    /// Numbers the batches this connection opens.
    var batchCounter: UInt32 = 0
    var motd = ""
    var nextRequestID: UInt32 = 1
    var pending: [UInt32: IRCPendingRequest] = [:]
    /// The channels joined, by lower-cased name.
    var channels: [String: IRCJoinedChannel] = [:]

    /// Lines that came while the HELLO was with the server: a client may send JOIN right after CAP END, before
    /// the welcome it cannot know is not yet there; they are read once the HELLO is answered. Likewise while
    /// CHATHISTORY searches for a timestamp (`seekingHistory`).
    var heldLines: [String] = []
    var seekingHistory = false
    /// The draft/multiline batch the client is sending, at most `IRCMultilineBatch.maxBytes` of it.
    var multiline: IRCMultilineBatch?
    /// ISON and USERHOST waiting for their WHOIS answers, bounded as `pending` is.
    var lookups: [UInt32: IRCLookup] = [:]
    var lookupCounter: UInt32 = 0
    static let maxHeldLines = 64

    /// What to send the IRC client, in order.
    var lines: [IRCMessage] = []
    /// Set when the connection should end without the tchat side ending it (a QUIT before the welcome).
    var wantsClose = false
    /// What to hand the tchat connection handler, in order.
    /// Each with whether its channel messages come back to this client (`OwnCopies`), as they were when it was
    /// made: lines held and read together may change echo-message between two of them.
    var requests: [(frame: ClientFrame, id: UInt32, ownCopies: Bool)] = []

    init(facts: IRCServerFacts) {
        self.facts = facts
    }

    /// The lines for the client gathered since the last call.
    mutating func takeLines() -> [IRCMessage] {
        defer { lines.removeAll(keepingCapacity: true) }
        return lines
    }

    /// The requests for the tchat side gathered since the last call.
    mutating func takeRequests() -> [(frame: ClientFrame, id: UInt32, ownCopies: Bool)] {
        defer { requests.removeAll(keepingCapacity: true) }
        return requests
    }

    var isClosing: Bool { phase == .closing }
    var currentNick: String { nick ?? "*" }

    // MARK: - Input

    /// One line from the client.
    mutating func receive(line: String) {
        guard phase != .closing else { return }
        if phase == .registering && helloSent || seekingHistory {
            // Past the bound the client is not waiting for an answer but flooding, and IRC ends floods.
            guard heldLines.count < Self.maxHeldLines else {
                closeLink("Excess flood: more than \(Self.maxHeldLines) lines while an answer was awaited")
                wantsClose = true
                return
            }
            heldLines.append(line)
            return
        }
        if receivePlainChannelMessage(line) { return }
        let message: IRCMessage
        do {
            message = try IRCMessage(parsing: line)
        } catch {
            return  // an empty or garbled line: servers ignore these, and so do clients
        }
        let verb = message.verb
        guard let command = IRCCommand.table[verb] else {
            if phase == .welcomed {
                numeric(.unknownCommand, IRCMessage.word(message.command), "Unknown command")
            } else {
                numeric(.notRegistered, "You have not registered")
            }
            return
        }
        if command.needsWelcome, phase != .welcomed {
            numeric(.notRegistered, "You have not registered")
            return
        }
        guard message.params.count >= command.minimumParameters else {
            numeric(.needMoreParams, verb, "Not enough parameters")
            return
        }
        command.run(&self, message)
    }

    /// A line over the length limit was dropped.
    mutating func receiveTooLongLine() {
        guard phase != .closing else { return }
        numeric(.inputTooLong, "Input line was too long")
    }

    // MARK: - Requests

    /// Sends a tchat request and remembers what it was for; false (after telling the client) when too many wait.
    @discardableResult
    mutating func request(_ frame: ClientFrame, _ kind: IRCPendingRequest.Kind) -> Bool {
        guard pending.count < Self.maxPending else {
            notice("too many requests are waiting for answers: \(frame.type) not carried out")
            return false
        }
        let id = nextRequestID
        nextRequestID = nextRequestID == UInt32.max ? 1 : nextRequestID + 1
        pending[id] = IRCPendingRequest(kind: kind)
        requests.append((frame, id, wantsOwnCopies))
        return true
    }

    // MARK: - Output helpers

    /// `nick!nick@tchat`: the mask every user is shown with.
    static func mask(_ nick: String) -> String { "\(nick)!\(nick)@\(userHost)" }

    /// The longest line sent, without tags and CR LF (RFC 1459's 512 with them).
    static let maxLineBytes = 510

    /// Queues a line, cut to fit when it quotes too much (a reply naming what a client sent).
    mutating func send(_ message: IRCMessage) {
        lines.append(message.messageBytes > Self.maxLineBytes ? message.fitted(to: Self.maxLineBytes) : message)
    }

    /// A numeric reply to this client: `:server CODE nick params…`.
    mutating func numeric(_ code: IRCNumeric, _ params: String...) {
        send(IRCMessage(source: facts.serverName, code.rawValue, [currentNick] + params))
    }

    mutating func numeric(_ code: IRCNumeric, parameters: [String]) {
        send(IRCMessage(source: facts.serverName, code.rawValue, [currentNick] + parameters))
    }

    /// A server notice, one line per line of `text`.
    mutating func notice(_ text: String) {
        for piece in IRCText.pieces(of: text, maxBytes: 400) {
            send(IRCMessage(source: facts.serverName, "NOTICE", [currentNick, piece]))
        }
    }

    /// Ends the conversation with IRC's ERROR line; the tchat side closes the connection itself.
    mutating func closeLink(_ reason: String) {
        guard phase != .closing else { return }
        phase = .closing
        send(IRCMessage("ERROR", ["Closing link: \(reason)"]))
    }

    mutating func enterWelcomed() { phase = .welcomed }

    /// Reads the lines held while the HELLO was answered.
    mutating func readHeldLines() {
        let held = heldLines
        heldLines.removeAll()
        for line in held { receive(line: line) }
    }
}
