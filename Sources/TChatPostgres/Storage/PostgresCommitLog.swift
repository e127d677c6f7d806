import DequeModule
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization
import TChatProtocol
import TChatServer

/// Numbers and commits channel messages in PostgreSQL, one batch (`MessageBatch`) at a time, and hands each
/// committed batch to the server for delivery: nobody sees a message, and no sender hears OK, before its COMMIT.
///
/// Messages wait in a bounded queue while a batch is written, so the busier the server, the bigger the next batch
/// and the fewer commits (group commit, as `synchronous_commit` makes each one wait for the disk). A batch also
/// starts no sooner than `interval` after the one before: every commit costs the database, its disk and every
/// listening server (the doorbell) about as much whatever it carries, so a busy server commits fewer, fuller
/// batches, at the price of at most `interval` more waiting for a message. A server that commits less often than
/// that never waits, and nor does a full batch.
///
/// A database that cannot be reached fails the batch (nothing is acknowledged) and makes new messages be refused at
/// once with a retryable error until a probe reaches it again.
///
/// Batches are written on a connection of the log's own, and everything about a batch (taking it from the queue,
/// its statements, their answers, the hand-over for delivery, starting the next) runs on that connection's event
/// loop, with no task in between: a message's way from SEND to OK crosses as few threads as it can, which on a
/// machine shared with the database is most of its latency.
final class PostgresCommitLog: CommitLog {
    private struct State {
        var queue: Deque<MessageSubmission> = []
        var queuedBytes = 0
        var oldestSince: ContinuousClock.Instant?
        var reachable = true
        var probing = false
        var closing = false
        /// A batch is being written (or the next is about to be taken): whoever queues a message while it is
        /// false starts the writing.
        var writing = false
        var drained: EventLoopPromise<Void>?
        var events: CommitLogEvents?
        var listening: Task<Void, Never>?
    }

    /// Messages per transaction at most, and their bytes: a bigger batch would hold its channels' row locks longer.
    static let maxBatchCount = 4_096
    static let maxBatchBytes = 4 << 20
    /// How long one batch may take, once its connection is open (opening one has a timeout of its own, 5 s),
    /// before it is given up and the database taken as unreachable.
    static let commitDeadline = 5.0
    /// An idle writer connection is asked `SELECT 1` this often: a connection a firewall or NAT dropped silently
    /// would otherwise hold the next batch for the whole deadline.
    static let keepAliveInterval: TimeAmount = .seconds(30)

    private let state = Mutex(State())
    let client: PostgresClient
    let serverID: UInt64
    /// How the doorbell names this server.
    let serverHex: String
    private let serverName: String
    private let maxQueuedBytes: Int
    let logger: Logger
    /// Where batches are written, and the connection they are written on (made when the first batch needs it,
    /// and again after one was lost or given up on).
    private let loop: any EventLoop
    private let connecting: PostgresConnection.Configuration
    private let writer: NIOLoopBoundBox<PostgresConnection?>
    /// When the writer last sent anything, for the keep-alive.
    private let lastUsed: NIOLoopBoundBox<NIODeadline>
    private let keepingAlive: NIOLoopBoundBox<RepeatedTask?>
    /// The least time from one batch's start to the next's, and when the last one started.
    private let interval: TimeAmount
    private let lastStarted: NIOLoopBoundBox<NIODeadline>

    init(
        client: PostgresClient, connection: PostgresConnection.Configuration, serverID: UInt64, serverName: String,
        interval: Duration = .zero, maxQueuedBytes: Int = 64 << 20, logger: Logger
    ) {
        self.client = client
        self.serverID = serverID
        serverHex = String(serverID, radix: 16)
        self.serverName = serverName
        self.maxQueuedBytes = maxQueuedBytes
        self.logger = logger
        connecting = connection
        loop = MultiThreadedEventLoopGroup.singleton.next()
        writer = NIOLoopBoundBox.makeEmptyBox(valueType: PostgresConnection.self, eventLoop: loop)
        lastUsed = NIOLoopBoundBox.makeBoxSendingValue(NIODeadline.now(), as: NIODeadline.self, eventLoop: loop)
        keepingAlive = NIOLoopBoundBox.makeEmptyBox(valueType: RepeatedTask.self, eventLoop: loop)
        self.interval = TimeAmount(interval)
        lastStarted = NIOLoopBoundBox.makeBoxSendingValue(
            NIODeadline.uptimeNanoseconds(0), as: NIODeadline.self, eventLoop: loop)
    }

    func submit(_ submission: MessageSubmission) -> Bool {
        let (taken, start) = state.withLock { state in
            guard !state.closing, state.reachable, state.queuedBytes + submission.size <= maxQueuedBytes else {
                return (false, false)
            }
            state.queue.append(submission)
            state.queuedBytes += submission.size
            if state.oldestSince == nil { state.oldestSince = .now }
            defer { state.writing = true }
            return (true, !state.writing)
        }
        if start { loop.execute { self.writeNext() } }
        return taken
    }

    func start(_ events: CommitLogEvents) {
        state.withLock { $0.events = events }
        let listener = DoorbellListener(log: self)
        let listening = Task { await listener.run(events.grown) }
        state.withLock { $0.listening = listening }
        let interval = Self.keepAliveInterval
        loop.execute {
            self.keepingAlive.value = self.loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                self.keepAlive()
            }
        }
    }

    /// Asks an idle writer connection `SELECT 1`, within the commit deadline; one that does not answer is closed,
    /// and the next batch opens another. On `loop`.
    private func keepAlive() {
        guard let connection = writer.value, !connection.isClosed,
            NIODeadline.now() - lastUsed.value >= Self.keepAliveInterval,
            !state.withLock({ $0.writing })
        else { return }
        lastUsed.value = .now()
        let writer = self.writer
        let ping: EventLoopFuture<PostgresQueryResult> = connection.query("SELECT 1", logger: logger)
        let timeout = loop.scheduleTask(in: .milliseconds(Int64(Self.commitDeadline * 1000))) {
            connection.close().whenComplete { _ in }
        }
        ping.whenComplete { result in
            timeout.cancel()
            if case .failure = result, writer.value === connection {
                writer.value = nil
                connection.close().whenComplete { _ in }
            }
        }
    }

    /// Bytes waiting and how long the oldest has waited.
    var backlog: (bytes: Int, lag: Duration) {
        state.withLock { state in
            (state.queuedBytes, state.oldestSince.map { ContinuousClock.now - $0 } ?? .zero)
        }
    }

    /// Whether the last batch (or probe) reached the database.
    var isReachable: Bool { state.withLock { $0.reachable } }

    /// Commits what is queued, takes no more, and returns once the last batch is done.
    func close() async {
        let drained = loop.makePromise(of: Void.self)
        let (listening, writing) = state.withLock { state in
            state.closing = true
            if state.writing { state.drained = drained }
            return (state.listening, state.writing)
        }
        listening?.cancel()
        if !writing { drained.succeed() }
        try? await drained.futureResult.get()
        let writer = self.writer
        let keepingAlive = self.keepingAlive
        let connection = try? await loop.submit {
            keepingAlive.value?.cancel()
            return writer.value
        }.get()
        try? await connection?.close()
    }

    /// Takes the next batch and writes it, then the next, until the queue is empty; on `loop`.
    private func writeNext() {
        // A full batch waiting goes at once: pacing is for making batches fuller, and that one is as full as a
        // batch gets.
        let due = lastStarted.value + interval
        if due > NIODeadline.now(),
            !state.withLock({ $0.queue.count >= Self.maxBatchCount || $0.queuedBytes >= Self.maxBatchBytes })
        {
            loop.scheduleTask(deadline: due) { self.writeNext() }
            return
        }
        let (batch, drained) = state.withLock { state -> ([MessageSubmission]?, EventLoopPromise<Void>?) in
            if let batch = take(&state) { return (batch, nil) }
            state.writing = false
            defer { state.drained = nil }
            return (nil, state.drained)
        }
        guard let batch else {
            drained?.succeed()
            return
        }
        lastStarted.value = .now()
        commit(batch).whenComplete { _ in self.writeNext() }
    }

    private func take(_ state: inout State) -> [MessageSubmission]? {
        guard !state.queue.isEmpty else { return nil }
        var batch: [MessageSubmission] = []
        var bytes = 0
        while let next = state.queue.first, batch.count < Self.maxBatchCount,
            batch.isEmpty || bytes + next.size <= Self.maxBatchBytes
        {
            state.queue.removeFirst()
            bytes += next.size
            batch.append(next)
        }
        state.queuedBytes -= bytes
        state.oldestSince = state.queue.isEmpty ? nil : .now
        return batch
    }

    /// The writing connection, made if there is none (within `connecting`'s connect timeout).
    private func connection() -> EventLoopFuture<PostgresConnection> {
        if let connection = writer.value, !connection.isClosed { return loop.makeSucceededFuture(connection) }
        let writer = self.writer
        return PostgresConnection.connect(on: loop, configuration: connecting, id: 1, logger: logger).map {
            connection in
            writer.value = connection
            return connection
        }
    }

    /// Writes one batch within `commitDeadline` (past it, the connection is closed, which ends what it was doing),
    /// then delivers or refuses its messages; the future never fails.
    private func commit(_ submissions: [MessageSubmission]) -> EventLoopFuture<Void> {
        let logger = self.logger
        let loop = self.loop
        let batch = MessageBatch(submissions: submissions, serverID: serverID, serverName: serverName)
        let started = NIODeadline.now()
        let late = NIOLoopBoundBox(false, eventLoop: loop)
        lastUsed.value = .now()
        return connection().flatMap { connection in
            let deadline = loop.scheduleTask(in: .milliseconds(Int64(Self.commitDeadline * 1000))) {
                late.value = true
                connection.close().whenComplete { _ in }
            }
            return batch.commit(on: connection, logger: logger).always { _ in deadline.cancel() }
        }.map { outcome in
            logger.debug(
                "batch committed",
                metadata: [
                    "messages": "\(outcome.committed.count)",
                    "took": "\(Double((NIODeadline.now() - started).nanoseconds) / 1e9) seconds",
                ])
            self.settle(outcome)
        }.recover { error in
            let error: any Error = late.value ? DeadlineExceeded(seconds: Self.commitDeadline) : error
            if (error as? PSQLError)?.code != .server, let connection = self.writer.value {
                // In no known state: the next batch starts on a new one.
                self.writer.value = nil
                connection.close().whenComplete { _ in }
            }
            self.fail(submissions, because: error)
        }
    }

    /// Delivers what a batch committed and answers the rest.
    private func settle(_ outcome: MessageBatch) {
        for submission in outcome.unstorable {
            submission.fail(
                ProtocolError(
                    .invalidArgument, "this server keeps messages in PostgreSQL, which stores no NUL character"))
        }
        let events = state.withLock { $0.events }
        for (submission, owner, name) in outcome.heldElsewhere {
            events?.heldElsewhere(submission, owner, name)
        }
        for (submission, stored) in outcome.duplicates { events?.duplicate(submission, stored) }
        for submission in outcome.keyReused {
            // A forwarded one goes unanswered: its server tells its client "may or may not" after its patience.
            logger.notice(
                "a message key used for another message was refused",
                metadata: ["channel": "\(submission.channel.name)", "from": "\(submission.from)"])
            submission.fail(
                ProtocolError(
                    .invalidArgument,
                    "you sent another message with the key \(submission.key ?? ""): not sent (a resend must be the same)"
                ))
        }
        if !outcome.committed.isEmpty { events?.delivered(outcome.committed) }
    }
    /// Nothing of the batch is acknowledged. A refusal by the database itself (a constraint, the fence) leaves it
    /// reachable; anything else (a lost connection, no answer in time) makes new messages be refused until a
    /// probe reaches it again.
    private func fail(_ submissions: [MessageSubmission], because error: any Error) {
        let refusedByServer = (error as? PSQLError)?.code == .server
        let text: String
        if error is DeadlineExceeded {
            text = "the database did not answer in time; the message may or may not have been stored"
        } else if error is CommitOutcomeUnknown {
            text =
                "the connection to the database failed during the commit; the message may or may not have been stored"
        } else if refusedByServer {
            text = "the database refused the message; not stored, try again"
        } else {
            text = "the database cannot be reached; not stored, try again"
        }
        logger.error(
            "a batch of messages was not committed",
            metadata: ["messages": "\(submissions.count)", "error": "\(String(reflecting: error))"])
        let refusal = ProtocolError(.storageFailure, text)
        for submission in submissions { submission.fail(refusal) }
        guard !refusedByServer else { return }
        lost(refusing: refusal)
    }

    /// Asks the database whether it answers (the doorbell's connection was lost: the database may be gone, or only
    /// that connection); takes it as unreachable when it does not answer within 2 s, so that this server stops
    /// taking messages and clients (`NetworkRouter.watchStore`) although nobody was sending.
    func check() async {
        guard isReachable else { return }
        let client = self.client
        let logger = self.logger
        do {
            _ = try await withDeadline(seconds: 2) { try await client.all("SELECT 1", logger: logger) }
        } catch {
            logger.error(
                "the database does not answer", metadata: ["error": "\(PostgresStorage.describe(Self.unwrap(error)))"])
            lost(refusing: ProtocolError(.storageFailure, "the database cannot be reached; not stored, try again"))
        }
    }

    /// The database cannot be reached: what waits is refused with `refusal`, new messages are refused at once,
    /// and a probe looks for it every second.
    private func lost(refusing refusal: ProtocolError) {
        let queued: [MessageSubmission] = state.withLock { state in
            state.reachable = false
            let queued = Array(state.queue)
            state.queue.removeAll()
            state.queuedBytes = 0
            state.oldestSince = nil
            return queued
        }
        for submission in queued { submission.fail(refusal) }
        startProbing()
    }

    /// Asks the database every second until it answers, then takes messages again.
    private func startProbing() {
        let start = state.withLock { state in
            defer { state.probing = true }
            return !state.probing && !state.closing
        }
        guard start else { return }
        let client = self.client
        Task { [self] in
            while !state.withLock({ $0.closing }) {
                try? await Task.sleep(for: .seconds(1))
                do {
                    _ = try await withDeadline(seconds: 2) { try await client.all("SELECT 1", logger: self.logger) }
                    break
                } catch {
                    continue
                }
            }
            let events = state.withLock { state in
                state.reachable = true
                state.probing = false
                return state.events
            }
            logger.notice("the database is reachable again: messages are taken")
            // A batch given up on may have been committed after all: whatever the store holds that this server
            // has not delivered is caught up, as for another server's messages.
            if let events, let channels = try? await withDeadline(seconds: 10, { try await self.everyChannel() }) {
                events.grown(0, channels)
            }
        }
    }

    /// Every channel with messages, and its last id.
    func everyChannel() async throws -> [(name: String, lastID: UInt64)] {
        var channels: [(name: String, lastID: UInt64)] = []
        for row in try await client.all("SELECT name, last_id FROM channels WHERE last_id > 0", logger: logger) {
            let (name, last) = try row.decode((String, Int64).self)
            channels.append((name, UInt64(max(last, 0))))
        }
        return channels
    }

    /// postgres-nio wraps what failed inside a transaction; the cause is the news.
    static func unwrap(_ error: any Error) -> any Error {
        if let error = error as? PostgresTransactionError {
            return error.closureError ?? error.beginError ?? error.commitError ?? error
        }
        return error
    }
}
