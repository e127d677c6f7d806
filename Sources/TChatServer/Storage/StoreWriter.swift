import Dispatch
import Foundation
import Logging
import NIOCore
import Synchronization
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one thread that writes the data directory, so no event loop ever waits for a disk.
///
/// Event loops hand it jobs through a bounded queue and go on. Each turn it takes every queued job, writes each
/// file's new lines with one `write`, fsyncs as the policy says, and only then acknowledges — so with
/// `--fsync always` one fsync commits a whole batch (group commit). It also keeps channel files within the history
/// limit and rewrites the small metadata files when they changed.
final class StoreWriter: Sendable {
    enum Job: Sendable {
        /// A channel message for `channels/<file>`; `ack` is told once the policy says it is stored.
        case message(file: String, ChatMessage, ack: DeliveryReceipt?)
        /// A finished connection for `clients.jsonl`.
        case connection(ConnectionRecord)
        /// Completes once every earlier job is written and synced (tests, shutdown).
        case barrier(EventLoopPromise<Void>)

        var cost: Int {
            switch self {
            case .message(_, let message, _): 128 + message.body.text.utf8.count + message.from.utf8.count
            case .connection: 256
            case .barrier: 0
            }
        }
    }

    /// What the writer knows of a channel file: its oldest and newest message ids, and about how many lines it has.
    struct FileRange: Sendable {
        var firstID: UInt64
        var lastID: UInt64
        /// Counted, not taken from the ids: ids have gaps (messages numbered but not stored on a full disk), and a
        /// count from ids would overstate the file.
        var lines: Int

        /// For a file whose ids run without gaps from `firstID` to `lastID`; an overestimate otherwise, corrected by
        /// the next compaction.
        init(firstID: UInt64, lastID: UInt64) {
            self.firstID = firstID
            self.lastID = lastID
            lines = lastID >= firstID && firstID > 0 ? Int(min(lastID - firstID + 1, UInt64(Int.max))) : 0
        }
    }

    private struct Queue {
        var jobs: [Job] = []
        var queuedBytes = 0
        var sleeping = false
        var channelsDirty = false
        var nicksDirty = false
        var started = false
        var closing = false
        var finished: CheckedContinuation<Void, Never>?
    }

    /// Sources of the metadata files' contents, asked only when the writer is about to write them, so a burst of
    /// changes costs one snapshot.
    struct Snapshots: Sendable {
        var channels: @Sendable () -> ChannelsFile? = { nil }
        var nicks: @Sendable () -> NicksFile? = { nil }
    }

    let directory: String
    let policy: FsyncPolicy
    let historyLimit: Int
    /// Queued bytes beyond which new messages are refused instead of queued without bound.
    let maxQueuedBytes: Int
    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    private let snapshots = Mutex(Snapshots())
    private let failing = Atomic<Bool>(false)
    private let logger: Logger

    init(directory: String, policy: FsyncPolicy, historyLimit: Int, maxQueuedBytes: Int = 64 << 20, logger: Logger) {
        self.directory = directory
        self.policy = policy
        self.historyLimit = historyLimit
        self.maxQueuedBytes = maxQueuedBytes
        self.logger = logger
    }

    /// Whether the last write failed (a full disk, say); cleared by the next write that succeeds.
    var isFailing: Bool { failing.load(ordering: .relaxed) }

    func setSnapshots(_ update: (inout Snapshots) -> Void) {
        snapshots.withLock { update(&$0) }
    }

    func start(files: [String: FileRange]) {
        queue.withLock { $0.started = true }
        let thread = Thread { [self] in
            var state = ThreadState(files: files)
            state.namedFiles = Set(files.keys)
            self.run(&state)
        }
        thread.name = "tchatd-store"
        thread.start()
    }

    /// Queues a job; false when the queue is full or closed (the caller answers with an error, never drops).
    @discardableResult
    func enqueue(_ job: Job) -> Bool {
        let wake: Bool? = queue.withLock { queue in
            guard !queue.closing, queue.queuedBytes <= maxQueuedBytes else { return nil }
            queue.jobs.append(job)
            queue.queuedBytes += job.cost
            defer { queue.sleeping = false }
            return queue.sleeping
        }
        guard let wake else { return false }
        if wake { wakeup.signal() }
        return true
    }

    func markChannelsChanged() { markDirty { $0.channelsDirty = true } }
    func markNicksChanged() { markDirty { $0.nicksDirty = true } }

    private func markDirty(_ mark: (inout Queue) -> Void) {
        let wake = queue.withLock { queue in
            mark(&queue)
            defer { queue.sleeping = false }
            return queue.sleeping
        }
        if wake { wakeup.signal() }
    }

    /// Writes and syncs everything queued, then stops the thread.
    func shutdown() async {
        await withCheckedContinuation { continuation in
            let wake: Bool? = queue.withLock { queue in
                queue.closing = true
                guard queue.started else { return nil }
                queue.finished = continuation
                defer { queue.sleeping = false }
                return queue.sleeping
            }
            switch wake {
            case nil: continuation.resume()  // never started: nothing to write
            case true?: wakeup.signal()
            case false?: break
            }
        }
    }

    // MARK: - The writer thread

    /// State only the writer thread touches.
    private struct ThreadState {
        struct OpenFile {
            var fd: Int32
            var path: String
        }
        var files: [String: FileRange]
        var open: [String: OpenFile] = [:]
        /// Least recently used first; bounds the number of descriptors kept open.
        var openOrder: [String] = []
        var unsynced: Set<String> = []
        var lastSync = ContinuousClock.now
        var lastSnapshot = ContinuousClock.now
        var pendingChannels = false
        var pendingNicks = false
        /// The history files the last `channels.json` written names (at first, those found at start-up).
        var namedFiles: Set<String> = []
        var lastChannelsWrite = ContinuousClock.now
    }

    static let maxOpenFiles = 256
    static let clientsFile = "clients.jsonl"

    private func run(_ state: inout ThreadState) {
        while true {
            let taken: (jobs: [Job], closing: Bool, finished: CheckedContinuation<Void, Never>?) = queue.withLock {
                queue in
                state.pendingChannels = state.pendingChannels || queue.channelsDirty
                state.pendingNicks = state.pendingNicks || queue.nicksDirty
                queue.channelsDirty = false
                queue.nicksDirty = false
                let jobs = queue.jobs
                queue.jobs = []
                queue.queuedBytes = 0
                if jobs.isEmpty && !queue.closing { queue.sleeping = true }
                return (jobs, queue.closing, queue.closing ? queue.finished : nil)
            }
            // A new channel is in channels.json before its first line is written, so a crash can never leave a
            // history file that no channel names. Otherwise a change (a channel made by a join, a topic) waits up
            // to a second: a thousand clients joining a thousand new channels rewrote the whole index per turn.
            let unnamed = taken.jobs.contains { job in
                if case .message(let file, _, _) = job { return !state.namedFiles.contains(file) }
                return false
            }
            if state.pendingChannels,
                unnamed || taken.closing || ContinuousClock.now - state.lastChannelsWrite >= .seconds(1),
                let channels = snapshots.withLock({ $0 }).channels()
            {
                if writeMetadata(channels, name: "channels.json") {
                    state.namedFiles = Set(channels.channels.map(\.file))
                }
                state.lastChannelsWrite = ContinuousClock.now
                state.pendingChannels = false
            }
            if !taken.jobs.isEmpty {
                process(taken.jobs, &state)
            }
            maybeSync(&state, force: taken.closing)
            maybeWriteNicks(&state, force: taken.closing)
            if taken.closing && taken.jobs.isEmpty {
                for (_, file) in state.open { close(file.fd) }
                taken.finished?.resume()
                return
            }
            if taken.jobs.isEmpty {
                _ = wakeup.wait(timeout: .now() + nextWake(state))
            }
        }
    }

    /// How long the thread may sleep: until an interval sync or a metadata rewrite is due, at most a second.
    private func nextWake(_ state: ThreadState) -> DispatchTimeInterval {
        var wait = Duration.seconds(1)
        if case .interval(let interval) = policy, !state.unsynced.isEmpty {
            wait = min(wait, interval - (ContinuousClock.now - state.lastSync))
        }
        if state.pendingNicks {
            wait = min(wait, .seconds(1) - (ContinuousClock.now - state.lastSnapshot))
        }
        if state.pendingChannels {
            wait = min(wait, .seconds(1) - (ContinuousClock.now - state.lastChannelsWrite))
        }
        let (seconds, attoseconds) = max(wait, .milliseconds(1)).components
        return .microseconds(Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000))
    }

    /// One file's share of a batch: its new lines, the acknowledgements waiting for them, and (for a channel file)
    /// the ids they carry.
    private struct FileBatch {
        let path: String
        /// The channel file's name under `channels/`; nil for `clients.jsonl`.
        let file: String?
        var bytes: [UInt8] = []
        var acks: [DeliveryReceipt] = []
        var firstID: UInt64 = 0
        var lastID: UInt64 = 0
        var lines = 0
    }

    private func process(_ jobs: [Job], _ state: inout ThreadState) {
        // Group lines per file, keeping each file's order (ids increase within a channel file): one dictionary
        // lookup per message, the path and the file's range touched once per file.
        var batches: [FileBatch] = []
        var byFile: [String: Int] = [:]
        var clientsBatch: Int?
        var barriers: [EventLoopPromise<Void>] = []
        for job in jobs {
            switch job {
            case .message(let file, let message, let ack):
                let index: Int
                if let known = byFile[file] {
                    index = known
                } else {
                    index = batches.count
                    batches.append(FileBatch(path: "channels/" + file, file: file, firstID: message.id))
                    byFile[file] = index
                }
                batches[index].bytes.append(contentsOf: MessageRecord.line(for: message))
                if let ack { batches[index].acks.append(ack) }
                batches[index].lastID = message.id
                batches[index].lines += 1
            case .connection(let record):
                let index = clientsBatch ?? batches.count
                if clientsBatch == nil {
                    batches.append(FileBatch(path: Self.clientsFile, file: nil))
                    clientsBatch = index
                }
                batches[index].bytes.append(contentsOf: Self.line(for: record))
            case .barrier(let promise):
                barriers.append(promise)
            }
        }
        for batch in batches {
            guard let file = batch.file else { continue }
            var range = state.files[file] ?? FileRange(firstID: batch.firstID, lastID: 0)
            range.lastID = batch.lastID
            range.lines += batch.lines
            state.files[file] = range
        }
        let order = batches.map(\.path)
        var failures: [String: any Error] = [:]
        for batch in batches {
            do {
                try append(batch.bytes, to: batch.path, &state)
            } catch {
                failures[batch.path] = error
            }
        }
        // Logged when writes start failing and when they work again, not once per batch: a full disk would
        // otherwise fill the log (and whatever disk it is on) at the rate messages arrive.
        if !order.isEmpty {
            let wasFailing = failing.exchange(!failures.isEmpty, ordering: .relaxed)
            if let (path, error) = failures.first, !wasFailing {
                logger.error(
                    "history writes failing; messages are delivered but not stored until this is fixed",
                    metadata: ["file": "\(path)", "error": "\(error)"])
            } else if !failures.isEmpty {
                logger.debug("history write failed again", metadata: ["files": "\(failures.keys.sorted())"])
            } else if wasFailing {
                logger.notice("history writes work again")
            }
        }
        if policy == .always || !barriers.isEmpty {
            for (path, error) in syncAll(&state) where failures[path] == nil { failures[path] = error }
        }
        // Completed on their own loops, one task per loop for the whole batch: completing each promise from this
        // thread would cost a task, and often a wake-up of the loop, per message.
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, acks: [(DeliveryReceipt, (any Error)?)])] = [:]
        for batch in batches {
            let failure = failures[batch.path]
            for ack in batch.acks {
                let loop = ack.eventLoop
                byLoop[ObjectIdentifier(loop), default: (loop, [])].acks.append((ack, failure))
            }
        }
        for (loop, batch) in byLoop.values {
            loop.execute {
                for (ack, error) in batch { ack.report(error) }
            }
        }
        for barrier in barriers { barrier.succeed() }
        for path in order where path.hasPrefix("channels/") && failures[path] == nil {
            compactIfNeeded(file: String(path.dropFirst("channels/".count)), &state)
        }
    }

    private func append(_ bytes: [UInt8], to path: String, _ state: inout ThreadState) throws {
        let file = try openFile(path, &state)
        let before = lseek(file.fd, 0, SEEK_END)
        do {
            try LineFile.writeAll(fd: file.fd, bytes, path: "\(directory)/\(path)")
        } catch {
            // Take back a partial write so the file never ends in half a line.
            if before >= 0 { _ = ftruncate(file.fd, before) }
            throw error
        }
        state.unsynced.insert(path)
    }

    private func openFile(_ path: String, _ state: inout ThreadState) throws -> ThreadState.OpenFile {
        if let file = state.open[path] {
            if let index = state.openOrder.firstIndex(of: path) {
                state.openOrder.remove(at: index)
                state.openOrder.append(path)
            }
            return file
        }
        if state.open.count >= Self.maxOpenFiles, let oldest = state.openOrder.first {
            if state.unsynced.contains(oldest), let file = state.open[oldest] {
                _ = fsync(file.fd)
                state.unsynced.remove(oldest)
            }
            close(state.open[oldest]!.fd)
            state.open[oldest] = nil
            state.openOrder.removeFirst()
        }
        let full = "\(directory)/\(path)"
        let fd = open(full, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.system("cannot open", full) }
        let file = ThreadState.OpenFile(fd: fd, path: full)
        state.open[path] = file
        state.openOrder.append(path)
        return file
    }

    private func maybeSync(_ state: inout ThreadState, force: Bool) {
        guard !state.unsynced.isEmpty else { return }
        switch policy {
        case .always:
            syncAll(&state)
        case .interval(let interval):
            if force || ContinuousClock.now - state.lastSync >= interval { syncAll(&state) }
        case .never:
            if force { syncAll(&state) }
        }
    }

    /// Returns the files whose fsync failed: with `--fsync always` their messages must not be acknowledged.
    @discardableResult
    private func syncAll(_ state: inout ThreadState) -> [String: any Error] {
        var failed: [String: any Error] = [:]
        for path in state.unsynced {
            if let file = state.open[path], fsync(file.fd) != 0 {
                let error = StorageError.system("cannot fsync", file.path)
                logger.error("fsync failed", metadata: ["file": "\(file.path)", "error": "\(error)"])
                failed[path] = error
            }
        }
        state.unsynced.removeAll(keepingCapacity: true)
        state.lastSync = ContinuousClock.now
        return failed
    }

    /// `nicks.json` changes with every connection, so it is rewritten at most once a second (every turn with
    /// `--fsync always`) and on shutdown.
    private func maybeWriteNicks(_ state: inout ThreadState, force: Bool) {
        guard state.pendingNicks else { return }
        guard force || policy == .always || ContinuousClock.now - state.lastSnapshot >= .seconds(1) else { return }
        // A failed write (a full disk) stays pending and is tried again a second later.
        if let nicks = snapshots.withLock({ $0 }).nicks() {
            state.pendingNicks = !writeMetadata(nicks, name: "nicks.json")
        } else {
            state.pendingNicks = false
        }
        state.lastSnapshot = ContinuousClock.now
    }

    /// Whether it was written.
    @discardableResult
    private func writeMetadata(_ value: some Encodable, name: String) -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var bytes = Array(try encoder.encode(value))
            bytes.append(UInt8(ascii: "\n"))
            try LineFile.replaceAtomically(path: "\(directory)/\(name)", with: bytes)
            return true
        } catch {
            if !failing.exchange(true, ordering: .relaxed) {
                logger.error("cannot save metadata", metadata: ["file": "\(name)", "error": "\(error)"])
            }
            return false
        }
    }

    /// Rewrites a channel file with only its newest `historyLimit` lines once it holds twice that many, so the
    /// copying costs at most one extra write per appended line.
    private func compactIfNeeded(file: String, _ state: inout ThreadState) {
        guard let range = state.files[file], range.lines >= 2 * historyLimit else { return }
        let path = "channels/" + file
        let full = "\(directory)/\(path)"
        do {
            if let open = state.open[path] {
                if state.unsynced.contains(path) { _ = fsync(open.fd) }
                close(open.fd)
                state.open[path] = nil
                state.openOrder.removeAll { $0 == path }
                state.unsynced.remove(path)
            }
            var kept: [[UInt8]] = []
            try LineFile.readBackward(path: full) { line in
                kept.append(line)
                return kept.count < historyLimit
            }
            kept.reverse()
            var bytes: [UInt8] = []
            for line in kept {
                bytes.append(contentsOf: line)
                bytes.append(UInt8(ascii: "\n"))
            }
            try LineFile.replaceAtomically(path: full, with: bytes)
            if let first = kept.first, let record = try? JSONDecoder().decode(MessageRecord.self, from: Data(first)) {
                state.files[file]!.firstID = record.id
            }
            state.files[file]!.lines = kept.count
            logger.debug("compacted history", metadata: ["file": "\(path)", "kept": "\(kept.count)"])
        } catch {
            // Tried again after another `historyLimit` lines, not on every write (a full disk fails them all).
            state.files[file]!.lines = historyLimit
            logger.error("history compaction failed", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }

    static func line(for record: ConnectionRecord) -> [UInt8] {
        var writer = JSONLineWriter(reservingCapacity: 256)
        writer.field("nick", record.nick)
        writer.field("address", record.address)
        writer.field("connected", record.connected)
        writer.field("disconnected", record.disconnected)
        writer.field("durationMs", record.durationMs)
        writer.field("client", record.client)
        writer.field("clientVersion", record.clientVersion)
        writer.field("host", record.host)
        writer.field("pid", UInt64(record.pid))
        writer.field("reason", record.reason)
        return writer.finish()
    }
}
