import Logging
import PostgresNIO
import TChatProtocol
import TChatServer

/// One group commit: the submissions taken from the queue, numbered and written in a single transaction
/// (`commit(on:logger:)`), in steps that wait for nothing, so that its statements can be chained on the
/// connection's event loop.
///
/// The work is one call of `tchat_commit_messages` (schema version 8) between BEGIN and COMMIT. Per channel in the
/// batch, the channel's row exists and is locked (in key order, so two servers never deadlock) and gives the last
/// committed id; this server holds the channel's lease (renewing it once half has run out) or finds another server
/// holds it; the messages
/// get the ids after the last one, in the order given, and are inserted; the last id is moved on; and one NOTIFY
/// tells every listening server which channels grew. Nothing is seen by anyone until COMMIT returns.
struct MessageBatch: Sendable {
    /// Messages of channels another server's lease covers, with that server's id and name.
    var heldElsewhere: [(MessageSubmission, owner: UInt64, name: String)] = []
    /// Messages PostgreSQL cannot keep: a `text` value holds no U+0000, and one such message would fail the whole
    /// batch.
    var unstorable: [MessageSubmission] = []
    var committed: [CommittedMessage] = []
    /// Keyed messages the store holds already (resends), with the stored message: answered, not delivered again.
    var duplicates: [(MessageSubmission, stored: ChatMessage)] = []
    /// Keyed messages whose key the sender used for another body: refused, never answered with another message's id.
    var keyReused: [MessageSubmission] = []
    /// What is left to number once the unstorable and the resends are sorted out.
    private(set) var numbering: [MessageSubmission] = []
    /// Resends of a message earlier in this batch, by that message's key.
    private var resends: [(MessageSubmission, first: KeyedMessage)] = []

    /// How long a lease lasts without a batch renewing it: once it has run out, another server may number the
    /// channel, continuing after the last committed id.
    static let leaseSeconds: Int32 = 10
    /// The NOTIFY channel servers LISTEN on.
    static let doorbell = "tchat_messages"

    let serverID: UInt64
    let serverName: String
    /// Every message of the batch is stamped with this time.
    let time: Timestamp

    init(submissions: [MessageSubmission], serverID: UInt64, serverName: String, time: Timestamp = .now()) {
        self.serverID = serverID
        self.serverName = serverName
        self.time = time
        for submission in submissions {
            if submission.body.text.utf8.contains(0) {
                unstorable.append(submission)
            } else {
                numbering.append(submission)
            }
        }
    }

    /// Whether any message to number has a key: then the store is asked for resends first, and the keys are
    /// written once the ids are known.
    var hasKeys: Bool { numbering.contains { $0.key != nil } }

    /// Takes out what is not numbered again: a resend of what the store holds (`stored`) or of a message earlier in
    /// this batch, and a key used for another body.
    mutating func sortOutResends(stored: [KeyedMessage: ChatMessage]) {
        var firstOfKey: [KeyedMessage: Int] = [:]
        var fresh: [MessageSubmission] = []
        for submission in numbering {
            guard let keyed = KeyedMessage(submission) else {
                fresh.append(submission)
                continue
            }
            if let message = stored[keyed] {
                if message.body == submission.body {
                    duplicates.append((submission, message))
                } else {
                    keyReused.append(submission)
                }
            } else if let first = firstOfKey[keyed] {
                if fresh[first].body == submission.body {
                    resends.append((submission, keyed))
                } else {
                    keyReused.append(submission)
                }
            } else {
                firstOfKey[keyed] = fresh.count
                fresh.append(submission)
            }
        }
        numbering = fresh
    }

    /// The call that numbers and inserts `numbering`.
    var numberingQuery: PostgresQuery {
        // Each channel once, in the order first met, and each message as its channel's place in that list and its
        // own place among that channel's messages: the ids follow from those without a sort in the database.
        var places: [String: Int] = [:]
        var keys: [String] = []
        var names: [String] = []
        var counts: [Int32] = []
        var index: [Int32] = []
        var sequence: [Int32] = []
        for submission in numbering {
            let key = StoreKey.of(submission.channel)
            let place: Int
            if let known = places[key] {
                place = known
            } else {
                place = keys.count
                places[key] = place
                keys.append(key)
                names.append(submission.channel.name)
                counts.append(0)
            }
            counts[place] += 1
            index.append(Int32(place + 1))
            sequence.append(counts[place])
        }
        let senders = numbering.map(\.from)
        let types = numbering.map { Int16($0.body.contentType.rawValue) }
        let bodies = numbering.map(\.body.text)
        let times = [Int64](repeating: Int64(time.milliseconds), count: numbering.count)
        let owner = Int64(bitPattern: serverID)
        let hex = String(serverID, radix: 16)
        return """
            SELECT r_channel, r_first, r_last, r_leased, r_holder, r_holder_name FROM tchat_commit_messages(
                \(owner)::bigint, \(serverName)::text, \(hex)::text, \(Self.leaseSeconds)::integer, \(keys)::text[],
                \(names)::text[], \(counts)::integer[], \(index)::integer[], \(sequence)::integer[],
                \(senders)::text[], \(types)::smallint[], \(bodies)::text[], \(times)::bigint[])
            """
    }

    /// Gives each message of `numbering` its id from the call's answer, or finds its channel held elsewhere; then
    /// answers this batch's resends with what their first became.
    mutating func number(from rows: [PostgresRow]) throws {
        var next: [String: UInt64] = [:]
        var holders: [String: (id: UInt64, name: String)] = [:]
        for row in rows {
            let (key, first, _, leased, holder, holderName) = try row.decode(
                (String, Int64, Int64, Bool, Int64, String).self)
            if leased {
                next[key] = UInt64(max(first, 1))
            } else {
                holders[key] = (UInt64(bitPattern: holder), holderName)
            }
        }
        for submission in numbering {
            let key = StoreKey.of(submission.channel)
            guard let id = next[key] else {
                let holder = holders[key] ?? (0, "another server")
                heldElsewhere.append((submission, owner: holder.id, name: holder.name))
                continue
            }
            next[key] = id + 1
            let message = ChatMessage(
                channel: submission.channel.name, id: id, time: time, from: submission.from, body: submission.body)
            committed.append(CommittedMessage(submission: submission, message: message))
        }
        let byKey = Dictionary(
            committed.compactMap { done in KeyedMessage(done.submission).map { ($0, done.message) } },
            uniquingKeysWith: { first, _ in first })
        for (submission, first) in resends {
            if let message = byKey[first] {
                duplicates.append((submission, message))
            } else {
                // Its first went to another server's channel: this one follows it there.
                let holder = heldElsewhere.first { KeyedMessage($0.0) == first }
                heldElsewhere.append((submission, owner: holder?.owner ?? 0, name: holder?.name ?? "another server"))
            }
        }
        resends = []
    }

    /// A message by its channel, sender and key: what the store keeps one of.
    struct KeyedMessage: Hashable {
        let channel: String
        let sender: String
        let key: String

        init?(_ submission: MessageSubmission) {
            guard let key = submission.key else { return nil }
            channel = StoreKey.of(submission.channel)
            sender = submission.from
            self.key = key
        }

        init(channel: String, sender: String, key: String) {
            self.channel = channel
            self.sender = sender
            self.key = key
        }
    }

    /// The query for the stored messages the keyed ones in `numbering` resend, found by the unique (channel,
    /// sender, key); `storedResends(from:)` reads its answer.
    var storedResendsQuery: PostgresQuery {
        let keyed = numbering.filter { $0.key != nil }
        let channels = keyed.map { StoreKey.of($0.channel) }
        let senders = keyed.map(\.from)
        let keys = keyed.compactMap(\.key)
        return """
            SELECT m.channel, m.sender, m.client_id, m.id, (extract(epoch FROM m.sent_at) * 1000)::bigint,
                m.content_type, m.body
            FROM messages m JOIN unnest(\(channels)::text[], \(senders)::text[], \(keys)::text[]) AS k(c, s, i)
                ON m.channel = k.c AND m.sender = k.s AND m.client_id = k.i
            """
    }

    /// The stored messages in `storedResendsQuery`'s answer, each by its key, its channel spelled as sent.
    func storedResends(from rows: [PostgresRow]) throws -> [KeyedMessage: ChatMessage] {
        let spelled = Dictionary(
            numbering.map { (StoreKey.of($0.channel), $0.channel.name) }, uniquingKeysWith: { first, _ in first })
        var found: [KeyedMessage: ChatMessage] = [:]
        for row in rows {
            let (channel, sender, key, id, time, type, body) = try row.decode(
                (String, String, String, Int64, Int64, Int16, String).self)
            guard let contentType = ContentType(rawValue: UInt8(truncatingIfNeeded: type)) else { continue }
            found[KeyedMessage(channel: channel, sender: sender, key: key)] = ChatMessage(
                channel: spelled[channel] ?? channel, id: UInt64(max(id, 1)), time: ChannelRows.time(time),
                from: sender, body: MessageBody(contentType, body))
        }
        return found
    }

    /// Writes the keys of the keyed messages just numbered, in the same transaction: the unique (channel, sender,
    /// key) refuses the whole batch, rather than keep one twice, should another server have stored one meanwhile.
    /// Nil when no committed message has a key.
    var keysQuery: PostgresQuery? {
        let keyed = committed.filter { $0.submission.key != nil }
        guard !keyed.isEmpty else { return nil }
        let channels = keyed.map { StoreKey.of($0.submission.channel) }
        let ids = keyed.map { Int64($0.message.id) }
        let keys = keyed.compactMap(\.submission.key)
        return """
            UPDATE messages m SET client_id = k.i
            FROM unnest(\(channels)::text[], \(ids)::bigint[], \(keys)::text[]) AS k(c, n, i)
            WHERE m.channel = k.c AND m.id = k.n
            """
    }

    // The doorbell's payload, as `tchat_commit_messages` writes it: `SERVER NAME:LAST NAME:LAST ...` (the server in
    // hex, channels as spelled: a name holds no space), or `SERVER *` (look at every channel) when that would not
    // fit a NOTIFY's 8,000 bytes.

    /// A doorbell's server and channels, or nil for one no tchatd sends; `channels` nil: look at every channel.
    static func parseDoorbell(_ payload: String) -> (server: UInt64, channels: [(name: String, lastID: UInt64)]?)? {
        let words = payload.split(separator: " ")
        guard let first = words.first, let server = UInt64(first, radix: 16) else { return nil }
        if words.count == 2 && words[1] == "*" { return (server, nil) }
        var channels: [(name: String, lastID: UInt64)] = []
        for word in words.dropFirst() {
            guard let colon = word.lastIndex(of: ":"), let last = UInt64(word[word.index(after: colon)...]) else {
                return nil
            }
            channels.append((String(word[..<colon]), last))
        }
        return (server, channels)
    }
}
