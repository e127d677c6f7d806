#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps the connection log from growing for ever: once `clients.jsonl` passes `maxBytes` it becomes
/// `clients.jsonl.1` (the older ones move up a number), and the oldest past `keep` is deleted, as logrotate does.
/// A script that connects in a loop wrote 1.4 GB an hour into a log that was never cut.
public struct LogRotation: Sendable {
    /// `--connection-log-size`; 0 never rotates.
    public var maxBytes: Int = 16 << 20
    /// `--connection-log-files`: rotated files kept beside the live one.
    public var keep: Int = 4

    public init() {}

    /// Whether `path` has grown past `maxBytes`.
    func isDue(path: String) -> Bool {
        guard maxBytes > 0 else { return false }
        var info = stat()
        return stat(path, &info) == 0 && Int(info.st_size) >= maxBytes
    }

    /// Moves `path` aside as `.1`, the older ones up; the caller has closed its descriptor.
    func rotate(path: String) throws {
        if keep < 1 {
            guard unlink(path) == 0 else { throw StorageError.system("cannot remove", path) }
            return
        }
        _ = unlink("\(path).\(keep)")
        for number in stride(from: keep - 1, through: 1, by: -1) {
            _ = rename("\(path).\(number)", "\(path).\(number + 1)")
        }
        guard rename(path, "\(path).1") == 0 else { throw StorageError.system("cannot rotate", path) }
    }
}
