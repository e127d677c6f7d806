import Logging
import PostgresNIO
import TChatPostgres
import TChatTestSupport
import Testing

/// `tchat_commit_messages`, the one call a batch makes, against a real PostgreSQL: the ids it gives, and the leases
/// it takes, keeps, renews and refuses. (The servers' use of it is in `PostgresStoreTests`.)
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct CommitFunctionTests {
    static let logger = Logger(label: "test")

    /// Runs `body` on a connection to database `chat`, migrated, of a cluster of the test's own, stopped after it.
    static func withDatabase(
        _ body: (_ cluster: PostgresCluster, _ connection: PostgresConnection) async throws -> Void
    ) async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let connection = try await cluster.connect(database: "chat")
        do {
            _ = try await PostgresSchema.migrate(connection, logger: logger)
            try await body(cluster, connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    /// One call: `channels` as the batch met them, one message each; answers (channel, first, last, leased,
    /// holder) by channel.
    static func commit(
        _ connection: PostgresConnection, owner: Int64, channels: [String]
    ) async throws -> [String: (first: Int64, last: Int64, leased: Bool, holder: Int64)] {
        var keys: [String] = []
        var counts: [Int32] = []
        var index: [Int32] = []
        var sequence: [Int32] = []
        for channel in channels {
            let place = keys.firstIndex(of: channel) ?? keys.count
            if place == keys.count {
                keys.append(channel)
                counts.append(0)
            }
            counts[place] += 1
            index.append(Int32(place + 1))
            sequence.append(counts[place])
        }
        let senders = channels.map { _ in "ann" }
        let types = channels.map { _ in Int16(0) }
        let bodies = channels.map { "to \($0)" }
        let times = channels.map { _ in Int64(1_700_000_000_000) }
        let query: PostgresQuery = """
            SELECT r_channel, r_first, r_last, r_leased, r_holder FROM tchat_commit_messages(
                \(owner)::bigint, \("s\(owner)")::text, \(String(owner, radix: 16))::text, 10::integer, \(keys)::text[],
                \(keys)::text[], \(counts)::integer[], \(index)::integer[], \(sequence)::integer[], \(senders)::text[],
                \(types)::smallint[], \(bodies)::text[], \(times)::bigint[])
            """
        var answers: [String: (first: Int64, last: Int64, leased: Bool, holder: Int64)] = [:]
        for try await (channel, first, last, leased, holder) in try await connection.query(query, logger: logger)
            .decode((String, Int64, Int64, Bool, Int64).self)
        {
            answers[channel] = (first, last, leased, holder)
        }
        return answers
    }

    /// When the channel's lease runs out, in seconds since 1970.
    static func expiry(_ connection: PostgresConnection, _ channel: String) async throws -> Double {
        let rows = try await connection.query(
            "SELECT extract(epoch FROM expires_at)::float8 FROM channel_leases WHERE channel = \(channel)",
            logger: logger)
        for try await seconds in rows.decode(Double.self) { return seconds }
        return -1
    }

    @Test func idsFollowOnInEveryChannelNewOrNotAndInTheOrderGiven() async throws {
        try await Self.withDatabase { _, connection in
            let first = try await Self.commit(connection, owner: 1, channels: ["#a", "#b", "#a", "#a"])
            #expect(
                first["#a"]?.first == 1 && first["#a"]?.last == 3 && first["#b"]?.first == 1 && first["#b"]?.last == 1)
            // #a and #b exist now, #c does not: one batch with both kinds.
            let second = try await Self.commit(connection, owner: 1, channels: ["#c", "#a", "#c", "#b"])
            #expect(second["#a"]?.first == 4 && second["#a"]?.last == 4)
            #expect(second["#b"]?.first == 2 && second["#c"]?.first == 1 && second["#c"]?.last == 2)
            var stored: [String] = []
            for try await (channel, id, body) in try await connection.query(
                "SELECT channel, id, body FROM messages ORDER BY channel, id", logger: Self.logger
            ).decode((String, Int64, String).self) {
                stored.append("\(channel) \(id) \(body)")
            }
            #expect(
                stored == [
                    "#a 1 to #a", "#a 2 to #a", "#a 3 to #a", "#a 4 to #a", "#b 1 to #b", "#b 2 to #b", "#c 1 to #c",
                    "#c 2 to #c",
                ])
            var lasts: [String] = []
            for try await (key, last) in try await connection.query(
                "SELECT key, last_id FROM channels ORDER BY key", logger: Self.logger
            ).decode((String, Int64).self) {
                lasts.append("\(key) \(last)")
            }
            #expect(lasts == ["#a 4", "#b 2", "#c 2"])
        }
    }

    /// Two servers' batches at once over the same channels, old and new, met in opposite orders: the rows are
    /// locked in one order, so neither waits for the other in a circle (PostgreSQL would fail one with a
    /// deadlock), and every stored id is where `last_id` says.
    @Test func batchesOfTwoServersAtOnceNeverDeadlock() async throws {
        try await Self.withDatabase { cluster, first in
            let second = try await cluster.connect(database: "chat")
            _ = try await Self.commit(first, owner: 1, channels: ["#x", "#y"])
            async let one: Void = {
                for round in 0..<40 {
                    _ = try await Self.commit(first, owner: 1, channels: ["#x", "#n\(round)", "#y", "#m\(round)"])
                }
            }()
            async let two: Void = {
                for round in 0..<40 {
                    _ = try await Self.commit(second, owner: 2, channels: ["#m\(round)", "#y", "#n\(round)", "#x"])
                }
            }()
            try await one
            try await two
            var wrong = 0
            for try await count in try await first.query(
                """
                SELECT count(*) FROM channels c
                WHERE c.last_id <> (SELECT count(*) FROM messages m WHERE m.channel = c.key)
                    OR c.last_id <> (SELECT coalesce(max(id), 0) FROM messages m WHERE m.channel = c.key)
                """, logger: Self.logger
            ).decode(Int.self) {
                wrong = count
            }
            #expect(wrong == 0)
            try await second.close()
        }
    }

    @Test func aLeaseIsRenewedOnceHalfHasRunOutAndRefusedToOthersUntilItHasRunOut() async throws {
        try await Self.withDatabase { _, connection in
            _ = try await Self.commit(connection, owner: 1, channels: ["#a"])
            // Over half left: the batch does not write the lease.
            try await connection.query(
                "UPDATE channel_leases SET expires_at = now() + interval '8 seconds'", logger: Self.logger)
            let kept = try await Self.expiry(connection, "#a")
            #expect(try await Self.commit(connection, owner: 1, channels: ["#a"])["#a"]?.leased == true)
            #expect(try await Self.expiry(connection, "#a") == kept)
            // Under half: renewed to the whole lease (10 s from then, 7 s later than it was).
            try await connection.query(
                "UPDATE channel_leases SET expires_at = now() + interval '3 seconds'", logger: Self.logger)
            let short = try await Self.expiry(connection, "#a")
            #expect(try await Self.commit(connection, owner: 1, channels: ["#a"])["#a"]?.leased == true)
            #expect(try await Self.expiry(connection, "#a") > short + 5)
            // Another server, while it runs: refused, told who holds it, nothing stored for it.
            let refused = try await Self.commit(connection, owner: 2, channels: ["#a", "#b"])
            #expect(refused["#a"]?.leased == false && refused["#a"]?.holder == 1)
            #expect(refused["#b"]?.leased == true && refused["#b"]?.first == 1)
            // Once it has run out: taken, continuing after the last id.
            try await connection.query(
                "UPDATE channel_leases SET expires_at = now() - interval '1 second' WHERE channel = '#a'",
                logger: Self.logger)
            let taken = try await Self.commit(connection, owner: 2, channels: ["#a"])
            #expect(taken["#a"]?.leased == true && taken["#a"]?.holder == 2 && taken["#a"]?.first == 4)
            #expect(try await Self.commit(connection, owner: 1, channels: ["#a"])["#a"]?.leased == false)
        }
    }
}
