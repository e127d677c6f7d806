package import Logging
import PostgresNIO
import Synchronization
package import TChatProtocol
package import TChatServer

/// `--store postgres://`: channels, topics, access, accounts and messages in PostgreSQL, messages numbered and
/// committed there before anyone sees them (`PostgresCommitLog`); the server's own nicks and connection log stay in
/// its data directory (`files`), since they are about this server's clients, not the network's.
package final class PostgresStorage: ChatStorage {
    private struct Metadata {
        var dirty = false
        var snapshots: StoreWriter.Snapshots?
        var task: Task<Void, Never>?
        var closing = false
    }

    package let historyLimit: Int
    private let files: any ChatStorage
    private let database: PostgresDatabase
    private let client: PostgresClient
    private let log: PostgresCommitLog
    private let metadata = Mutex(Metadata())
    private let metadataWakes: AsyncStream<Void>
    private let metadataWake: AsyncStream<Void>.Continuation
    private let logger: Logger

    /// How long a history read may wait for the database.
    static let readDeadline = 10.0

    /// Connects, migrates the schema (refusing a newer one) and is ready to load; blocking, on a thread pool.
    /// `commitInterval`: the least time between two batches' starts (`PostgresCommitLog`).
    package init(
        address: PostgresStoreAddress, password: String?, files: any ChatStorage, serverID: UInt64,
        serverName: String, commitInterval: Duration = .zero, logger: Logger
    ) throws {
        self.files = files
        self.historyLimit = files.historyLimit
        self.logger = logger
        database = try PostgresDatabase(address: address, password: password, logger: logger)
        client = database.client
        log = PostgresCommitLog(
            client: client, connection: database.single, serverID: serverID, serverName: serverName,
            interval: commitInterval, logger: logger)
        (metadataWakes, metadataWake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        logger.info("history kept in PostgreSQL", metadata: ["store": "\(address)"])
    }

    static func describe(_ error: any Error) -> String { PostgresDatabase.describe(error) }

    package var identity: String { database.identity }

    /// Accounts in the database, which every server on it shares; the first server to use it brings the accounts
    /// of its `accounts.json` along.
    package func accountStorage(directory: String) throws -> any AccountStorage {
        database.accounts(seed: AccountFile(directory: directory), logger: logger)
    }

    package var commitLog: (any CommitLog)? { log }

    // MARK: Start-up

    package func loadChannels() throws -> [StoredChannel] {
        let client = self.client
        let logger = self.logger
        return try BlockingWait.run {
            try await withDeadline(seconds: Self.readDeadline) { try await ChannelRows.load(client, logger: logger) }
        }
    }

    package func unclaimedFiles(claimed: Set<String>) throws -> [String] { [] }

    package func loadNicks() throws -> [NickRecord] { try files.loadNicks() }

    package func start(files ranges: [String: StoreWriter.FileRange], snapshots: StoreWriter.Snapshots) {
        files.start(
            files: [:],
            snapshots: StoreWriter.Snapshots(nicks: snapshots.nicks, nickChanges: snapshots.nickChanges))
        let task = Task { [self] in await writeChannels() }
        metadata.withLock {
            $0.snapshots = snapshots
            $0.task = task
        }
    }

    // MARK: While serving

    /// Committed before the server saw it (`commitLog`): stored already.
    package func append(_ message: ChatMessage, file: String, receipt: DeliveryReceipt?) -> Bool {
        receipt?.reportStored()
        return true
    }

    package func readMessages(
        file: String, channel: String, before: UInt64, after: UInt64, limit: Int
    ) throws -> [ChatMessage] {
        guard limit > 0, let name = try? ChannelName(validating: channel) else { return [] }
        let client = self.client
        let key = StoreKey.of(name)
        let upper = before == 0 ? Int64.max : Int64(clamping: before)
        let lower = Int64(clamping: after)
        let count = Int64(clamping: limit)
        let spelled = channel
        do {
            return try read(client: client, key: key, spelled: spelled, lower: lower, upper: upper, count: count)
        } catch {
            throw StoreProblem("cannot read \(spelled)'s history: \(Self.describe(PostgresCommitLog.unwrap(error)))")
        }
    }

    private func read(
        client: PostgresClient, key: String, spelled: String, lower: Int64, upper: Int64, count: Int64
    ) throws -> [ChatMessage] {
        let logger = self.logger
        return try BlockingWait.run {
            try await withDeadline(seconds: Self.readDeadline) {
                var found: [ChatMessage] = []
                let rows = try await client.all(
                    """
                    SELECT id, (extract(epoch FROM sent_at) * 1000)::bigint, sender, content_type, body FROM messages
                    WHERE channel = \(key) AND id > \(lower) AND id < \(upper) ORDER BY id DESC LIMIT \(count)
                    """, logger: logger)
                for row in rows {
                    let (id, time, sender, type, body) = try row.decode((Int64, Int64, String, Int16, String).self)
                    guard let contentType = ContentType(rawValue: UInt8(truncatingIfNeeded: type)) else {
                        throw StoreProblem("message \(id) of \(spelled) has an unknown content type \(type)")
                    }
                    found.append(
                        ChatMessage(
                            channel: spelled, id: UInt64(id), time: ChannelRows.time(time), from: sender,
                            body: MessageBody(contentType, body)))
                }
                return found.reversed()
            }
        }
    }

    package func channelsChanged() {
        metadata.withLock { $0.dirty = true }
        metadataWake.yield()
    }

    package func nicksChanged() { files.nicksChanged() }

    package func logConnection(_ record: ConnectionRecord) -> Bool { files.logConnection(record) }

    package var backlog: (bytes: Int, lag: Duration) {
        let own = log.backlog
        let local = files.backlog
        return (own.bytes + local.bytes, max(own.lag, local.lag))
    }

    /// Commits what is queued, writes the channels, gives up this server's leases (another server may number its
    /// channels at once) and closes.
    package func shutdown() async {
        await log.close()
        let task = metadata.withLock { state in
            state.closing = true
            return state.task
        }
        metadataWake.finish()
        await task?.value
        let client = self.client
        let logger = self.logger
        let owner = Int64(bitPattern: log.serverID)
        if log.isReachable {
            _ = try? await withDeadline(seconds: 5) {
                // Locked in key order, as batches lock them, so a batch and this never wait for each other.
                try await client.all(
                    """
                    DELETE FROM channel_leases WHERE channel IN (
                        SELECT channel FROM channel_leases WHERE owner_id = \(owner) ORDER BY channel COLLATE "C" FOR UPDATE)
                    """, logger: logger)
            }
        }
        await files.shutdown()
        await database.close()
    }

    /// Writes the channel rows after changes, a burst at a time; a failed write is tried again a second later.
    private func writeChannels() async {
        for await _ in metadataWakes {
            try? await Task.sleep(for: .milliseconds(200))
            await writeChannelsNow()
        }
        await writeChannelsNow()
    }

    private func writeChannelsNow() async {
        let snapshot: StoreWriter.Snapshots? = metadata.withLock { state in
            guard state.dirty else { return nil }
            state.dirty = false
            return state.snapshots
        }
        guard let records = snapshot?.channels()?.channels else { return }
        let client = self.client
        let logger = self.logger
        do {
            try await withDeadline(seconds: Self.readDeadline) {
                try await ChannelRows.save(records, client, logger: logger)
            }
        } catch {
            logger.error(
                "channels not written to the store; trying again",
                metadata: ["error": "\(Self.describe(PostgresCommitLog.unwrap(error)))"])
            let closing = metadata.withLock { state in
                state.dirty = true
                return state.closing
            }
            if !closing {
                try? await Task.sleep(for: .seconds(1))
                metadataWake.yield()
            }
        }
    }
}
