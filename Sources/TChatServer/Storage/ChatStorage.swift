package import TChatProtocol

/// A channel as storage found it at start-up.
package struct StoredChannel: Sendable {
    package var record: ChannelRecord
    /// 0 when the channel has no stored messages.
    package var firstID: UInt64
    package var lastID: UInt64
    /// The newest stored message's time, when there is one.
    package var lastTime: Timestamp?

    package init(record: ChannelRecord, firstID: UInt64, lastID: UInt64, lastTime: Timestamp? = nil) {
        self.record = record
        self.firstID = firstID
        self.lastID = lastID
        self.lastTime = lastTime
    }
}

/// Everything channels and clients keep beyond a restart, behind one seam: the JSON files of the data directory
/// (`HistoryStore`) by default, and a second backend (a database) without touching channels or connections.
///
/// The server's types call only this. A backend never blocks an event loop: `append`, `channelsChanged`,
/// `nicksChanged` and `logConnection` only queue, and `readMessages` and the loads are called on a thread pool (or
/// before the server accepts anyone).
package protocol ChatStorage: AnyObject, Sendable {
    /// Messages kept per channel; older ones are compacted away.
    var historyLimit: Int { get }

    // MARK: Start-up, before anyone connects

    /// Every channel, its name checked (`ChannelName`) and its storage name safe to use.
    func loadChannels() throws -> [StoredChannel]
    /// Stored histories no channel owns; new channels never take their names.
    func unclaimedFiles(claimed: Set<String>) throws -> [String]
    func loadNicks() throws -> [NickRecord]
    /// Starts writing. `files` holds each channel's stored id range; `snapshots` say what to persist when told
    /// that channels or nicks changed.
    func start(files: [String: StoreWriter.FileRange], snapshots: StoreWriter.Snapshots)

    // MARK: While serving

    /// Queues a numbered message for `file` (its channel's storage name); false when the backend can take no more
    /// now and the message must be refused. `receipt` hears once it is stored as `--fsync` asks, or that it failed,
    /// from any thread, possibly before this returns with the channel's lock held (reporting only counts down and
    /// posts the answer to a mailbox).
    func append(_ message: ChatMessage, file: String, receipt: DeliveryReceipt?) -> Bool
    /// Up to `limit` messages with ids below `before` (0: no bound) and above `after`, oldest first. Blocking.
    func readMessages(file: String, channel: String, before: UInt64, after: UInt64, limit: Int) throws -> [ChatMessage]
    /// A channel was made or its topic changed: the channel list is persisted soon.
    func channelsChanged()
    /// A nick's record changed: the nick list is persisted soon.
    func nicksChanged()
    /// Queues a finished connection for the connection log; false when it was dropped.
    func logConnection(_ record: ConnectionRecord) -> Bool

    /// Writes what is queued and closes.
    func shutdown() async

    /// Bytes queued for storage and how long the oldest has waited, for metrics.
    var backlog: (bytes: Int, lag: Duration) { get }

    /// A backend that numbers channel messages itself, committing them before anyone sees them (PostgreSQL); nil
    /// for one that stores what the server numbered (the files).
    var commitLog: (any CommitLog)? { get }

    /// Where accounts and server bans are kept: `accounts.json` in `directory` for the files, the database for a
    /// store that servers share (so every one of them knows every account, linked or not).
    func accountStorage(directory: String) throws -> any AccountStorage

    /// Which store this is, for linked servers to compare (SERVER_HELLO): empty for a server's own files, else the
    /// shared database's identity. Servers on different stores never link.
    var identity: String { get }
}

extension ChatStorage {
    package var commitLog: (any CommitLog)? { nil }

    package func accountStorage(directory: String) throws -> any AccountStorage { AccountFile(directory: directory) }

    package var identity: String { "" }
}

/// The JSON files: each call goes to the writer thread's queue.
extension HistoryStore: ChatStorage {
    func append(_ message: ChatMessage, file: String, receipt: DeliveryReceipt?) -> Bool {
        writer.enqueue(.message(file: file, message, ack: receipt))
    }

    func channelsChanged() { writer.markChannelsChanged() }

    func nicksChanged() { writer.markNicksChanged() }

    func logConnection(_ record: ConnectionRecord) -> Bool { writer.enqueue(.connection(record)) }

    var backlog: (bytes: Int, lag: Duration) { writer.backlog }
}
