import Logging
import NIOCore
import NIOPosix
import TChatProtocol

/// The history writer driven the way channels drive it, for `tchat-bench history`; not part of the server's API.
///
/// It goes through the same `HistoryStore` and `StoreWriter` a running server uses, acknowledgements included,
/// so what it measures is what a client waiting for its OK would see, minus the network.
@_spi(Benchmarks)
public enum StoreBenchmark {
    /// Appends `messages` messages of `size` bytes to `channels` channels in `directory`, at most `window`
    /// unacknowledged at once (a server with that many clients each waiting for its OK), and returns the seconds
    /// from the first message to the last acknowledgement. The directory is left as a server would leave it.
    public static func append(
        directory: String, policy: FsyncPolicy, messages: Int, channels: Int, size: Int, window: Int,
        historyLimit: Int
    ) async throws -> Double {
        let logger = Logger(label: "tchat-bench")
        let store = try HistoryStore(directory: directory, policy: policy, historyLimit: historyLimit, logger: logger)
        let now = Timestamp.now()
        let records = (0..<channels).map { index in
            let name = try! ChannelName(validating: "#bench\(index)")
            return ChannelRecord(
                name: name.name, file: ChannelFileName.make(for: name), created: now.iso8601, topic: "", topicBy: "",
                topicTime: "")
        }
        store.start(
            files: [:],
            snapshots: StoreWriter.Snapshots(channels: { ChannelsFile(version: 1, channels: records, journal: nil) }))
        store.writer.markChannelsChanged()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let body = MessageBody(.text, String(repeating: "x", count: size))
        let finished = loop.makePromise(of: Double.self)
        loop.execute {
            let driver = AppendDriver(
                store: store, records: records, body: body, total: messages, window: window, loop: loop,
                finished: finished)
            driver.fill()
        }
        let seconds = try await finished.futureResult.get()
        await store.shutdown()
        try await group.shutdownGracefully()
        return seconds
    }
}

/// Keeps the writer's queue topped up from one event loop, as connection handlers would.
private final class AppendDriver {
    let store: HistoryStore
    let records: [ChannelRecord]
    let body: MessageBody
    let total: Int
    let window: Int
    let loop: any EventLoop
    let finished: EventLoopPromise<Double>
    var nextIDs: [UInt64]
    var sent = 0
    var acked = 0
    var failed = false
    let started = NIODeadline.now()

    init(
        store: HistoryStore, records: [ChannelRecord], body: MessageBody, total: Int, window: Int,
        loop: any EventLoop, finished: EventLoopPromise<Double>
    ) {
        self.store = store
        self.records = records
        self.body = body
        self.total = total
        self.window = window
        self.loop = loop
        self.finished = finished
        nextIDs = Array(repeating: 1, count: records.count)
    }

    /// Queues messages until the window is full; each acknowledgement tops it up again, in halves so the queue is
    /// not touched once per message.
    func fill() {
        let time = Timestamp.now()
        while sent < total && sent - acked < window {
            let channel = sent % records.count
            let message = ChatMessage(
                channel: records[channel].name, id: nextIDs[channel], time: time, from: "bench", body: body)
            nextIDs[channel] += 1
            let ack = loop.makePromise(of: Void.self)
            ack.futureResult.assumeIsolated().whenComplete { [self] result in
                acked += 1
                if case .failure(let error) = result, !failed {
                    failed = true
                    finished.fail(error)
                }
                if acked == total, !failed {
                    finished.succeed(Double((NIODeadline.now() - started).nanoseconds) / 1e9)
                } else if sent - acked <= window / 2 {
                    fill()
                }
            }
            guard
                store.writer.enqueue(
                    .message(file: records[channel].file, message, ack: DeliveryReceipt(parties: 1, promise: ack)))
            else {
                failed = true
                finished.fail(StorageError("the history writer refused a message (its queue is full)"))
                return
            }
            sent += 1
        }
    }
}
