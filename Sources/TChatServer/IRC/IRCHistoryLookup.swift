import TChatProtocol

/// A CHATHISTORY request on its way to tchat's HISTORY, which pages a channel by id: its references as ids, and the
/// window of ids to ask for.
///
/// A `msgid=` reference is an id already. A `timestamp=` one is found by asking HISTORY for one message at a time
/// (`IRCTimeSearch`): message times grow with ids, since the sequencer numbers and stamps each message in one step.
struct IRCHistoryLookup: Equatable {
    enum Reference: Equatable {
        case id(UInt64)
        case time(Timestamp)

        /// `msgid=ID-#channel` (`IRCConversation.messageID`) or `timestamp=` in server-time's form; nil for
        /// anything else.
        init?(_ text: String) {
            if text.hasPrefix("msgid=") {
                // Ids start at 1; HISTORY would read 0 as "the newest".
                guard let id = UInt64(text.dropFirst("msgid=".count).prefix { $0 != "-" }), id > 0 else { return nil }
                self = .id(id)
            } else if text.hasPrefix("timestamp="), let time = Timestamp(iso8601: String(text.dropFirst(10))) {
                self = .time(time)
            } else {
                return nil
            }
        }
    }

    /// What a reference stands for: `upper`, the first id at or after it (BEFORE and BETWEEN's later end ask below
    /// it, AROUND centres on it); `lower`, the last id at or before it (AFTER, LATEST and BETWEEN's earlier end ask
    /// above it). A msgid is both; a time falls between messages.
    struct Bounds: Equatable {
        var upper: UInt64
        var lower: UInt64
    }

    let subcommand: String
    /// Messages asked for, at most tchat's HISTORY limit.
    let count: Int
    private let references: [Reference]
    private var bounds: [Bounds] = []
    /// The search under way for the reference `bounds.count`, and whether its upper bound is found already.
    private var search: IRCTimeSearch?
    private var foundUpper: UInt64?

    /// `references`: LATEST's and BEFORE's one (LATEST `*` none), BETWEEN's two.
    init(subcommand: String, count: Int, references: [Reference]) {
        self.subcommand = subcommand
        self.count = count
        self.references = references
        if subcommand == "BETWEEN", references.count == 2, case .time(let a) = references[0],
            case .time(let b) = references[1]
        {
            // Two times: the earlier end is read above, the later below, one search each.
            onlyBound = a <= b ? [false, true] : [true, false]
        }
        advance()
    }

    /// For BETWEEN of two times, whether each end needs only its upper bound (true) or only its lower one.
    private var onlyBound: [Bool]?

    /// HISTORY's `before` for the next one-message ask; nil once every reference is resolved.
    var nextAsk: UInt64? { search?.nextAsk }

    /// The message HISTORY gave for `nextAsk` (nil: none below it).
    mutating func take(_ message: ChatMessage?) {
        guard var running = search else { return }
        running.take(message)
        search = running
        advance()
    }

    /// Resolves what needs no asking, and starts the next search.
    private mutating func advance() {
        while bounds.count < references.count {
            switch references[bounds.count] {
            case .id(let id):
                bounds.append(Bounds(upper: id, lower: id))
            case .time(let time):
                // The first message at the time or later, then (when this subcommand reads below a reference too)
                // the first one after it.
                if let running = search, let found = running.found {
                    search = nil
                    if running.strictly {
                        bounds.append(Bounds(upper: foundUpper ?? found, lower: found - 1))
                        foundUpper = nil
                    } else if needsLower {
                        foundUpper = found
                        search = IRCTimeSearch(time: time, strictly: true)
                        return
                    } else {
                        bounds.append(Bounds(upper: found, lower: found - 1))
                    }
                    continue
                }
                if search == nil {
                    search = IRCTimeSearch(time: time, strictly: !needsUpper)
                }
                return
            }
        }
    }

    private var needsUpper: Bool {
        if let onlyBound { return onlyBound[bounds.count] }
        return subcommand != "AFTER" && subcommand != "LATEST"
    }
    private var needsLower: Bool {
        if let onlyBound { return !onlyBound[bounds.count] }
        return subcommand != "BEFORE" && subcommand != "AROUND"
    }

    /// HISTORY's `before` and the id after which messages are kept (`IRCConversation.sendHistory`), once every
    /// reference is resolved.
    var window: (before: UInt64, after: UInt64)? {
        guard search == nil, bounds.count == references.count else { return nil }
        switch subcommand {
        case "LATEST":
            return (0, bounds.first?.lower ?? 0)
        case "BEFORE":
            return bounds.first.map { ($0.upper, 0) }
        case "AFTER":
            return bounds.first.map { (IRCConversation.adding($0.lower, count + 1), $0.lower) }
        case "AROUND":
            return bounds.first.map { reference in
                let id = reference.upper
                let half = UInt64(count / 2)
                return (IRCConversation.adding(id, count / 2 + 1), id > half ? id - half - 1 : 0)
            }
        case "BETWEEN":
            // Counted from the first reference: back from it when it is the later one, on from it otherwise.
            guard bounds.count == 2 else { return nil }
            let (a, b) = (bounds[0], bounds[1])
            if a.upper > b.upper || (a.upper == b.upper && a.lower >= b.lower) { return (a.upper, b.lower) }
            return (min(b.upper, IRCConversation.adding(a.lower, count + 1)), a.lower)
        default:
            return nil
        }
    }
}

/// Finds the first message id whose time is at or after `time` (`strictly`: after), asking HISTORY for the newest
/// message below some id, one at a time: the newest first, then galloping back from it (a recent time, what clients
/// mostly ask, takes a few asks that memory answers), then halving the range left. Ids a channel no longer keeps
/// answer nothing, as if they were earlier than any time. At most about 130 asks for any id.
struct IRCTimeSearch: Equatable {
    let time: Timestamp
    let strictly: Bool
    /// Below `low` no message matches (1: nothing is below it); below `high`, one does (nil: not asked yet).
    private var low: UInt64 = 1
    private var high: UInt64?
    private var step: UInt64 = 1
    private var halving = false
    private(set) var found: UInt64?

    init(time: Timestamp, strictly: Bool) {
        self.time = time
        self.strictly = strictly
    }

    /// HISTORY's `before` to ask next (0: the newest message); nil once `found`.
    var nextAsk: UInt64? {
        guard found == nil else { return nil }
        guard let high else { return 0 }
        if halving || high - low <= step { return low + (high - low) / 2 }
        return high - step
    }

    mutating func take(_ message: ChatMessage?) {
        guard found == nil, let asked = nextAsk else { return }
        let matching = message.map { strictly ? $0.time > time : $0.time >= time } ?? false
        if high == nil {
            // The newest: if it is too early, the first match would come after it.
            guard let message, matching else {
                found = message.map { IRCConversation.adding($0.id, 1) } ?? 1
                return
            }
            high = IRCConversation.adding(message.id, 1)
        } else if let message, matching {
            // Below what was asked, so the range shrinks with every answer, whatever the answer says.
            high = min(asked, IRCConversation.adding(message.id, 1))
            step = step > UInt64.max / 2 ? step : step * 2
        } else {
            low = asked
            halving = true
        }
        // Done when the range closes, or (a clock that went back) crosses: the first match is at least id 1.
        if let high, high <= low + 1 { found = max(high, 2) - 1 }
    }
}
