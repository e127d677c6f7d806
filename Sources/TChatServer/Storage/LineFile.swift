#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A storage failure that names the file, so an operator knows where to look.
struct StorageError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }

    /// The failure of a system call on `path`, with the system's own words for `errno`.
    static func system(_ action: String, _ path: String, errno code: Int32 = errno) -> StorageError {
        StorageError("\(action) \(path): \(String(cString: strerror(code)))")
    }
}

/// Plain POSIX operations on JSON-lines files: reading from the end, repairing a torn tail, replacing atomically.
///
/// Start-up reads only ends of files (the newest line for the next id, the first for the oldest), never whole
/// files; history requests read backwards from the end until they have enough.
enum LineFile {
    static let chunkSize = 64 * 1024

    /// Lines from the last to the first, each without its newline. A last line with no newline is being written
    /// (or was torn by a crash) and is skipped. `visit` returns false to stop.
    static func readBackward(path: String, _ visit: ([UInt8]) throws -> Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw StorageError.system("cannot open", path)
        }
        defer { close(fd) }
        var end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw StorageError.system("cannot seek in", path) }
        var carry: [UInt8] = []  // the start of a line whose beginning lies in an earlier chunk
        var skipPartial = true
        while end > 0 {
            let start = max(0, end - off_t(chunkSize))
            var chunk = [UInt8](repeating: 0, count: Int(end - start))
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, start) }
            guard count == chunk.count else { throw StorageError.system("cannot read", path) }
            chunk.append(contentsOf: carry)
            var lineEnd = chunk.count
            if skipPartial {
                // Drop everything after the last newline of the file: an unfinished line.
                if let lastNewline = chunk.lastIndex(of: UInt8(ascii: "\n")) {
                    lineEnd = lastNewline
                    skipPartial = false
                } else {
                    carry = []
                    end = start
                    continue
                }
            }
            var index = lineEnd
            while index > 0 {
                index -= 1
                if chunk[index] == UInt8(ascii: "\n") {
                    if index + 1 < lineEnd, try !visit(Array(chunk[(index + 1)..<lineEnd])) { return }
                    lineEnd = index
                }
            }
            carry = Array(chunk[0..<lineEnd])
            end = start
        }
        if !carry.isEmpty { _ = try visit(carry) }
    }

    /// The first line of the file, or nil if it holds no complete line.
    static func firstLine(path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StorageError.system("cannot open", path)
        }
        defer { close(fd) }
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard count >= 0 else { throw StorageError.system("cannot read", path) }
            if count == 0 { return nil }
            if let newline = chunk[0..<count].firstIndex(of: UInt8(ascii: "\n")) {
                line.append(contentsOf: chunk[0..<newline])
                return line
            }
            line.append(contentsOf: chunk[0..<count])
            offset += off_t(count)
        }
    }

    /// Cuts an unfinished last line (a crash in the middle of a write) so the next append starts a fresh line.
    /// Returns the number of bytes removed.
    static func truncateTornTail(path: String) throws -> Int {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return 0 }
            throw StorageError.system("cannot open", path)
        }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return 0 }
        var end = size
        var keep: off_t = 0
        search: while end > 0 {
            let start = max(0, end - off_t(chunkSize))
            var chunk = [UInt8](repeating: 0, count: Int(end - start))
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, start) }
            guard count == chunk.count else { throw StorageError.system("cannot read", path) }
            if let newline = chunk.lastIndex(of: UInt8(ascii: "\n")) {
                keep = start + off_t(newline) + 1
                break search
            }
            end = start
        }
        guard keep < size else { return 0 }
        guard ftruncate(fd, keep) == 0, fsync(fd) == 0 else { throw StorageError.system("cannot truncate", path) }
        return Int(size - keep)
    }

    /// The number of complete lines, for naming the line of an error; reads the whole file, so only on failure.
    static func countLines(path: String) throws -> Int {
        var total = 0
        try readBackward(path: path) { _ in
            total += 1
            return true
        }
        return total
    }

    /// Replaces `path` with `bytes` so that a crash leaves either the old file or the new one, never a mix:
    /// write a temporary file, fsync it, rename it over the old one, fsync the directory.
    /// `mode` is set on the new file whatever a leftover temporary file had.
    static func replaceAtomically(path: String, with bytes: [UInt8], mode: mode_t = 0o600) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw StorageError.system("cannot create", temporary) }
        do {
            guard fchmod(fd, mode) == 0 else { throw StorageError.system("cannot set the mode of", temporary) }
            try writeAll(fd: fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw StorageError.system("cannot fsync", temporary) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StorageError.system("cannot rename \(temporary) to", path, errno: code)
        }
        try syncDirectory(of: path)
    }

    static func syncDirectory(of path: String) throws {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.system("cannot open directory", directory) }
        defer { close(fd) }
        _ = fsync(fd)
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StorageError.system("cannot write", path)
            }
            written += count
        }
    }

    /// The whole file, for the small metadata files (`channels.json`, `nicks.json`); nil if it does not exist.
    static func readAll(path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StorageError.system("cannot open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StorageError.system("cannot read", path)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }
}
