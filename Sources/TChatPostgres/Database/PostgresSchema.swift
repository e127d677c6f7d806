public import Logging
public import PostgresNIO

/// The tables tchatd keeps in PostgreSQL, versioned: each server migrates the database to its version at start-up,
/// all in one transaction under an advisory lock (two servers starting together migrate once), and a server older
/// than the database refuses to start rather than write what a newer one would misread.
public enum PostgresSchema {
    /// The version this build writes and reads.
    public static let current = 8

    /// Statements that take the schema from `version - 1` to `version`. Appended to, never changed: a database
    /// migrated by an earlier build has run the earlier ones as they were.
    static let migrations: [(version: Int, statements: [String])] = [
        (
            1,
            [
                // Channels by the key names are compared by (lower-cased, canonically equivalent), with the name
                // as first spelled, and the last id committed: the next owner continues after it.
                """
                CREATE TABLE channels (
                    key text PRIMARY KEY,
                    name text NOT NULL,
                    created_at timestamptz NOT NULL,
                    topic text NOT NULL DEFAULT '',
                    topic_set_by text NOT NULL DEFAULT '',
                    topic_set_at timestamptz,
                    last_id bigint NOT NULL DEFAULT 0 CHECK (last_id >= 0)
                )
                """,
                // (channel, id) is the fence: two servers that both believe they own a channel can never both store
                // one id. A client's own id for a message makes a resend after a failover idempotent.
                """
                CREATE TABLE messages (
                    channel text NOT NULL REFERENCES channels (key),
                    id bigint NOT NULL CHECK (id > 0),
                    sent_at timestamptz NOT NULL,
                    sender text NOT NULL,
                    content_type smallint NOT NULL,
                    body text NOT NULL,
                    client_id text,
                    PRIMARY KEY (channel, id)
                )
                """,
                """
                CREATE UNIQUE INDEX messages_client_id ON messages (channel, sender, client_id)
                    WHERE client_id IS NOT NULL
                """,
                // One owner per channel at a time, until its lease expires.
                """
                CREATE TABLE channel_leases (
                    channel text PRIMARY KEY REFERENCES channels (key),
                    owner_id bigint NOT NULL,
                    owner_name text NOT NULL,
                    expires_at timestamptz NOT NULL
                )
                """,
            ]
        ),
        (
            2,
            [
                // A channel's modes, key, operators, voiced members and bans, as `ChannelAccessRow` writes them;
                // null for an open channel nobody operates.
                "ALTER TABLE channels ADD COLUMN access jsonb",
                // A server stopping gives its leases up at once, found by its id, so another need not wait them out.
                "CREATE INDEX channel_leases_owner ON channel_leases (owner_id)",
            ]
        ),
        (
            3,
            [
                // A whole batch in one call, so a commit costs three round trips (BEGIN, this, COMMIT), not eight:
                // the channels' rows made and locked in key order, their leases taken or renewed, the messages of
                // the channels leased numbered after each one's last id (in the order given) and inserted, the last
                // ids moved on, and one NOTIFY. Returns, per channel, the ids given (leased) or who holds it.
                """
                CREATE FUNCTION tchat_commit_batch(
                    p_owner bigint, p_owner_name text, p_owner_hex text, p_lease_seconds integer,
                    p_channels text[], p_names text[], p_senders text[], p_types smallint[], p_bodies text[],
                    p_times bigint[]
                ) RETURNS TABLE (
                    r_channel text, r_first bigint, r_last bigint, r_leased boolean, r_holder bigint,
                    r_holder_name text
                ) LANGUAGE plpgsql AS $$
                DECLARE
                    v_leased text[];
                    v_payload text;
                BEGIN
                    INSERT INTO channels (key, name, created_at)
                    SELECT DISTINCT ON (k) k, n, now() FROM unnest(p_channels, p_names) AS t(k, n)
                    ON CONFLICT (key) DO NOTHING;
                    PERFORM 1 FROM channels c WHERE c.key = ANY(p_channels) ORDER BY c.key FOR UPDATE;
                    WITH taken AS (
                        INSERT INTO channel_leases AS l (channel, owner_id, owner_name, expires_at)
                        SELECT DISTINCT k, p_owner, p_owner_name, now() + make_interval(secs => p_lease_seconds)
                        FROM unnest(p_channels) AS t(k)
                        ON CONFLICT (channel) DO UPDATE
                            SET owner_id = excluded.owner_id, owner_name = excluded.owner_name,
                                expires_at = excluded.expires_at
                            WHERE l.owner_id = excluded.owner_id OR l.expires_at < now()
                        RETURNING l.channel
                    )
                    SELECT coalesce(array_agg(taken.channel), '{}') INTO v_leased FROM taken;
                    INSERT INTO messages (channel, id, sent_at, sender, content_type, body)
                    SELECT m.k, c.last_id + row_number() OVER (PARTITION BY m.k ORDER BY m.o),
                           to_timestamp(m.t / 1000.0), m.s, m.ty, m.b
                    FROM unnest(p_channels, p_senders, p_types, p_bodies, p_times) WITH ORDINALITY
                        AS m(k, s, ty, b, t, o)
                    JOIN channels c ON c.key = m.k
                    WHERE m.k = ANY(v_leased);
                    UPDATE channels c SET last_id = c.last_id + n.added
                    FROM (SELECT k, count(*) AS added FROM unnest(p_channels) AS u(k) WHERE k = ANY(v_leased) GROUP BY k)
                        AS n
                    WHERE c.key = n.k;
                    SELECT p_owner_hex || ' ' || string_agg(c.name || ':' || c.last_id, ' ' ORDER BY c.key)
                    INTO v_payload FROM channels c WHERE c.key = ANY(v_leased);
                    IF v_payload IS NOT NULL THEN
                        IF octet_length(v_payload) > 7900 THEN
                            v_payload := p_owner_hex || ' *';
                        END IF;
                        PERFORM pg_notify('tchat_messages', v_payload);
                    END IF;
                    RETURN QUERY
                        SELECT c.key, c.last_id - n.added + 1, c.last_id, true, p_owner, p_owner_name
                        FROM channels c
                        JOIN (SELECT k, count(*) AS added FROM unnest(p_channels) AS u(k) WHERE k = ANY(v_leased)
                              GROUP BY k) AS n ON n.k = c.key
                        UNION ALL
                        SELECT l.channel, 0::bigint, 0::bigint, false, l.owner_id, l.owner_name
                        FROM channel_leases l
                        WHERE l.channel = ANY(p_channels) AND NOT (l.channel = ANY(v_leased));
                END
                $$
                """
            ]
        ),
        (
            4,
            [
                // Every lock in one order, bytewise (COLLATE "C", as servers sort keys), whatever the database's
                // collation: the channels' rows made and locked in one ordered pass (a new row is no longer locked
                // before an existing one that sorts first), the leases likewise, and a channel's name as first
                // spelled in the batch. Two servers' batches, a server's channel writes and a stopping server's
                // lease release then never wait for each other in a circle.
                """
                CREATE OR REPLACE FUNCTION tchat_commit_batch(
                    p_owner bigint, p_owner_name text, p_owner_hex text, p_lease_seconds integer,
                    p_channels text[], p_names text[], p_senders text[], p_types smallint[], p_bodies text[],
                    p_times bigint[]
                ) RETURNS TABLE (
                    r_channel text, r_first bigint, r_last bigint, r_leased boolean, r_holder bigint,
                    r_holder_name text
                ) LANGUAGE plpgsql AS $$
                DECLARE
                    v_leased text[];
                    v_payload text;
                BEGIN
                    INSERT INTO channels AS c (key, name, created_at)
                    SELECT DISTINCT ON (k COLLATE "C") k, n, now()
                    FROM unnest(p_channels, p_names) WITH ORDINALITY AS t(k, n, o)
                    ORDER BY k COLLATE "C", o
                    ON CONFLICT (key) DO UPDATE SET last_id = c.last_id;
                    WITH taken AS (
                        INSERT INTO channel_leases AS l (channel, owner_id, owner_name, expires_at)
                        SELECT k, p_owner, p_owner_name, now() + make_interval(secs => p_lease_seconds)
                        FROM unnest(p_channels) AS t(k) GROUP BY k ORDER BY k COLLATE "C"
                        ON CONFLICT (channel) DO UPDATE
                            SET owner_id = excluded.owner_id, owner_name = excluded.owner_name,
                                expires_at = excluded.expires_at
                            WHERE l.owner_id = excluded.owner_id OR l.expires_at < now()
                        RETURNING l.channel
                    )
                    SELECT coalesce(array_agg(taken.channel), '{}') INTO v_leased FROM taken;
                    INSERT INTO messages (channel, id, sent_at, sender, content_type, body)
                    SELECT m.k, c.last_id + row_number() OVER (PARTITION BY m.k ORDER BY m.o),
                           to_timestamp(m.t / 1000.0), m.s, m.ty, m.b
                    FROM unnest(p_channels, p_senders, p_types, p_bodies, p_times) WITH ORDINALITY
                        AS m(k, s, ty, b, t, o)
                    JOIN channels c ON c.key = m.k
                    WHERE m.k = ANY(v_leased);
                    UPDATE channels c SET last_id = c.last_id + n.added
                    FROM (SELECT k, count(*) AS added FROM unnest(p_channels) AS u(k) WHERE k = ANY(v_leased) GROUP BY k)
                        AS n
                    WHERE c.key = n.k;
                    SELECT p_owner_hex || ' ' || string_agg(c.name || ':' || c.last_id, ' ' ORDER BY c.key)
                    INTO v_payload FROM channels c WHERE c.key = ANY(v_leased);
                    IF v_payload IS NOT NULL THEN
                        IF octet_length(v_payload) > 7900 THEN
                            v_payload := p_owner_hex || ' *';
                        END IF;
                        PERFORM pg_notify('tchat_messages', v_payload);
                    END IF;
                    RETURN QUERY
                        SELECT c.key, c.last_id - n.added + 1, c.last_id, true, p_owner, p_owner_name
                        FROM channels c
                        JOIN (SELECT k, count(*) AS added FROM unnest(p_channels) AS u(k) WHERE k = ANY(v_leased)
                              GROUP BY k) AS n ON n.k = c.key
                        UNION ALL
                        SELECT l.channel, 0::bigint, 0::bigint, false, l.owner_id, l.owner_name
                        FROM channel_leases l
                        WHERE l.channel = ANY(p_channels) AND NOT (l.channel = ANY(v_leased));
                END
                $$
                """
            ]
        ),
        (
            5,
            [
                // Accounts, one row each by the key their nick is compared by; the nick, hashes and welcome text as
                // `Account` encodes them.
                """
                CREATE TABLE accounts (
                    key text COLLATE "C" PRIMARY KEY,
                    body jsonb NOT NULL
                )
                """,
                // The rest of what `accounts.json` held (the decoy secret, server bans, removals), and a version
                // every change moves on: a write names the version it read, so of two servers changing accounts at
                // once the second reads again and retries rather than undo the first.
                """
                CREATE TABLE account_book (
                    id integer PRIMARY KEY CHECK (id = 1),
                    version bigint NOT NULL CHECK (version > 0),
                    body jsonb NOT NULL
                )
                """,
            ]
        ),
        (
            6,
            [
                // The database's identity, made once: linked servers compare theirs (SERVER_HELLO) and refuse a
                // link between two stores, which would number one channel twice.
                "CREATE TABLE tchat_store (id text PRIMARY KEY, one boolean NOT NULL DEFAULT true UNIQUE CHECK (one))",
                "INSERT INTO tchat_store (id) VALUES (gen_random_uuid()::text)",
            ]
        ),
        (
            7,
            [
                // Every message is inserted by `tchat_commit_batch` after its channel's row was made and locked in
                // the same transaction, and no channel row is ever deleted: the foreign key's per-row check only
                // cost the database about a tenth of each batch.
                "ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_channel_fkey",
                // Less work per batch, the same locks in the same order: the leased channels' last ids are moved
                // on and their messages inserted in one statement (the ids from what the update returns), which
                // also gives the doorbell and the answer, instead of a join of the channels for each.
                """
                CREATE OR REPLACE FUNCTION tchat_commit_batch(
                    p_owner bigint, p_owner_name text, p_owner_hex text, p_lease_seconds integer,
                    p_channels text[], p_names text[], p_senders text[], p_types smallint[], p_bodies text[],
                    p_times bigint[]
                ) RETURNS TABLE (
                    r_channel text, r_first bigint, r_last bigint, r_leased boolean, r_holder bigint,
                    r_holder_name text
                ) LANGUAGE plpgsql AS $$
                DECLARE
                    v_leased text[];
                    v_keys text[];
                    v_firsts bigint[];
                    v_lasts bigint[];
                    v_payload text;
                BEGIN
                    INSERT INTO channels AS c (key, name, created_at)
                    SELECT DISTINCT ON (k COLLATE "C") k, n, now()
                    FROM unnest(p_channels, p_names) WITH ORDINALITY AS t(k, n, o)
                    ORDER BY k COLLATE "C", o
                    ON CONFLICT (key) DO UPDATE SET last_id = c.last_id;
                    WITH taken AS (
                        INSERT INTO channel_leases AS l (channel, owner_id, owner_name, expires_at)
                        SELECT k, p_owner, p_owner_name, now() + make_interval(secs => p_lease_seconds)
                        FROM unnest(p_channels) AS t(k) GROUP BY k ORDER BY k COLLATE "C"
                        ON CONFLICT (channel) DO UPDATE
                            SET owner_id = excluded.owner_id, owner_name = excluded.owner_name,
                                expires_at = excluded.expires_at
                            WHERE l.owner_id = excluded.owner_id OR l.expires_at < now()
                        RETURNING l.channel
                    )
                    SELECT coalesce(array_agg(taken.channel), '{}') INTO v_leased FROM taken;
                    WITH added AS (
                        SELECT k, count(*) AS n FROM unnest(p_channels) AS u(k) WHERE k = ANY(v_leased) GROUP BY k
                    ), moved AS (
                        UPDATE channels c SET last_id = c.last_id + a.n FROM added a WHERE c.key = a.k
                        RETURNING c.key, c.name, c.last_id - a.n AS before, c.last_id AS after
                    ), inserted AS (
                        INSERT INTO messages (channel, id, sent_at, sender, content_type, body)
                        SELECT m.k, mv.before + row_number() OVER (PARTITION BY m.k ORDER BY m.o),
                               to_timestamp(m.t / 1000.0), m.s, m.ty, m.b
                        FROM unnest(p_channels, p_senders, p_types, p_bodies, p_times) WITH ORDINALITY
                            AS m(k, s, ty, b, t, o)
                        JOIN moved mv ON mv.key = m.k
                    )
                    SELECT array_agg(key), array_agg(before + 1), array_agg(after),
                           p_owner_hex || ' ' || string_agg(name || ':' || after, ' ' ORDER BY key)
                    INTO v_keys, v_firsts, v_lasts, v_payload FROM moved;
                    IF v_payload IS NOT NULL THEN
                        IF octet_length(v_payload) > 7900 THEN
                            v_payload := p_owner_hex || ' *';
                        END IF;
                        PERFORM pg_notify('tchat_messages', v_payload);
                    END IF;
                    RETURN QUERY
                        SELECT t.k, t.f, t.l, true, p_owner, p_owner_name
                        FROM unnest(coalesce(v_keys, '{}'), coalesce(v_firsts, '{}'), coalesce(v_lasts, '{}'))
                            AS t(k, f, l)
                        UNION ALL
                        SELECT l.channel, 0::bigint, 0::bigint, false, l.owner_id, l.owner_name
                        FROM channel_leases l
                        WHERE l.channel = ANY(p_channels) AND NOT (l.channel = ANY(v_leased));
                END
                $$
                """,
            ]
        ),
        (
            8,
            [
                // A batch's work with less of the database's time, the same locks in the same order. The server
                // passes each channel once (`p_keys`, with its name and its number of messages) and each message's
                // channel and place among that channel's (`p_index`, `p_seq`), so ids need no window, sort or join.
                // Channel rows that all exist are locked (FOR NO KEY UPDATE, as the upsert did) without an upsert
                // that wrote a new version of each, and leases this server holds with over half their time left
                // (by the clock, not the transaction's start, which a wait for a lock may have made old) are not
                // renewed: in a busy channel, one renewal every 5 s instead of one per batch. About a fifth less time per
                // batch in PostgreSQL (pgbench, one client, 9 messages in 7 channels: 1.06 -> 0.85 ms).
                """
                CREATE FUNCTION tchat_commit_messages(
                    p_owner bigint, p_owner_name text, p_owner_hex text, p_lease_seconds integer,
                    p_keys text[], p_names text[], p_counts integer[],
                    p_index integer[], p_seq integer[], p_senders text[], p_types smallint[], p_bodies text[],
                    p_times bigint[]
                ) RETURNS TABLE (
                    r_channel text, r_first bigint, r_last bigint, r_leased boolean, r_holder bigint,
                    r_holder_name text
                )
                LANGUAGE plpgsql AS $$
                DECLARE
                    v_count integer := cardinality(p_keys);
                    v_leased text[];
                    v_before bigint[];
                    v_after bigint[];
                    v_spelled text[];
                    v_row record;
                    v_payload text;
                BEGIN
                    IF (SELECT count(*) FROM channels WHERE key = ANY(p_keys)) = v_count THEN
                        PERFORM 1 FROM channels WHERE key = ANY(p_keys) ORDER BY key COLLATE "C" FOR NO KEY UPDATE;
                    ELSE
                        INSERT INTO channels AS c (key, name, created_at)
                        SELECT k, n, now() FROM unnest(p_keys, p_names) AS t(k, n) ORDER BY k COLLATE "C"
                        ON CONFLICT (key) DO UPDATE SET last_id = c.last_id;
                    END IF;
                    IF (SELECT count(*) FROM channel_leases WHERE channel = ANY(p_keys) AND owner_id = p_owner
                            AND expires_at > clock_timestamp() + make_interval(secs => p_lease_seconds / 2.0)) = v_count
                    THEN
                        v_leased := p_keys;
                    ELSE
                        WITH taken AS (
                            INSERT INTO channel_leases AS l (channel, owner_id, owner_name, expires_at)
                            SELECT k, p_owner, p_owner_name, now() + make_interval(secs => p_lease_seconds)
                            FROM unnest(p_keys) AS t(k) ORDER BY k COLLATE "C"
                            ON CONFLICT (channel) DO UPDATE
                                SET owner_id = excluded.owner_id, owner_name = excluded.owner_name,
                                    expires_at = excluded.expires_at
                                WHERE l.owner_id = excluded.owner_id OR l.expires_at < now()
                            RETURNING l.channel
                        )
                        SELECT coalesce(array_agg(taken.channel), '{}') INTO v_leased FROM taken;
                    END IF;
                    FOR v_row IN
                        UPDATE channels c SET last_id = c.last_id + u.n
                        FROM unnest(p_keys, p_counts) WITH ORDINALITY AS u(k, n, i)
                        WHERE c.key = u.k AND u.k = ANY(v_leased)
                        RETURNING u.i, c.name, c.last_id - u.n AS before, c.last_id AS after
                    LOOP
                        v_before[v_row.i] := v_row.before;
                        v_after[v_row.i] := v_row.after;
                        v_spelled[v_row.i] := v_row.name;
                    END LOOP;
                    INSERT INTO messages (channel, id, sent_at, sender, content_type, body)
                    SELECT p_keys[m.i], v_before[m.i] + m.q, to_timestamp(m.t / 1000.0), m.s, m.ty, m.b
                    FROM unnest(p_index, p_seq, p_senders, p_types, p_bodies, p_times) AS m(i, q, s, ty, b, t)
                    WHERE v_before[m.i] IS NOT NULL;
                    SELECT p_owner_hex || ' ' || string_agg(v_spelled[i] || ':' || v_after[i], ' ')
                    INTO v_payload FROM generate_subscripts(p_keys, 1) AS i WHERE v_after[i] IS NOT NULL;
                    IF v_payload IS NOT NULL THEN
                        IF octet_length(v_payload) > 7900 THEN
                            v_payload := p_owner_hex || ' *';
                        END IF;
                        PERFORM pg_notify('tchat_messages', v_payload);
                    END IF;
                    RETURN QUERY
                        SELECT p_keys[i], v_before[i] + 1, v_after[i], true, p_owner, p_owner_name
                        FROM generate_subscripts(p_keys, 1) AS i WHERE v_after[i] IS NOT NULL
                        UNION ALL
                        SELECT l.channel, 0::bigint, 0::bigint, false, l.owner_id, l.owner_name
                        FROM channel_leases l
                        WHERE l.channel = ANY(p_keys) AND NOT (l.channel = ANY(v_leased));
                END
                $$
                """
            ]
        ),
    ]

    public struct NewerSchema: Error, Equatable, CustomStringConvertible {
        public let found: Int
        public let supported: Int
        public var description: String {
            "the database's tchat schema is version \(found), newer than this tchatd's \(supported): "
                + "upgrade tchatd (a newer server migrated it; an older one must not write to it)"
        }
    }

    /// The lock every tchatd takes while migrating: a constant, "tchat" in ASCII.
    static let migrationLock: Int64 = 0x7463_6861_74

    /// Brings the database to `current`; returns the version it was at. Throws `NewerSchema` for a database a
    /// newer tchatd migrated.
    @discardableResult
    /// The identity `tchat_store` holds (schema 6), as servers compare it.
    static func identity(_ connection: PostgresConnection, logger: Logger) async throws -> String {
        guard let id = try await connection.all("SELECT id FROM tchat_store", logger: logger).first else {
            throw StoreProblem("the tchat_store table holds no identity")
        }
        return "postgres:" + (try id.decode(String.self))
    }

    public static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        do {
            return try await migrateInTransaction(connection, logger: logger)
        } catch let error as PostgresTransactionError {
            // The transaction was rolled back; what went wrong inside it is the news.
            throw error.closureError ?? error
        }
    }

    private static func migrateInTransaction(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.all("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            // A migration that waits for a table's lock (a long read of `messages`, say) holds up every server's
            // batches queued behind it: better to give up, and say why, than stall the network.
            try await connection.all("SET LOCAL lock_timeout = '3s'", logger: logger)
            try await connection.all(
                "CREATE TABLE IF NOT EXISTS tchat_schema (version integer NOT NULL)", logger: logger)
            var found = 0
            for row in try await connection.all("SELECT coalesce(max(version), 0) FROM tchat_schema", logger: logger) {
                found = try row.decode(Int.self)
            }
            guard found <= current else { throw NewerSchema(found: found, supported: current) }
            for migration in migrations where migration.version > found {
                for statement in migration.statements {
                    try await connection.all(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
            if found < current {
                try await connection.all("DELETE FROM tchat_schema", logger: logger)
                try await connection.all("INSERT INTO tchat_schema (version) VALUES (\(current))", logger: logger)
                logger.info("PostgreSQL schema migrated", metadata: ["from": "\(found)", "to": "\(current)"])
            }
            return found
        }
    }
}
