import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The writer thread's open descriptors and what they hold that is not yet synced.
///
/// Appending keeps a descriptor per file, least recently used closed first so a server with thousands of channels
/// stays under its descriptor limit; a file is fsynced before its descriptor is closed, so closing never weakens
/// `--fsync`. Only the writer thread owns one.
///
/// A write is one `write`: each file's length is kept rather than asked for (`lseek`) before every append, and
/// recency is a stamp rather than a place in a list (finding a file among hundreds of busy channels' paths cost a
/// string comparison per file per write).
struct OpenFiles {
    private struct OpenFile {
        var fd: Int32
        var path: String
        /// Where the file ends: a failed append is cut back to it.
        var end: off_t
        var lastUse: UInt64
    }

    let directory: String
    let limit: Int
    private var files: [String: OpenFile] = [:]
    private var uses: UInt64 = 0
    private(set) var unsynced: Set<String> = []
    /// Files whose fsync failed when their descriptor was closed early (evicted, or before compaction): the next
    /// `syncAll` reports them, so `--fsync always` fails their acknowledgements as if it had synced them itself.
    private var failedOnClose: [String: any Error] = [:]
    private(set) var lastSync = ContinuousClock.now

    init(directory: String, limit: Int) {
        self.directory = directory
        self.limit = limit
    }

    /// Appends whole lines to `path` (relative to the data directory); a partial write is taken back, so a file
    /// never ends in half a line.
    mutating func append(_ bytes: [UInt8], to path: String) throws {
        let (fd, before) = try descriptor(path)
        do {
            try LineFile.writeAll(fd: fd, bytes, path: "\(directory)/\(path)")
        } catch {
            if before >= 0 { _ = ftruncate(fd, before) }
            // Asked again on its next use: the cut may have failed too.
            closeFile(path)
            throw error
        }
        files[path]?.end = before + off_t(bytes.count)
        unsynced.insert(path)
    }

    /// Syncs one file now (a journal line that must be on disk before what it names is written).
    mutating func sync(_ path: String) throws {
        guard let file = files[path], unsynced.contains(path) else { return }
        guard fsync(file.fd) == 0 else { throw StorageError.system("cannot fsync", file.path) }
        unsynced.remove(path)
    }

    /// Syncs and closes one file (before it is replaced, say).
    mutating func closeFile(_ path: String) {
        guard let file = files.removeValue(forKey: path) else { return }
        if unsynced.remove(path) != nil, fsync(file.fd) != 0 {
            failedOnClose[path] = StorageError.system("cannot fsync", file.path)
        }
        _ = close(file.fd)
    }

    mutating func closeAll() {
        for (_, file) in files { _ = close(file.fd) }
        files = [:]
    }

    /// Syncs every file written since the last sync; returns those whose fsync failed, whose messages must not be
    /// acknowledged under `--fsync always`.
    @discardableResult
    mutating func syncAll(logger: Logger) -> [String: any Error] {
        var failed = failedOnClose
        failedOnClose = [:]
        for (path, error) in failed {
            logger.error("fsync failed", metadata: ["file": "\(directory)/\(path)", "error": "\(error)"])
        }
        for path in unsynced {
            if let file = files[path], fsync(file.fd) != 0 {
                let error = StorageError.system("cannot fsync", file.path)
                logger.error("fsync failed", metadata: ["file": "\(file.path)", "error": "\(error)"])
                failed[path] = error
            }
        }
        unsynced.removeAll(keepingCapacity: true)
        lastSync = ContinuousClock.now
        return failed
    }

    /// The file's descriptor and where it ends, opening it (and closing the least recently used beyond `limit`).
    private mutating func descriptor(_ path: String) throws -> (fd: Int32, end: off_t) {
        uses += 1
        if let index = files.index(forKey: path) {
            files.values[index].lastUse = uses
            return (files.values[index].fd, files.values[index].end)
        }
        // Only when a file is opened past the limit: one pass, beside an open, a close and an fsync.
        if files.count >= limit, let oldest = files.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            closeFile(oldest)
        }
        let full = "\(directory)/\(path)"
        let fd = open(full, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.system("cannot open", full) }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else {
            _ = close(fd)
            throw StorageError.system("cannot seek", full)
        }
        files[path] = OpenFile(fd: fd, path: full, end: end, lastUse: uses)
        return (fd, end)
    }
}
