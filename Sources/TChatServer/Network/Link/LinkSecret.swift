import Crypto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The secret that every server of one network shares and proves it knows before a link is accepted
/// (`--link-secret FILE`, or the one `--discover` keeps in its registry directory). It never crosses the wire.
///
/// The file must belong to the server's user (or root) and be unreadable to group and others, as ssh insists of
/// private keys: a secret others can read is no secret, and a server that silently used one would give a false
/// sense of safety.
struct LinkSecret: Sendable {
    let key: SymmetricKey
    /// Where it was read from, for log lines.
    let path: String

    /// Bytes a secret needs at least: 16 bytes is 128 bits when random (`openssl rand -hex 32` gives 64).
    static let minimumBytes = 16
    static let maximumBytes = 4096

    init(key: SymmetricKey, path: String) {
        self.key = key
        self.path = path
    }

    /// Reads the secret from `path`; surrounding whitespace and the final newline are not part of it.
    static func load(path: String) throws(SettingsError) -> LinkSecret {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SettingsError("cannot read the link secret \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SettingsError("the link secret \(path) is not a regular file")
        }
        guard info.st_uid == geteuid() || info.st_uid == 0 else {
            throw SettingsError(
                "the link secret \(path) belongs to user \(info.st_uid), not to this server's user (\(geteuid()))")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw SettingsError(
                "the link secret \(path) is readable by group or others (mode \(mode)): chmod 600 \(path)")
        }
        let bytes: [UInt8]
        do {
            bytes = try LineFile.readAll(path: path) ?? []
        } catch {
            throw SettingsError("cannot read the link secret \(path): \(error)")
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let trimmed = Array(bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        guard trimmed.count >= minimumBytes else {
            throw SettingsError(
                "the link secret \(path) holds \(trimmed.count) bytes; at least \(minimumBytes) are needed "
                    + "(make one with: openssl rand -hex 32 > \(path))")
        }
        guard trimmed.count <= maximumBytes else {
            throw SettingsError("the link secret \(path) is over \(maximumBytes) bytes; is it the right file?")
        }
        return LinkSecret(key: SymmetricKey(data: trimmed), path: path)
    }

    /// Creates `path` (mode 0600) holding 32 random bytes in hex unless it exists, then reads it. Two servers
    /// starting at once agree: the file appears whole or not at all (written aside, then linked into place).
    static func loadOrCreate(path: String) throws(SettingsError) -> LinkSecret {
        if access(path, F_OK) != 0 {
            let hex = (0..<32).map { _ in
                let digits = String(UInt8.random(in: 0...255), radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
            let temporary = path + ".new-\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw SettingsError("cannot create the link secret \(path): \(String(cString: strerror(errno)))")
            }
            let line = Array((hex + "\n").utf8)
            let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fsync(fd)
            close(fd)
            defer { unlink(temporary) }
            guard written == line.count else { throw SettingsError("cannot write the link secret \(path)") }
            if link(temporary, path) != 0 && errno != EEXIST {
                throw SettingsError("cannot create the link secret \(path): \(String(cString: strerror(errno)))")
            }
        }
        return try load(path: path)
    }
}
