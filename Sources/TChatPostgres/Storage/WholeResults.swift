import Logging
import NIOCore
import PostgresNIO

/// Every query reads its whole result as it arrives, never a row at a time.
///
/// postgres-nio 1.33.2 stops the process (a precondition in `RowStreamStateMachine.channelReadComplete`) when the
/// server closes a connection while a result streamed to an async sequence is held back waiting for its reader: a
/// PostgreSQL stopped mid-query killed tchatd in about one run in three. A result collected whole asks for more as
/// soon as rows arrive, so no read is ever held back. Our results are small (a batch's rows, a page of history).
extension PostgresConnection {
    @discardableResult
    func all(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        let result: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return try await result.get().rows
    }
}

extension PostgresClient {
    @discardableResult
    func all(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await withConnection { connection in try await connection.all(query, logger: logger) }
    }
}
