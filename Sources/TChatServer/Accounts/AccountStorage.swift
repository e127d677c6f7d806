import Foundation
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where accounts persist: `accounts.json` in the data directory by default, or PostgreSQL with `--store`, where
/// every server of a network reads and writes the same ones.
///
/// Every call blocks (disk, a lock, a database): call it on a thread pool or before the server accepts anyone,
/// never on an event loop.
package protocol AccountStorage: Sendable {
    /// What is stored, creating an empty store (with a fresh decoy secret) when there is none.
    func load() throws -> StoredAccounts
    /// Applies `change` to what is stored now (not to what this process last read), so that a running server,
    /// another server on the same store and `tchatd account` never undo each other's changes; returns what is
    /// stored afterwards. `change` may run more than once (a store that lost a race reads again and retries), so
    /// it changes nothing but the file it is given.
    func update(_ change: (inout AccountsFile) throws -> Void) throws -> StoredAccounts
    /// As `update`, but writes only when `change` says it changed something; nil when it did not.
    func updateIfChanged(_ change: (inout AccountsFile) throws -> Bool) throws -> StoredAccounts?
    /// Something that changes whenever another process changed the store, cheap to ask.
    func version() -> String
}

/// What a store holds and its version as of that read or write, taken together: a version asked for afterwards
/// could already include someone else's change, which the reader would then never read.
package struct StoredAccounts: Sendable {
    package var file: AccountsFile
    package var version: String

    package init(file: AccountsFile, version: String) {
        self.file = file
        self.version = version
    }
}

/// `accounts.json`, mode 0600, written whole and atomically under an exclusive `flock` of `accounts.lock`.
///
/// A whole-file rewrite per change is fine at the rate accounts change (a registration costs 200 ms of hashing
/// anyway); the file stays one a person can read with `jq`, hashes and keys only.
package struct AccountFile: AccountStorage {
    let directory: String
    let path: String
    let lockPath: String

    package init(directory: String) {
        self.directory = directory
        path = directory + "/accounts.json"
        lockPath = directory + "/accounts.lock"
    }

    package func load() throws -> StoredAccounts {
        try locked { StoredAccounts(file: try read() ?? write(.empty()), version: version()) }
    }

    /// What the file holds, or nil when there is none; never creates it.
    package func existing() throws -> AccountsFile? {
        try locked { try read() }
    }

    package func update(_ change: (inout AccountsFile) throws -> Void) throws -> StoredAccounts {
        try locked {
            var file = try read() ?? .empty()
            try change(&file)
            return StoredAccounts(file: try write(file), version: version())
        }
    }

    package func updateIfChanged(_ change: (inout AccountsFile) throws -> Bool) throws -> StoredAccounts? {
        try locked {
            var file = try read() ?? .empty()
            guard try change(&file) else { return nil }
            return StoredAccounts(file: try write(file), version: version())
        }
    }

    package func version() -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "" }
        return "\(info.st_ino) \(info.st_mtim.tv_sec) \(info.st_mtim.tv_nsec) \(info.st_size)"
    }

    private func read() throws -> AccountsFile? {
        guard let bytes = try LineFile.readAll(path: path) else { return nil }
        // A copy left readable by others (restored from a backup, say) is closed first, then read.
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 { _ = chmod(path, 0o600) }
        do {
            let file = try JSONDecoder().decode(AccountsFile.self, from: Data(bytes))
            guard file.version == 1 else {
                throw StorageError("\(path) is version \(file.version); this tchatd reads version 1")
            }
            guard file.secretBytes.count >= 16 else { throw StorageError("\(path) has no usable decoySecret") }
            return file
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError("\(path) is not an accounts file: \(error)")
        }
    }

    private func write(_ file: AccountsFile) throws -> AccountsFile {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var sorted = file
        sorted.accounts.sort { $0.key < $1.key }
        let bytes = Array(try encoder.encode(sorted)) + [UInt8(ascii: "\n")]
        try LineFile.replaceAtomically(path: path, with: bytes, mode: 0o600)
        return sorted
    }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        // `tchatd account add` may come before the server ever ran.
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StorageError("cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError.system("cannot open", lockPath) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StorageError.system("cannot lock", lockPath) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
