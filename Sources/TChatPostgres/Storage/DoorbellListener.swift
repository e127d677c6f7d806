import Logging
import PostgresNIO
import TChatServer

/// Listens for the NOTIFY every committed batch sends (`MessageBatch.doorbell`) and tells the server which channels
/// another server has moved on, so it reads what it lacks from the database: the path that keeps servers in step
/// when a link is down, and repairs whatever a link push missed.
///
/// PostgreSQL drops notices for a listener that is not connected, so every time the listener (re)connects it
/// first looks at every channel's last id: a restart, a lost connection or a database outage costs one read of
/// the channel list, never a message.
struct DoorbellListener: Sendable {
    let client: PostgresClient
    let serverID: UInt64
    let logger: Logger

    /// Runs until cancelled.
    func run(_ grown: @escaping @Sendable (UInt64, [(name: String, lastID: UInt64)]) -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: MessageBatch.doorbell) { notifications in
                        grown(0, try await everyChannel())
                        for try await notification in notifications {
                            guard let (server, channels) = MessageBatch.parseDoorbell(notification.payload) else {
                                logger.warning(
                                    "a doorbell no tchatd sends is ignored",
                                    metadata: ["payload": "\(notification.payload.prefix(100))"])
                                continue
                            }
                            guard server != serverID else { continue }
                            if let channels {
                                grown(server, channels)
                            } else {
                                grown(server, try await everyChannel())
                            }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "not listening for other servers' messages; trying again",
                    metadata: ["error": "\(PostgresCommitLog.unwrap(error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Every channel with messages, and its last id.
    private func everyChannel() async throws -> [(name: String, lastID: UInt64)] {
        var channels: [(name: String, lastID: UInt64)] = []
        for try await (name, last) in try await client.query(
            "SELECT name, last_id FROM channels WHERE last_id > 0", logger: logger
        ).decode((String, Int64).self) {
            channels.append((name, UInt64(max(last, 0))))
        }
        return channels
    }
}
