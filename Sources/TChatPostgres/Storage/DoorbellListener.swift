import Logging
import PostgresNIO
import TChatServer

/// Listens for the NOTIFY every committed batch sends (`MessageBatch.doorbell`) and tells the server which channels
/// another server has moved on, so it reads what it lacks from the database: the path that keeps servers in step
/// when a link is down, and repairs whatever a link push missed.
///
/// PostgreSQL drops notices for a listener that is not connected, and a connection can die without a word (a
/// firewall's idle timeout), so besides each notice the listener looks at every channel's last id when it
/// (re)connects and every `sweepInterval`: a missed notice costs a delay of at most that, never a message.
struct DoorbellListener: Sendable {
    let log: PostgresCommitLog

    static let sweepInterval: Duration = .seconds(10)

    /// Runs until cancelled.
    func run(_ grown: @escaping @Sendable (UInt64, [(name: String, lastID: UInt64)]) -> Void) async {
        let sweeping = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.sweepInterval)
                if let channels = try? await withDeadline(seconds: 10, { try await log.everyChannel() }) {
                    grown(0, channels)
                }
            }
        }
        defer { sweeping.cancel() }
        while !Task.isCancelled {
            do {
                try await log.client.withConnection { connection in
                    try await connection.listen(on: MessageBatch.doorbell) { notifications in
                        grown(0, try await log.everyChannel())
                        for try await notification in notifications {
                            handle(notification.payload, grown)
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                log.logger.warning(
                    "not listening for other servers' messages; trying again",
                    metadata: ["error": "\(PostgresStorage.describe(PostgresCommitLog.unwrap(error)))"])
                await log.check()
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func handle(
        _ payload: String, _ grown: @escaping @Sendable (UInt64, [(name: String, lastID: UInt64)]) -> Void
    ) {
        // Our own batch's (every batch rings every listener, ours too): nothing to read, nor to parse.
        if payload.hasPrefix(log.serverHex + " ") { return }
        guard let (server, channels) = MessageBatch.parseDoorbell(payload) else {
            log.logger.warning("a doorbell no tchatd sends is ignored", metadata: ["payload": "\(payload.prefix(100))"])
            return
        }
        guard server != log.serverID else { return }
        if let channels {
            grown(server, channels)
        } else {
            // Too many channels to name: look at all of them, but name no owner (`server` 0) for any.
            let log = self.log
            Task {
                if let all = try? await withDeadline(seconds: 10, { try await log.everyChannel() }) { grown(0, all) }
            }
        }
    }
}
