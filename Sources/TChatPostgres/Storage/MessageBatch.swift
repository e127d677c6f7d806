import Logging
import PostgresNIO
import TChatProtocol
import TChatServer

/// One group commit: the submissions taken from the queue, numbered and written in a single transaction.
///
/// The work is one call of `tchat_commit_batch` (schema version 3), so a commit costs three round trips (BEGIN,
/// the call, COMMIT): per channel in the batch, the channel's row exists and is locked (in key order, so two
/// servers never deadlock) and gives the last committed id; this server takes or renews the channel's lease, or
/// finds another server holds it; the messages get the ids after the last one, in the order given, and are
/// inserted; the last id is moved on; and one NOTIFY tells every listening server which channels grew. Nothing is
/// seen by anyone until COMMIT returns.
struct MessageBatch: Sendable {
    /// Messages of channels another server's lease covers, with that server's id and name.
    var heldElsewhere: [(MessageSubmission, owner: UInt64, name: String)] = []
    /// Messages PostgreSQL cannot keep: a `text` value holds no U+0000, and one such message would fail the whole
    /// batch.
    var unstorable: [MessageSubmission] = []
    var committed: [CommittedMessage] = []

    /// How long a lease lasts without a batch renewing it: once it has run out, another server may number the
    /// channel, continuing after the last committed id.
    static let leaseSeconds: Int32 = 10
    /// The NOTIFY channel servers LISTEN on.
    static let doorbell = "tchat_messages"

    let submissions: [MessageSubmission]
    let serverID: UInt64
    let serverName: String

    /// Numbers and writes the batch in `connection`'s open transaction.
    mutating func write(on connection: PostgresConnection, logger: Logger) async throws {
        var numbering: [MessageSubmission] = []
        for submission in submissions {
            if submission.body.text.utf8.contains(0) {
                unstorable.append(submission)
            } else {
                numbering.append(submission)
            }
        }
        guard !numbering.isEmpty else { return }
        let keys = numbering.map { StoreKey.of($0.channel) }
        let names = numbering.map(\.channel.name)
        let senders = numbering.map(\.from)
        let types = numbering.map { Int16($0.body.contentType.rawValue) }
        let bodies = numbering.map(\.body.text)
        let now = Timestamp.now()
        let times = [Int64](repeating: Int64(now.milliseconds), count: numbering.count)
        let owner = Int64(bitPattern: serverID)
        let hex = String(serverID, radix: 16)
        var next: [String: UInt64] = [:]
        var holders: [String: (id: UInt64, name: String)] = [:]
        for row in try await connection.all(
            """
            SELECT r_channel, r_first, r_last, r_leased, r_holder, r_holder_name FROM tchat_commit_batch(
                \(owner)::bigint, \(serverName)::text, \(hex)::text, \(Self.leaseSeconds)::integer, \(keys)::text[],
                \(names)::text[], \(senders)::text[], \(types)::smallint[], \(bodies)::text[], \(times)::bigint[])
            """, logger: logger)
        {
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
                channel: submission.channel.name, id: id, time: now, from: submission.from, body: submission.body)
            committed.append(CommittedMessage(submission: submission, message: message))
        }
    }

    // The doorbell's payload, as `tchat_commit_batch` writes it: `SERVER NAME:LAST NAME:LAST ...` (the server in
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
