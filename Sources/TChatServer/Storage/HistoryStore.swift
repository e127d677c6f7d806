import Foundation
import Logging
import NIOCore
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The data directory: channel histories, the connection log and what is known of each nick, as JSON files a
/// person can read and `jq` (layout in `docs/storage.md`).
///
/// Loading happens once, before the server accepts anyone, and reads only the ends of history files. After that
/// every write goes through the `StoreWriter` thread and every read of old history runs on a thread pool, so the
/// event loops never touch the disk.
final class HistoryStore: Sendable {
    let directory: String
    let historyLimit: Int
    let writer: StoreWriter
    private let lockDescriptor: Int32
    private let logger: Logger

    /// Opens (creating if needed) the data directory and takes its lock, so two servers never share one.
    init(
        directory: String, policy: FsyncPolicy, historyLimit: Int, connectionLog: LogRotation = LogRotation(),
        journalCompaction: Int = MetadataJournal<NickRecord>.minimumCompaction, logger: Logger
    ) throws {
        self.directory = directory
        self.historyLimit = historyLimit
        self.logger = logger
        for path in [directory, directory + "/channels"] {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw StorageError("\(path) exists and is not a directory") }
                Self.warnIfOthersMayRead(path, logger: logger)
            } else {
                do {
                    // History is private: only the server's user reads it (files are made 0600 likewise).
                    try FileManager.default.createDirectory(
                        atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    throw StorageError("cannot create the data directory \(path): \(error.localizedDescription)")
                }
            }
        }
        let lockPath = directory + "/tchatd.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.system("cannot open", lockPath) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StorageError("another tchatd is using the data directory \(directory) (\(lockPath) is locked)")
        }
        self.lockDescriptor = fd
        self.writer = StoreWriter(
            directory: directory, policy: policy, historyLimit: historyLimit, connectionLog: connectionLog,
            journalCompaction: journalCompaction, logger: logger)
    }

    deinit { close(lockDescriptor) }

    /// A data directory made before files were private, or by hand, may let every local user read all history:
    /// said once at start-up, not changed behind the operator's back.
    static func warnIfOthersMayRead(_ path: String, logger: Logger) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o077 != 0 else { return }
        logger.warning(
            "the data directory can be read by other users: chmod 700 it",
            metadata: ["path": "\(path)", "mode": "\(String(info.st_mode & 0o777, radix: 8))"])
    }

    // MARK: - Start-up

    func loadChannels() throws -> [StoredChannel] {
        let file: ChannelsFile? = try loadMetadata("channels.json")
        var records: [String: ChannelRecord] = [:]
        for record in file?.channels ?? [] { records[record.name.lowercased()] = record }
        let journal = Journals.channels
        let journalPath = "\(directory)/\(journal.fileName)"
        try cutUnfinishedLine(of: journalPath)
        var read = (applied: 0, last: file?.journal ?? 0)
        if let bytes = try LineFile.readAll(path: journalPath), !bytes.isEmpty {
            read = try journal.apply(
                bytes, to: &records, holding: file?.journal ?? 0, path: journalPath, key: { $0.name.lowercased() })
        }
        writer.startChannelJournal(records: records, lines: read.applied, last: read.last)
        var loaded: [StoredChannel] = []
        var seenFiles = Set<String>()
        for record in records.values.sorted(by: { $0.name < $1.name }) {
            if let problem = ChannelName.problem(with: record.name) {
                throw StorageError(
                    "\(directory)/channels.json (or its journal): '\(record.name)' is not a channel name: \(problem)")
            }
            guard Self.isSafeFileName(record.file), seenFiles.insert(record.file).inserted else {
                throw StorageError(
                    "\(directory)/channels.json: channel \(record.name) has a bad file name '\(record.file)'")
            }
            let path = "\(directory)/channels/\(record.file)"
            try cutUnfinishedLine(of: path)
            let ends: (first: UInt64, last: UInt64, lastTime: Timestamp?)
            do {
                ends = try Self.endIDs(path: path)
            } catch {
                logger.error(
                    "a history file is damaged: its readable messages are kept, the file itself is moved aside",
                    metadata: ["file": "\(path)", "error": "\(error)"])
                let salvage = try Self.salvage(path: path)
                logger.error(
                    "damaged history file moved aside",
                    metadata: [
                        "file": "\(path)", "moved to": "\(salvage.movedTo)", "messages kept": "\(salvage.kept)",
                        "lines dropped": "\(salvage.dropped)",
                    ])
                ends = try Self.endIDs(path: path)
            }
            loaded.append(
                StoredChannel(record: record, firstID: ends.first, lastID: ends.last, lastTime: ends.lastTime))
        }
        return loaded
    }

    /// History files on disk that `channels.json` does not name (copied in by hand, or from a crash of an older
    /// version): never reused for a new channel, and reported.
    func unclaimedFiles(claimed: Set<String>) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/channels")
        return names.filter { $0.hasSuffix(".jsonl") && !claimed.contains($0) }.sorted()
    }

    /// Cuts off a line file's unfinished last line (a crash in the middle of a write), saying so.
    private func cutUnfinishedLine(of path: String) throws {
        let dropped = try LineFile.truncateTornTail(path: path)
        guard dropped > 0 else { return }
        logger.warning(
            "dropped an unfinished last line (a crash during a write)",
            metadata: ["file": "\(path)", "bytes": "\(dropped)"])
    }

    func loadNicks() throws -> [NickRecord] {
        let file: NicksFile? = try loadMetadata("nicks.json")
        for name in [StoreWriter.clientsFile, Journals.nicks.fileName] {
            try cutUnfinishedLine(of: "\(directory)/\(name)")
        }
        let journalPath = "\(directory)/\(Journals.nicks.fileName)"
        guard let journal = try LineFile.readAll(path: journalPath), !journal.isEmpty else {
            writer.startNickJournal(lines: 0, last: file?.journal ?? 0)
            return file?.nicks ?? []
        }
        var records: [String: NickRecord] = [:]
        // Look-alikes in an old file: the one seen first keeps the nick, as `ClientManager` decides without a journal.
        for record in file?.nicks ?? [] {
            let key = Nick.key(for: record.nick)
            if let kept = records[key], kept.firstSeen <= record.firstSeen { continue }
            records[key] = record
        }
        let read = try Journals.nicks.apply(
            journal, to: &records, holding: file?.journal ?? 0, path: journalPath, key: { Nick.key(for: $0.nick) })
        writer.startNickJournal(lines: read.applied, last: read.last)
        return records.sorted { $0.key < $1.key }.map(\.value)
    }

    private func loadMetadata<T: Decodable>(_ name: String) throws -> T? {
        let path = "\(directory)/\(name)"
        guard let bytes = try LineFile.readAll(path: path) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw StorageError(
                "\(path) is not readable (\(Self.describe(error))); fix or move it away, it is left as it is")
        }
    }

    /// The ids of a history file's first and last messages (0 for an empty file); throws if either is unreadable
    /// or impossible (0, beyond `ProtocolLimits.maxMessageID`, or the first after the last).
    private static func endIDs(path: String) throws -> (first: UInt64, last: UInt64, lastTime: Timestamp?) {
        var lastID: UInt64 = 0
        var lastTime: Timestamp?
        var lastLine: [UInt8]?
        try LineFile.readBackward(path: path) { line in
            lastLine = line
            return false
        }
        if let lastLine {
            let record = try decodeRecord(lastLine, path: path, lineNumber: { try LineFile.countLines(path: path) })
            lastID = record.id
            lastTime = Timestamp(iso8601: record.time)
        }
        var firstID: UInt64 = 0
        if let firstLine = try LineFile.firstLine(path: path) {
            firstID = try decodeRecord(firstLine, path: path, lineNumber: { 1 }).id
        }
        for id in [firstID, lastID] where lastLine != nil && !isPossible(id) {
            throw StorageError("\(path) holds message id \(id), which no message can have (1 to \(maxID))")
        }
        guard firstID <= lastID else {
            throw StorageError("\(path) starts at message id \(firstID), after its last one, \(lastID)")
        }
        return (firstID, lastID, lastTime)
    }

    private static let maxID = ProtocolLimits.maxMessageID

    /// Ids run from 1 to 2^53 − 1; anything else in a file came from a bug or an attack (a linked server's
    /// PEER_MESSAGE numbered 2^64 − 1 was once stored and stopped the server at every start).
    static func isPossible(_ id: UInt64) -> Bool { id >= 1 && id <= maxID }

    /// Keeps what can be read of a damaged history file: the original is renamed to `<file>.damaged-<time>`, never
    /// overwritten or deleted, and a new file holds its readable messages in increasing id order.
    static func salvage(path: String) throws -> (movedTo: String, kept: Int, dropped: Int) {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        var kept: [UInt8] = []
        var keptCount = 0
        var dropped = 0
        var lastID: UInt64 = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            if let record = try? JSONDecoder().decode(MessageRecord.self, from: Data(line)), record.id > lastID,
                isPossible(record.id)
            {
                kept += line
                kept.append(UInt8(ascii: "\n"))
                keptCount += 1
                lastID = record.id
            } else {
                dropped += 1
            }
        }
        let stamp = Timestamp.now().iso8601.replacingOccurrences(of: ":", with: "")
        let movedTo = "\(path).damaged-\(stamp)"
        guard link(path, movedTo) == 0 else { throw StorageError.system("cannot keep a copy of", path) }
        try LineFile.replaceAtomically(path: path, with: kept)
        return (movedTo, keptCount, dropped)
    }

    static func decodeRecord(_ line: [UInt8], path: String, lineNumber: () throws -> Int) throws -> MessageRecord {
        do {
            return try JSONDecoder().decode(MessageRecord.self, from: Data(line))
        } catch {
            let number = (try? lineNumber()).map(String.init) ?? "?"
            throw StorageError(
                "\(path) line \(number) is not a message record (\(describe(error))); the file is left as it is")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): context.debugDescription
        case DecodingError.keyNotFound(let key, _): "missing key \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }

    /// A file name recorded in `channels.json` is trusted only if it could have come from `ChannelFileName`.
    static func isSafeFileName(_ name: String) -> Bool {
        !name.isEmpty && name.hasSuffix(".jsonl") && !name.hasPrefix(".") && !name.contains("/")
            && !name.utf8.contains(0) && name.utf8.count < 250
    }

    // MARK: - Writing

    func start(files: [String: StoreWriter.FileRange], snapshots: StoreWriter.Snapshots) {
        writer.setSnapshots { $0 = snapshots }
        writer.start(files: files)
    }

    // MARK: - Reading old history (blocking: call on a thread pool)

    /// Up to `limit` messages of a channel file with ids below `before` (0: no bound) and above `after`, oldest
    /// first. Lines still being written are skipped; a damaged line is an error naming the file.
    func readMessages(file: String, channel: String, before: UInt64, after: UInt64, limit: Int) throws -> [ChatMessage]
    {
        let path = "\(directory)/channels/\(file)"
        var found: [ChatMessage] = []
        var fromEnd = 0
        try LineFile.readBackward(path: path) { line in
            fromEnd += 1
            let record = try Self.decodeRecord(
                line, path: path, lineNumber: { try LineFile.countLines(path: path) - fromEnd + 1 })
            if record.id <= after { return false }
            if before == 0 || record.id < before {
                guard let message = record.message(channel: channel) else {
                    throw StorageError("\(path): message \(record.id) has an unknown time or type")
                }
                found.append(message)
            }
            return found.count < limit
        }
        return found.reversed()
    }

    func shutdown() async {
        await writer.shutdown()
    }
}
