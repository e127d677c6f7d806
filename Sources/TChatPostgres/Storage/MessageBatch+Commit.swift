import Logging
import NIOCore
import PostgresNIO
import TChatServer

extension MessageBatch {
    /// Numbers, writes and commits the batch in one transaction on `connection`; called on the connection's event
    /// loop, where every step runs as a callback. postgres-nio sends each statement as soon as the one before it is
    /// answered, and a batch without keys hands it BEGIN, the call and COMMIT at once, so no thread is woken between
    /// them (on a busy machine each hop between threads waits for a core). The future fails if any of it failed:
    /// with the database's own error when it refused something (then nothing is stored), and with
    /// `CommitOutcomeUnknown` when the COMMIT had gone out before the failure (a lost connection, an answer that
    /// could not be read), as the batch may then be stored.
    func commit(on connection: PostgresConnection, logger: Logger) -> EventLoopFuture<MessageBatch> {
        let loop = connection.eventLoop
        // Whether COMMIT went out: until it has, a failure is followed by a ROLLBACK (a COMMIT after a failed
        // statement is one).
        let ending = NIOLoopBoundBox(false, eventLoop: loop)
        @Sendable func end() -> EventLoopFuture<PostgresQueryResult> {
            ending.value = true
            return connection.query("COMMIT", logger: logger)
        }
        let begin: EventLoopFuture<PostgresQueryResult> = connection.query("BEGIN", logger: logger)
        let sorted: EventLoopFuture<MessageBatch>
        if hasKeys {
            let stored: EventLoopFuture<PostgresQueryResult> = connection.query(storedResendsQuery, logger: logger)
            sorted = stored.flatMapThrowing { result in
                var batch = self
                batch.sortOutResends(stored: try batch.storedResends(from: result.rows))
                return batch
            }
        } else {
            sorted = loop.makeSucceededFuture(self)
        }
        let written = sorted.flatMap { batch -> EventLoopFuture<(MessageBatch, EventLoopFuture<PostgresQueryResult>)> in
            guard !batch.numbering.isEmpty else { return loop.makeSucceededFuture((batch, end())) }
            let call: EventLoopFuture<PostgresQueryResult> = connection.query(batch.numberingQuery, logger: logger)
            // Keys are written once the ids are known: then COMMIT follows that statement instead.
            let early = batch.hasKeys ? nil : end()
            let numbered = call.flatMapThrowing { result in
                var batch = batch
                try batch.number(from: result.rows)
                return batch
            }
            if let early { return numbered.map { ($0, early) } }
            return numbered.flatMap { batch in
                guard let keys = batch.keysQuery else { return loop.makeSucceededFuture((batch, end())) }
                let kept: EventLoopFuture<PostgresQueryResult> = connection.query(keys, logger: logger)
                return kept.map { _ in (batch, end()) }
            }
        }
        return written.flatMap { batch, commit in
            commit.flatMapThrowing { result in
                guard result.metadata.command == "COMMIT" else {
                    throw StoreProblem("the batch's transaction ended in \(result.metadata.command), not COMMIT")
                }
                return batch
            }
        }.flatMap { batch in
            begin.map { _ in batch }
        }.flatMapError { error in
            guard !ending.value else {
                let refused = (error as? PSQLError)?.code == .server || error is StoreProblem
                return loop.makeFailedFuture(refused ? error : CommitOutcomeUnknown(cause: error))
            }
            let undone = connection.query("ROLLBACK", logger: logger).map { _ in }.recover { _ in }
            return undone.flatMapThrowing { throw error }
        }
    }

}

/// A batch whose COMMIT was sent before something failed: it may or may not be stored, and a sender told "not
/// stored" would send it again.
struct CommitOutcomeUnknown: Error, CustomStringConvertible {
    let cause: any Error
    var description: String { "the commit's outcome is unknown: \(String(reflecting: cause))" }
}
