import Logging
import PostgresNIO
import TChatPostgres
import TChatTestSupport
import Testing

/// The schema against a real PostgreSQL of the test's own: migrated once, again harmlessly, and refused by an older
/// tchatd.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresSchemaTests {
    static let logger = Logger(label: "test")

    @Test func aFreshDatabaseIsMigratedOnceAndANewerOneIsRefused() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let connection = try await cluster.connect(database: "chat")
        #expect(try await PostgresSchema.migrate(connection, logger: Self.logger) == 0)
        #expect(try await PostgresSchema.migrate(connection, logger: Self.logger) == PostgresSchema.current)
        var tables: [String] = []
        for try await name in try await connection.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", logger: Self.logger
        ).decode(String.self) {
            tables.append(name)
        }
        #expect(
            tables == [
                "account_book", "accounts", "channel_leases", "channels", "messages", "tchat_schema", "tchat_store",
            ])
        // (channel, id) is the fence: a second row with one id is refused by the database itself.
        try await connection.query(
            "INSERT INTO channels (key, name, created_at) VALUES ('#ops', '#ops', now())", logger: Self.logger)
        let insert: PostgresQuery =
            "INSERT INTO messages (channel, id, sent_at, sender, content_type, body) VALUES ('#ops', 1, now(), 'ann', 0, 'hi')"
        try await connection.query(insert, logger: Self.logger)
        await #expect(throws: PSQLError.self) { try await connection.query(insert, logger: Self.logger) }
        // A newer tchatd migrated it: this one refuses, saying what to do.
        try await connection.query("UPDATE tchat_schema SET version = 99", logger: Self.logger)
        let refusal = await #expect(throws: PostgresSchema.NewerSchema.self) {
            try await PostgresSchema.migrate(connection, logger: Self.logger)
        }
        #expect(
            refusal?.description.contains(
                "version 99, newer than this tchatd's \(PostgresSchema.current): upgrade tchatd") == true)
        try await connection.close()
    }

    @Test func twoServersStartingTogetherMigrateOnce() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let first = try await cluster.connect(database: "chat")
        let second = try await cluster.connect(database: "chat")
        async let a = PostgresSchema.migrate(first, logger: Self.logger)
        async let b = PostgresSchema.migrate(second, logger: Self.logger)
        let found = try await [a, b].sorted()
        #expect(found == [0, PostgresSchema.current], "one migrated, the other found it done")
        try await first.close()
        try await second.close()
    }
}

@Suite struct PostgresStoreAddressTests {
    @Test func anAddressNamesUserHostPortDatabaseAndNeverAPassword() throws {
        let local = try PostgresStoreAddress(parsing: "postgres://tchat@127.0.0.1:5433/chat")
        #expect(local.user == "tchat" && local.host == "127.0.0.1" && local.port == 5433 && local.database == "chat")
        #expect(local.tls == .disable, "loopback: plaintext unless asked")
        let remote = try PostgresStoreAddress(parsing: "postgresql://tchat@db.example.net/chat")
        #expect(remote.port == 5432 && remote.tls == .require, "elsewhere: TLS unless asked otherwise")
        #expect(try PostgresStoreAddress(parsing: "postgres://u@[::1]:6000/d?sslmode=require").host == "::1")
        #expect(remote.description == "postgres://tchat@db.example.net:5432/chat?sslmode=require")
        for bad in [
            "mysql://u@h/d", "postgres://u:secret@h/d", "postgres://h/d", "postgres://u@h", "postgres://u@h:0/d",
            "postgres://u@h:x/d", "postgres://u@h/d?sslmode=maybe", "postgres://u@h/d?user=root",
        ] {
            #expect(throws: PostgresStoreAddress.Problem.self, "\(bad)") { try PostgresStoreAddress(parsing: bad) }
        }
        let secret = #expect(throws: PostgresStoreAddress.Problem.self) {
            try PostgresStoreAddress(parsing: "postgres://u:hunter2@h/d")
        }
        #expect(secret?.description.contains("hunter2") == false && secret?.description.contains("no password") == true)
    }
}
