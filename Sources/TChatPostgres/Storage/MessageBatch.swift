import Logging
import PostgresNIO
import TChatProtocol
import TChatServer

/// One group commit: the submissions taken from the queue, numbered and written in a single transaction.
///
/// Inside it, per channel in the batch: the channel's row exists, is locked (in key order, so two servers never
/// deadlock) and gives the last committed id; this server takes or renews the channel's lease, or finds another
/// server holds it; the messages get the ids after the last one and are inserted; the last id is moved on; and one
/// NOTIFY tells every listening server which channels grew. Nothing is seen by anyone until COMMIT returns.
struct MessageBatch: Sendable {
    /// Messages of channels another server's lease covers, with that server's id and name.
    var heldElsewhere: [(MessageSubmission, owner: UInt64, name: String)] = []
    /// Messages of channels whose ids are used up.
    var exhausted: [MessageSubmission] = []
    /// Messages PostgreSQL cannot keep: a `text` column holds no U+0000, and one such message would fail the
    /// whole batch.
    var unstorable: [MessageSubmission] = []
    var committed: [CommittedMessage] = []

    /// How long a lease lasts without a batch renewing it: once it has run out, another server may number the
    /// channel, continuing after the last committed id.
    static let leaseSeconds = 10
    /// The NOTIFY channel servers LISTEN on.
    static let doorbell = "tchat_messages"

    let submissions: [MessageSubmission]
    let serverID: UInt64
    let serverName: String

    /// Numbers and writes the batch in `connection`'s open transaction.
    mutating func write(on connection: PostgresConnection, logger: Logger) async throws {
        var names: [String: String] = [:]
        for submission in submissions where names[submission.channel.key] == nil {
            names[submission.channel.key] = submission.channel.name
        }
        let keys = names.keys.sorted()
        let spellings = keys.map { names[$0]! }
        try await connection.all(
            """
            INSERT INTO channels (key, name, created_at)
            SELECT k, n, now() FROM unnest(\(keys)::text[], \(spellings)::text[]) AS t(k, n)
            ON CONFLICT (key) DO NOTHING
            """, logger: logger)
        var lastIDs: [String: UInt64] = [:]
        for row in try await connection.all(
            "SELECT key, last_id FROM channels WHERE key = ANY(\(keys)::text[]) ORDER BY key FOR UPDATE",
            logger: logger)
        {
            let (key, last) = try row.decode((String, Int64).self)
            lastIDs[key] = UInt64(max(last, 0))
        }
        let owner = Int64(bitPattern: serverID)
        let name = serverName
        let seconds = Self.leaseSeconds
        var leased = Set<String>()
        for row in try await connection.all(
            """
            INSERT INTO channel_leases (channel, owner_id, owner_name, expires_at)
            SELECT k, \(owner), \(name), now() + make_interval(secs => \(seconds)) FROM unnest(\(keys)::text[]) AS t(k)
            ON CONFLICT (channel) DO UPDATE
                SET owner_id = excluded.owner_id, owner_name = excluded.owner_name, expires_at = excluded.expires_at
                WHERE channel_leases.owner_id = excluded.owner_id OR channel_leases.expires_at < now()
            RETURNING channel
            """, logger: logger)
        {
            leased.insert(try row.decode(String.self))
        }
        var owners: [String: (id: UInt64, name: String)] = [:]
        if leased.count < keys.count {
            let others = keys.filter { !leased.contains($0) }
            for row in try await connection.all(
                "SELECT channel, owner_id, owner_name FROM channel_leases WHERE channel = ANY(\(others)::text[])",
                logger: logger)
            {
                let (key, id, owner) = try row.decode((String, Int64, String).self)
                owners[key] = (UInt64(bitPattern: id), owner)
            }
        }
        var rows = Rows()
        let now = Timestamp.now()
        for submission in submissions {
            let key = submission.channel.key
            guard !submission.body.text.utf8.contains(0) else {
                unstorable.append(submission)
                continue
            }
            guard leased.contains(key) else {
                let owner = owners[key] ?? (0, "another server")
                heldElsewhere.append((submission, owner: owner.id, name: owner.name))
                continue
            }
            let last = lastIDs[key] ?? 0
            guard last < ProtocolLimits.maxMessageID else {
                exhausted.append(submission)
                continue
            }
            lastIDs[key] = last + 1
            let message = ChatMessage(
                channel: submission.channel.name, id: last + 1, time: now, from: submission.from,
                body: submission.body)
            rows.add(message, key: key)
            committed.append(CommittedMessage(submission: submission, message: message))
        }
        guard !committed.isEmpty else { return }
        try await connection.all(
            """
            INSERT INTO messages (channel, id, sent_at, sender, content_type, body)
            SELECT c, i, to_timestamp(t / 1000.0), s, ct, b
            FROM unnest(\(rows.channels)::text[], \(rows.ids)::bigint[], \(rows.times)::bigint[], \(rows.senders)::text[],
                        \(rows.types)::smallint[], \(rows.bodies)::text[]) AS u(c, i, t, s, ct, b)
            """, logger: logger)
        let grown = leased.sorted()
        let lasts = grown.map { Int64(lastIDs[$0] ?? 0) }
        try await connection.all(
            """
            UPDATE channels SET last_id = u.l FROM unnest(\(grown)::text[], \(lasts)::bigint[]) AS u(k, l)
            WHERE channels.key = u.k AND u.l > channels.last_id
            """, logger: logger)
        let payload = Self.doorbellPayload(serverID: serverID, lastIDs: zip(grown, lasts).map { (names[$0]!, $1) })
        try await connection.all("SELECT pg_notify(\(Self.doorbell), \(payload))", logger: logger)
    }

    /// `SERVER NAME:LAST NAME:LAST ...` (the server in hex, channels as spelled: a name holds no space), or
    /// `SERVER *` (look at every channel) when that would not fit a NOTIFY's 8,000 bytes.
    static func doorbellPayload(serverID: UInt64, lastIDs: [(String, Int64)]) -> String {
        var payload = String(serverID, radix: 16)
        for (name, last) in lastIDs {
            payload += " \(name):\(last)"
            if payload.utf8.count > 7_900 { return String(serverID, radix: 16) + " *" }
        }
        return payload
    }

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

    /// A batch's messages as one array per column, for one INSERT ... SELECT FROM unnest.
    private struct Rows {
        var channels: [String] = []
        var ids: [Int64] = []
        var times: [Int64] = []
        var senders: [String] = []
        var types: [Int16] = []
        var bodies: [String] = []

        mutating func add(_ message: ChatMessage, key: String) {
            channels.append(key)
            ids.append(Int64(message.id))
            times.append(Int64(message.time.milliseconds))
            senders.append(message.from)
            types.append(Int16(message.body.contentType.rawValue))
            bodies.append(message.body.text)
        }
    }
}
