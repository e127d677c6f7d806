import DequeModule
import Logging
import PostgresNIO
import Synchronization
import TChatProtocol
import TChatServer

/// Numbers and commits channel messages in PostgreSQL, one batch (`MessageBatch`) at a time, and hands each
/// committed batch to the server for delivery: nobody sees a message, and no sender hears OK, before its COMMIT.
///
/// Messages wait in a bounded queue while a batch is written, so the busier the server, the bigger the next batch
/// and the fewer commits (group commit, as `synchronous_commit` makes each one wait for the disk). A database that
/// cannot be reached fails the batch (nothing is acknowledged) and makes new messages be refused at once with a
/// retryable error until a probe reaches it again.
final class PostgresCommitLog: CommitLog {
    private struct State {
        var queue: Deque<MessageSubmission> = []
        var queuedBytes = 0
        var oldestSince: ContinuousClock.Instant?
        var reachable = true
        var probing = false
        var closing = false
        var events: CommitLogEvents?
        var task: Task<Void, Never>?
        var listening: Task<Void, Never>?
    }

    /// Messages per transaction at most, and their bytes: a bigger batch would hold its channels' row locks longer.
    static let maxBatchCount = 4_096
    static let maxBatchBytes = 4 << 20
    /// How long one batch may take before it is given up and the database taken as unreachable.
    static let commitDeadline = 5.0

    private let state = Mutex(State())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    let client: PostgresClient
    let serverID: UInt64
    private let serverName: String
    private let maxQueuedBytes: Int
    let logger: Logger

    init(client: PostgresClient, serverID: UInt64, serverName: String, maxQueuedBytes: Int = 64 << 20, logger: Logger) {
        self.client = client
        self.serverID = serverID
        self.serverName = serverName
        self.maxQueuedBytes = maxQueuedBytes
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func submit(_ submission: MessageSubmission) -> Bool {
        let taken = state.withLock { state in
            guard !state.closing, state.reachable, state.queuedBytes + submission.size <= maxQueuedBytes else {
                return false
            }
            state.queue.append(submission)
            state.queuedBytes += submission.size
            if state.oldestSince == nil { state.oldestSince = .now }
            return true
        }
        if taken { wake.yield() }
        return taken
    }

    func start(_ events: CommitLogEvents) {
        state.withLock { $0.events = events }
        let task = Task { [self] in await run() }
        let listener = DoorbellListener(log: self)
        let listening = Task { await listener.run(events.grown) }
        state.withLock {
            $0.task = task
            $0.listening = listening
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
        let (task, listening) = state.withLock { state in
            state.closing = true
            return (state.task, state.listening)
        }
        listening?.cancel()
        wake.finish()
        await task?.value
    }

    private func run() async {
        for await _ in wakes {
            while let batch = take() { await commit(batch) }
        }
        while let batch = take() { await commit(batch) }
    }

    private func take() -> [MessageSubmission]? {
        state.withLock { state in
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
    }

    private func commit(_ submissions: [MessageSubmission]) async {
        let client = self.client
        let logger = self.logger
        let batch = MessageBatch(submissions: submissions, serverID: serverID, serverName: serverName)
        let outcome: MessageBatch
        let started = ContinuousClock.now
        do {
            outcome = try await withDeadline(seconds: Self.commitDeadline) {
                try await client.withTransaction(logger: logger) { connection in
                    var writing = batch
                    try await writing.write(on: connection, logger: logger)
                    return writing
                }
            }
        } catch {
            fail(submissions, because: Self.unwrap(error))
            return
        }
        logger.debug(
            "batch committed",
            metadata: ["messages": "\(outcome.committed.count)", "took": "\(ContinuousClock.now - started)"])
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
