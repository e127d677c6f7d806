import Foundation
import Logging
import PostgresNIO
import TChatProtocol
import TChatServer

/// The `channels` table as the server's channel records: read at start-up, written back (topic and access) when
/// they change. Last ids are not written here: only a committed batch moves them (`MessageBatch`).
///
/// Several servers write the same rows, so each column keeps the newer of two versions: the topic by when it was
/// set, the access by `accessTime`, the name as first spelled.
enum ChannelRows {
    /// A channel's access (modes, key, operators, voiced, bans) as the `access` column holds it.
    struct Access: Codable, Equatable {
        var modes: String?
        var key: String?
        var operators: [String]?
        var voiced: [String]?
        var bans: [String]?
        var orphaned: Bool?
        var accessTime: String?
        var accessOrigin: String?

        init(_ record: ChannelRecord) {
            modes = record.modes
            key = record.key
            operators = record.operators
            voiced = record.voiced
            bans = record.bans
            orphaned = record.orphaned
            accessTime = record.accessTime
            accessOrigin = record.accessOrigin
        }

        var isEmpty: Bool { self == Access(ChannelRecord(name: "", file: "", created: "")) }

        func apply(to record: inout ChannelRecord) {
            record.modes = modes
            record.key = key
            record.operators = operators
            record.voiced = voiced
            record.bans = bans
            record.orphaned = orphaned
            record.accessTime = accessTime
            record.accessOrigin = accessOrigin
        }
    }

    /// Every channel with its stored id range. A row whose name is not a channel name (written by hand) stops the
    /// start, naming it, as a damaged `channels.json` does.
    static func load(_ client: PostgresClient, logger: Logger) async throws -> [StoredChannel] {
        var loaded: [StoredChannel] = []
        let rows = try await client.all(
            """
            SELECT c.key, c.name, (extract(epoch FROM c.created_at) * 1000)::bigint, c.topic, c.topic_set_by,
                   coalesce((extract(epoch FROM c.topic_set_at) * 1000)::bigint, 0), c.last_id,
                   coalesce(c.access::text, ''),
                   coalesce((SELECT min(m.id) FROM messages m WHERE m.channel = c.key), 0),
                   coalesce((SELECT (extract(epoch FROM m.sent_at) * 1000)::bigint FROM messages m
                             WHERE m.channel = c.key AND m.id = c.last_id), 0)
            FROM channels c ORDER BY c.key
            """, logger: logger)
        let decoder = JSONDecoder()
        for row in rows {
            let (key, name, created, topic, topicBy, topicAt, lastID, access, firstID, lastAt) = try row.decode(
                (String, String, Int64, String, String, Int64, Int64, String, Int64, Int64).self)
            guard let channel = try? ChannelName(validating: name), StoreKey.of(channel) == key else {
                throw StoreProblem("the channels table has a row '\(key)' whose name '\(name)' is not that channel")
            }
            var record = ChannelRecord(
                name: name, file: key, created: Self.time(created).iso8601, topic: topic, topicBy: topicBy,
                topicTime: topicBy.isEmpty ? "" : Self.time(topicAt).iso8601)
            if !access.isEmpty {
                do {
                    try decoder.decode(Access.self, from: Data(access.utf8)).apply(to: &record)
                } catch {
                    throw StoreProblem("the channels table's access of \(name) cannot be read: \(error)")
                }
            }
            loaded.append(
                StoredChannel(
                    record: record, firstID: UInt64(max(firstID, 0)), lastID: UInt64(max(lastID, 0)),
                    lastTime: lastID > 0 ? Self.time(lastAt) : nil))
        }
        return loaded
    }

    /// Writes the channels' names, topics and access, keeping the newer of what is stored and what is given.
    static func save(_ records: [ChannelRecord], _ client: PostgresClient, logger: Logger) async throws {
        guard !records.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var keys: [String] = []
        var names: [String] = []
        var created: [Int64] = []
        var topics: [String] = []
        var setters: [String] = []
        var setAt: [Int64] = []
        var accesses: [String] = []
        // In key order, as batches lock the same rows (`MessageBatch`): two servers' writes wait, never deadlock.
        let named = records.compactMap { record in (try? ChannelName(validating: record.name)).map { ($0, record) } }
        for (name, record) in named.sorted(by: { StoreKey.inLockOrder(StoreKey.of($0.0), StoreKey.of($1.0)) }) {
            keys.append(StoreKey.of(name))
            names.append(record.name)
            created.append(Self.milliseconds(record.created))
            topics.append(record.topic)
            setters.append(record.topicBy)
            setAt.append(Self.milliseconds(record.topicTime))
            let access = Access(record)
            accesses.append(access.isEmpty ? "" : String(decoding: try encoder.encode(access), as: UTF8.self))
        }
        try await client.all(
            """
            INSERT INTO channels AS c (key, name, created_at, topic, topic_set_by, topic_set_at, access)
            SELECT k, n, to_timestamp(cr / 1000.0), t, tb, CASE WHEN ta = 0 THEN NULL ELSE to_timestamp(ta / 1000.0) END,
                   nullif(a, '')::jsonb
            FROM unnest(\(keys)::text[], \(names)::text[], \(created)::bigint[], \(topics)::text[], \(setters)::text[],
                        \(setAt)::bigint[], \(accesses)::text[]) AS u(k, n, cr, t, tb, ta, a)
            ON CONFLICT (key) DO UPDATE SET
                topic = CASE WHEN c.topic_set_at IS NULL OR excluded.topic_set_at >= c.topic_set_at
                             THEN excluded.topic ELSE c.topic END,
                topic_set_by = CASE WHEN c.topic_set_at IS NULL OR excluded.topic_set_at >= c.topic_set_at
                                    THEN excluded.topic_set_by ELSE c.topic_set_by END,
                topic_set_at = CASE WHEN c.topic_set_at IS NULL OR excluded.topic_set_at >= c.topic_set_at
                                    THEN excluded.topic_set_at ELSE c.topic_set_at END,
                access = CASE WHEN coalesce(excluded.access ->> 'accessTime', '') >= coalesce(c.access ->> 'accessTime', '')
                              THEN excluded.access ELSE c.access END
            """, logger: logger)
    }

    static func time(_ milliseconds: Int64) -> Timestamp { Timestamp(milliseconds: UInt64(max(milliseconds, 0))) }

    static func milliseconds(_ iso8601: String) -> Int64 {
        Timestamp(iso8601: iso8601).map { Int64(clamping: $0.milliseconds) } ?? 0
    }
}

/// What is wrong with the database's contents, in a sentence.
struct StoreProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
