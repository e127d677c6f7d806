package import Logging
import NIOSSL
package import PostgresNIO
package import TChatServer

/// A connection pool to the store, opened only once the schema is this build's: what the server's storage and
/// `tchatd account --store` both start from.
package final class PostgresDatabase: Sendable {
    package let client: PostgresClient
    package let address: PostgresStoreAddress
    /// `tchat_store`'s identity, which linked servers compare.
    package let identity: String
    /// For a connection of its own outside the pool (`PostgresCommitLog`'s writer), with the pool's limits.
    let single: PostgresConnection.Configuration
    private let runner: Task<Void, Never>

    /// The database ends what our deadlines gave up on (`withDeadline` cannot cancel a query postgres-nio has
    /// sent): no statement runs past 10 s, no lock is waited for past 5 s, no transaction sits idle past 15 s.
    static let sessionLimits = [
        ("statement_timeout", "10s"), ("lock_timeout", "5s"), ("idle_in_transaction_session_timeout", "15s"),
    ]

    /// A database dropped before `close` (a start-up that failed) stops its connections.
    deinit { runner.cancel() }

    /// Connects, migrates the schema (refusing a newer one) and starts the pool; blocking, on a thread pool or
    /// before the server accepts anyone.
    package init(address: PostgresStoreAddress, password: String?, logger: Logger) throws {
        self.address = address
        var configuration = PostgresClient.Configuration(
            host: address.host, port: address.port, username: address.user, password: password,
            database: address.database, tls: try Self.tls(address.tls))
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = Self.sessionLimits
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
        // One connection of its own for the migration, not the pool's: the pool tries again and again, and a wrong
        // password or a missing database must stop the start at once, saying so.
        var direct = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: password,
            database: address.database, tls: try Self.connectionTLS(address.tls))
        direct.options.connectTimeout = .seconds(10)
        var limited = direct
        limited.options.connectTimeout = .seconds(5)
        limited.options.additionalStartupParameters = Self.sessionLimits
        self.single = limited
        let single = direct
        do {
            identity = try BlockingWait.run {
                try await withDeadline(seconds: 30) {
                    let connection = try await PostgresConnection.connect(configuration: single, id: 0, logger: logger)
                    do {
                        _ = try await PostgresSchema.migrate(connection, logger: logger)
                        let identity = try await PostgresSchema.identity(connection, logger: logger)
                        try await connection.close()
                        return identity
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                }
            }
        } catch {
            runner.cancel()
            throw StoreProblem("cannot use the store \(address): \(Self.describe(PostgresCommitLog.unwrap(error)))")
        }
    }

    /// Stops the pool's connections.
    package func close() async {
        runner.cancel()
        await runner.value
    }

    /// As `close`, from a thread that may block (`tchatd account`).
    package func closeNow() {
        _ = try? BlockingWait.run { [self] in await close() }
    }

    /// The accounts in this database (see `PostgresAccounts`); `seed` is whose accounts it starts with when it has
    /// none yet.
    package func accounts(seed: AccountFile?, logger: Logger) -> any AccountStorage {
        PostgresAccounts(client: client, seed: seed, logger: logger)
    }

    /// What went wrong, for an operator: the server's own words when it said something (postgres-nio's
    /// description of its errors is a fixed placeholder, to keep queries' values out of logs).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        switch error.code {
        case .authMechanismRequiresPassword:
            return "the database asks for a password: give --store-password-file or TCHAT_STORE_PASSWORD"
        case .connectionError:
            return "cannot connect (is PostgreSQL running there, and listening on that address?)"
        case .sslUnsupported:
            return "the database does not speak TLS: add ?sslmode=disable only if the network between is trusted"
        default:
            return "\(error.code)"
        }
    }

    private static func connectionTLS(
        _ mode: PostgresStoreAddress.TLSMode
    ) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .require: return .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    private static func tls(_ mode: PostgresStoreAddress.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .require: return .require(.makeClientConfiguration())
        }
    }
}
