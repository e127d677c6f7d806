import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import TChatProtocol
import Testing

@testable import TChatServer

/// A second backend, kept in memory: what a database backend would implement.
final class MemoryStorage: ChatStorage {
    private struct State {
        var files: [String: [ChatMessage]] = [:]
        var channelsChanged = 0
        var nicksChanged = 0
        var connections: [ConnectionRecord] = []
    }

    private let state = Mutex(State())
    let historyLimit: Int

    init(historyLimit: Int = 1_000, files: [String: [ChatMessage]] = [:]) {
        self.historyLimit = historyLimit
        state.withLock { $0.files = files }
    }

    func loadChannels() throws -> [StoredChannel] { [] }
    func unclaimedFiles(claimed: Set<String>) throws -> [String] { [] }
    func loadNicks() throws -> [NickRecord] { [] }
    func start(files: [String: StoreWriter.FileRange], snapshots: StoreWriter.Snapshots) {}

    func append(_ message: ChatMessage, file: String, receipt: DeliveryReceipt?) -> Bool {
        state.withLock { $0.files[file, default: []].append(message) }
        receipt?.report()
        return true
    }

    func readMessages(file: String, channel: String, before: UInt64, after: UInt64, limit: Int) throws -> [ChatMessage]
    {
        let stored = state.withLock { $0.files[file] ?? [] }
        let wanted = stored.filter { $0.id > after && (before == 0 || $0.id < before) }
        return Array(wanted.suffix(limit))
    }

    func channelsChanged() { state.withLock { $0.channelsChanged += 1 } }
    func nicksChanged() { state.withLock { $0.nicksChanged += 1 } }

    func logConnection(_ record: ConnectionRecord) -> Bool {
        state.withLock { $0.connections.append(record) }
        return true
    }

    var backlog: (bytes: Int, lag: Duration) { (0, .zero) }

    func shutdown() async {}

    var stored: [String: [ChatMessage]] { state.withLock { $0.files } }
    var changes: (channels: Int, nicks: Int, connections: Int) {
        state.withLock { ($0.channelsChanged, $0.nicksChanged, $0.connections.count) }
    }
}

/// Channels and clients reach storage only through `ChatStorage`: another backend plugs in unchanged.
@Suite struct StorageSeamTests {
    @Test func channelsAndClientsRunOnASecondBackend() throws {
        // Three messages stored before the start, in memory nowhere yet.
        let old = (1...3).map { ChatMessage(channel: "#db", id: $0, time: .now(), from: "bob", body: .text("o\($0)")) }
        let storage = MemoryStorage(files: ["db.jsonl": old])
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { try? pool.syncShutdownGracefully() }
        let record = ChannelRecord(name: "#db", file: "db.jsonl", created: "", topic: "", topicBy: "", topicTime: "")
        let channels = try ChannelManager(
            store: storage, threadPool: pool, loaded: [StoredChannel(record: record, firstID: 1, lastID: 3)],
            maxChannelsPerClient: 10, logger: TestServer.quietLogger)
        let clients = ClientManager(store: storage, known: [], serverName: "unit", logger: TestServer.quietLogger)
        let name = try ChannelName(validating: "#db")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        for index in 4...5 {
            let acked = loop.makePromise(of: Void.self)
            _ = try channels.sequence(
                channel: name, from: "alice", body: .text("m\(index)"), origin: 1, seq: 0, ack: .promise(acked))
            try acked.futureResult.wait()
        }
        #expect(storage.stored["db.jsonl"]?.map(\.body.text) == ["o1", "o2", "o3", "m4", "m5"])
        // Older than what memory holds: read from the backend, then joined with memory.
        let page = try channels.history(channel: name, before: 0, limit: 10, on: loop).wait()
        #expect(page.map(\.id) == [1, 2, 3, 4, 5])

        let session = ClientSession(
            id: 1, channel: EmbeddedChannel(), address: "127.0.0.1:1", connectedAt: .now(),
            hello: Hello(nick: "alice", clientName: "unit", clientVersion: "1", processID: 1, host: "h"))
        _ = try clients.admit(session, nick: Nick(validating: "alice"))
        clients.remove(session, reason: "bye")
        let changes = storage.changes
        #expect(changes.channels == 0 && changes.nicks == 2 && changes.connections == 1)
    }
}
