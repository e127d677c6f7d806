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
package final class StoreWriter: Sendable {
    private struct Queue {
        var jobs: [Job] = []
        var queuedBytes = 0
        /// When the oldest job not yet written was queued: the one waiting first, else the batch being written.
        var firstQueuedAt: ContinuousClock.Instant?
        var writingSince: ContinuousClock.Instant?
        var sleeping = false
        var channelsDirty = false
        var nicksDirty = false
        var started = false
        var closing = false
        var finished: CheckedContinuation<Void, Never>?
    }

    /// Sources of the metadata files' contents, asked only when the writer is about to write them, so a burst of
    /// changes costs one snapshot.
    package struct Snapshots: Sendable {
        package var channels: @Sendable () -> ChannelsFile? = { nil }
        package var nicks: @Sendable () -> NicksFile? = { nil }
        /// The nick records changed (nil: forgotten) since last asked, and how many nicks there are: for the
        /// journal (`MetadataJournal`). Nil (no source) writes `nicks.json` whole instead.
        package var nickChanges: (@Sendable () -> (changes: [(key: String, record: NickRecord?)], total: Int))?

        package init(
            channels: @escaping @Sendable () -> ChannelsFile? = { nil },
            nicks: @escaping @Sendable () -> NicksFile? = { nil },
            nickChanges: (@Sendable () -> (changes: [(key: String, record: NickRecord?)], total: Int))? = nil
        ) {
            self.channels = channels
            self.nicks = nicks
            self.nickChanges = nickChanges
        }
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
    private let nicksAtStart = Mutex<(Int, UInt64)>((0, 0))
    private let channelsAtStart = Mutex<([String: ChannelRecord], Int, UInt64)>(([:], 0, 0))
    private let logger: Logger

    init(
        directory: String, policy: FsyncPolicy, historyLimit: Int, maxQueuedBytes: Int = 64 << 20,
        connectionLog: LogRotation = LogRotation(),
        journalCompaction: Int = MetadataJournal<NickRecord>.minimumCompaction, logger: Logger
    ) {
        self.connectionLog = connectionLog
        self.journalCompaction = journalCompaction
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
            var state = ThreadState(
                files: files, handles: OpenFiles(directory: self.directory, limit: Self.maxOpenFiles))
            state.namedFiles = Set(files.keys)
            (state.nickJournalLines, state.nickLine) = self.nicksAtStart.withLock { $0 }
            (state.writtenChannels, state.channelJournalLines, state.channelLine) = self.channelsAtStart.withLock {
                start in
                defer { start = ([:], 0, 0) }  // the writer's copy is the one kept
                return start
            }
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
            if queue.jobs.isEmpty { queue.firstQueuedAt = .now }
            queue.jobs.append(job)
            queue.queuedBytes += job.cost
            defer { queue.sleeping = false }
            return queue.sleeping
        }
        guard let wake else { return false }
        if wake { wakeup.signal() }
        return true
    }

    /// The lines of the nick journal found at start-up, and the number of its last (before `start`).
    func startNickJournal(lines: Int, last: UInt64) { nicksAtStart.withLock { $0 = (lines, last) } }

    /// The channel records found at start-up (the whole file and the journal over it), the journal's lines and
    /// the number of its last.
    func startChannelJournal(records: [String: ChannelRecord], lines: Int, last: UInt64) {
        channelsAtStart.withLock { $0 = (records, lines, last) }
    }

    /// Bytes waiting to be taken, and how long the oldest job not yet written has waited (the writer's lag).
    var backlog: (bytes: Int, lag: Duration) {
        queue.withLock { queue in
            let oldest = queue.writingSince ?? queue.firstQueuedAt
            return (queue.queuedBytes, oldest.map { .now - $0 } ?? .zero)
        }
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
        var files: [String: FileRange]
        var handles: OpenFiles
        var lastSnapshot = ContinuousClock.now
        var pendingChannels = false
        var pendingNicks = false
        /// Lines in `nicks.journal.jsonl`, and whether the next nick write must be whole (a journal write failed,
        /// after its changes were taken).
        var nickJournalLines = 0
        var nicksNeedWhole = false
        /// The channel records as `channels.json` and its journal have them, by key, and the journal's lines.
        var writtenChannels: [String: ChannelRecord] = [:]
        var channelJournalLines = 0
        /// The number of each journal's last line (`MetadataJournal.Line.line`).
        var nickLine: UInt64 = 0
        var channelLine: UInt64 = 0
        /// The history files the last `channels.json` written names (at first, those found at start-up).
        var namedFiles: Set<String> = []
        var lastChannelsWrite = ContinuousClock.now
    }

    /// History files kept open: an eighth of the open-file limit, from 256 up to 4,096. Each busy channel past it
    /// cost an fsync, a close and an open per write (rooms 5000/1000 wrote 1,000 files in turn through 256).
    static let maxOpenFiles = openFileBudget(softLimit: OpenFileLimit.current())

    static func openFileBudget(softLimit: Int) -> Int {
        min(softLimit / 2, max(256, min(4096, softLimit / 8)))
    }
    /// When `clients.jsonl` is cut and how many old ones are kept.
    let connectionLog: LogRotation
    /// The fewest lines a metadata journal holds before its file is written whole (`MetadataJournal`).
    let journalCompaction: Int
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
                queue.writingSince = queue.firstQueuedAt
                queue.firstQueuedAt = nil
                if jobs.isEmpty && !queue.closing { queue.sleeping = true }
                return (jobs, queue.closing, queue.closing ? queue.finished : nil)
            }
            // A new channel is in channels.json before its first line is written, so a crash can never leave a
            // history file that no channel names. Otherwise a change (a channel made by a join, a topic) waits up
            // to a second: a thousand clients joining a thousand new channels rewrote the whole index per turn.
            if state.pendingChannels,
                taken.closing || ContinuousClock.now - state.lastChannelsWrite >= .seconds(1)
                    || WriteBatch.writesUnnamed(taken.jobs, named: state.namedFiles),
                let channels = snapshots.withLock({ $0 }).channels()
            {
                let written = writeChannels(channels, &state)
                if written { state.namedFiles = Set(channels.channels.map(\.file)) }
                state.lastChannelsWrite = ContinuousClock.now
                state.pendingChannels = !written
            }
            if !taken.jobs.isEmpty {
                process(WriteBatch(taken.jobs), &state)
                queue.withLock { $0.writingSince = nil }
            }
            maybeSync(&state, force: taken.closing)
            maybeWriteNicks(&state, force: taken.closing)
            if taken.closing && taken.jobs.isEmpty {
                state.handles.closeAll()
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
        if case .interval(let interval) = policy, !state.handles.unsynced.isEmpty {
            wait = min(wait, interval - (ContinuousClock.now - state.handles.lastSync))
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

    private func process(_ batch: WriteBatch, _ state: inout ThreadState) {
        for lines in batch.files {
            guard let file = lines.file else { continue }
            var range = state.files[file] ?? FileRange(firstID: lines.firstID, lastID: 0)
            range.lastID = lines.lastID
            range.lines += lines.lines
            state.files[file] = range
        }
        var failures: [String: any Error] = [:]
        for lines in batch.files {
            do {
                try state.handles.append(lines.bytes, to: lines.path)
            } catch {
                failures[lines.path] = error
            }
        }
        // Logged when writes start failing and when they work again, not once per batch: a full disk would
        // otherwise fill the log (and whatever disk it is on) at the rate messages arrive.
        if !batch.files.isEmpty {
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
        if policy == .always || !batch.barriers.isEmpty {
            for (path, error) in state.handles.syncAll(logger: logger) where failures[path] == nil {
                failures[path] = error
            }
        }
        // Reported on their own loops, once per loop for the whole batch: reporting each from this thread would
        // cost a task, and often a wake-up of the loop, per message. A client's go through its loop's mailbox, so
        // that the answers they complete go out with that drain's messages.
        var byMailbox: [ObjectIdentifier: (mailbox: LoopMailbox, reports: [LoopMailbox.Report])] = [:]
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, reports: [LoopMailbox.Report])] = [:]
        for lines in batch.files {
            let failure = failures[lines.path]
            for ack in lines.acks {
                if let mailbox = ack.mailbox {
                    byMailbox[ObjectIdentifier(mailbox), default: (mailbox, [])].reports.append((ack, failure))
                } else {
                    let loop = ack.eventLoop
                    byLoop[ObjectIdentifier(loop), default: (loop, [])].reports.append((ack, failure))
                }
            }
        }
        for (mailbox, reports) in byMailbox.values { mailbox.post(reports: reports) }
        for (loop, reports) in byLoop.values {
            loop.execute {
                for report in reports { report.receipt.report(report.error) }
            }
        }
        for barrier in batch.barriers { barrier.succeed() }
        for lines in batch.files where failures[lines.path] == nil {
            if let file = lines.file {
                compactIfNeeded(file: file, &state)
            } else {
                rotateConnectionLogIfDue(&state)
            }
        }
    }

    private func maybeSync(_ state: inout ThreadState, force: Bool) {
        guard !state.handles.unsynced.isEmpty else { return }
        switch policy {
        case .always:
            state.handles.syncAll(logger: logger)
        case .interval(let interval):
            if force || ContinuousClock.now - state.handles.lastSync >= interval {
                state.handles.syncAll(logger: logger)
            }
        case .never:
            if force { state.handles.syncAll(logger: logger) }
        }
    }

    /// Nick records change with every connection: the changes are appended to the journal at most once a second
    /// (every turn with `--fsync always`) and on shutdown, and `nicks.json` is written whole only when the journal
    /// has grown as long as the nick list (`MetadataJournal`), or when there is no journal source.
    private func maybeWriteNicks(_ state: inout ThreadState, force: Bool) {
        guard state.pendingNicks else { return }
        guard force || policy == .always || ContinuousClock.now - state.lastSnapshot >= .seconds(1) else { return }
        state.lastSnapshot = ContinuousClock.now
        let sources = snapshots.withLock { $0 }
        if let changes = sources.nickChanges, !state.nicksNeedWhole, exists("nicks.json") {
            let taken = changes()
            let lines = state.nickJournalLines + taken.changes.count
            if !MetadataJournal<NickRecord>.isDue(lines: lines, records: taken.total, minimum: journalCompaction) {
                do {
                    let created = !exists(Journals.nicks.fileName)
                    try state.handles.append(
                        Journals.nicks.encode(taken.changes, after: state.nickLine), to: Journals.nicks.fileName)
                    state.nickJournalLines += taken.changes.count
                    state.nickLine += UInt64(taken.changes.count)
                    // On shutdown and with --fsync always the lines are on disk before this turn ends, as the
                    // whole file was before the journal.
                    if force || policy == .always { try state.handles.sync(Journals.nicks.fileName) }
                    if created { try LineFile.syncDirectory(of: "\(directory)/\(Journals.nicks.fileName)") }
                    state.pendingNicks = false
                } catch {
                    // The changes are taken: only a whole file (tried a second later) has them now.
                    state.nicksNeedWhole = true
                    if !failing.exchange(true, ordering: .relaxed) {
                        logger.error(
                            "cannot save nicks", metadata: ["file": "\(Journals.nicks.fileName)", "error": "\(error)"])
                    }
                }
                return
            }
        }
        // Whole: what the journal held is in it, so the journal starts again empty. A failed write stays pending
        // and is tried again a second later, whole again: changes taken for it are in no journal.
        if state.nicksNeedWhole { _ = sources.nickChanges?() }  // in the whole file, taken now
        state.nicksNeedWhole = sources.nickChanges != nil
        guard var nicks = sources.nicks() else {
            state.pendingNicks = false
            return
        }
        nicks.journal = state.nickLine  // the journal's lines so far are in it: a restart skips them
        guard writeMetadata(nicks, name: "nicks.json") else { return }
        state.handles.closeFile(Journals.nicks.fileName)
        _ = unlink("\(directory)/\(Journals.nicks.fileName)")
        state.nickJournalLines = 0
        state.nicksNeedWhole = false
        state.pendingNicks = false
    }

    /// The channel records that differ from what was last written go to `channels.journal.jsonl`, synced at once (a
    /// new channel is named on disk before its first line is written); `channels.json` is
    /// written whole when the journal is as long as the channel list, or when appending failed. Whether it was
    /// written.
    private func writeChannels(_ file: ChannelsFile, _ state: inout ThreadState) -> Bool {
        var current: [String: ChannelRecord] = [:]
        for record in file.channels { current[record.name.lowercased()] = record }
        var changes: [(key: String, record: ChannelRecord?)] = []
        for (key, record) in current where state.writtenChannels[key] != record { changes.append((key, record)) }
        for key in state.writtenChannels.keys where current[key] == nil { changes.append((key, nil)) }
        guard !changes.isEmpty else { return true }
        let journal = Journals.channels
        // The first write of a data directory is whole, so that channels.json is always there to read.
        if exists("channels.json"),
            !MetadataJournal<ChannelRecord>.isDue(
                lines: state.channelJournalLines + changes.count, records: current.count, minimum: journalCompaction)
        {
            do {
                let created = !exists(journal.fileName)
                try state.handles.append(journal.encode(changes, after: state.channelLine), to: journal.fileName)
                state.channelLine += UInt64(changes.count)
                // Always synced (at most once a second): a channel's record, its bans and key included, must be on
                // disk before its history file's first line, under every --fsync, as channels.json was.
                try state.handles.sync(journal.fileName)
                if created { try LineFile.syncDirectory(of: "\(directory)/\(journal.fileName)") }
                state.channelJournalLines += changes.count
                state.writtenChannels = current
                return true
            } catch {
                // Written whole below instead; what the journal holds so far is in the whole file too.
                logger.error(
                    "cannot append to the channel journal; writing channels.json whole",
                    metadata: ["file": "\(journal.fileName)", "error": "\(error)"])
            }
        }
        var file = file
        file.journal = state.channelLine  // the journal's lines so far are in it: a restart skips them
        guard writeMetadata(file, name: "channels.json") else { return false }
        state.handles.closeFile(journal.fileName)
        _ = unlink("\(directory)/\(journal.fileName)")
        state.channelJournalLines = 0
        state.writtenChannels = current
        return true
    }

    private func exists(_ name: String) -> Bool {
        access("\(directory)/\(name)", F_OK) == 0
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

    private func rotateConnectionLogIfDue(_ state: inout ThreadState) {
        let path = "\(directory)/\(Self.clientsFile)"
        guard connectionLog.isDue(path: path) else { return }
        state.handles.closeFile(Self.clientsFile)
        do {
            try connectionLog.rotate(path: path)
            logger.info("connection log rotated", metadata: ["file": "\(path)", "kept": "\(connectionLog.keep)"])
        } catch {
            logger.error("cannot rotate the connection log", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }

    private func compactIfNeeded(file: String, _ state: inout ThreadState) {
        guard let range = state.files[file], HistoryCompaction.isDue(range, historyLimit: historyLimit) else { return }
        let path = "channels/" + file
        state.handles.closeFile(path)
        do {
            let kept = try HistoryCompaction.compact(path: "\(directory)/\(path)", keep: historyLimit)
            if let firstID = kept.firstID { state.files[file]?.firstID = firstID }
            state.files[file]?.lines = kept.lines
            logger.debug("compacted history", metadata: ["file": "\(path)", "kept": "\(kept.lines)"])
        } catch {
            // Tried again after another `historyLimit` lines, not on every write (a full disk fails them all).
            state.files[file]?.lines = historyLimit
            logger.error("history compaction failed", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }
}
