import Foundation
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--discover`: servers on one host find each other through a directory of small files, one per running server,
/// each naming its peer address and process id, and link with the secret kept beside them.
///
/// The directory is `$XDG_RUNTIME_DIR/tchatd/servers`, else `/tmp/tchatd-UID/servers`. It must belong to the
/// server's user with mode 0700 (it is created so), and its parent must belong to that user or root and be
/// writable by nobody else (or sticky, as /tmp): otherwise another user could plant entries, swap the directory or
/// read the secret. The secret (`link-secret`, 0600) is created by the first
/// server that needs it, so one user's servers on one host link with no setup, and nobody else's can. A server
/// writes `SERVERID.json` when it starts and removes it when it stops; entries whose process is gone (a crash)
/// are removed by whoever reads them.
struct DiscoveryRegistry: Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var serverID: String
        var name: String
        var peerAddress: String
        var clientAddress: String
        var pid: Int32
    }

    let directory: String

    static let secretFileName = "link-secret"

    static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") { return runtime + "/tchatd/servers" }
        return "/tmp/tchatd-\(getuid())/servers"
    }

    /// Creates the directory (and the missing ones above it) with mode 0700, then refuses it unless it and its
    /// parent are safe as described above.
    func prepare() throws(SettingsError) {
        guard directory.hasPrefix("/") else {
            throw SettingsError("the discovery directory \(directory) must be an absolute path")
        }
        var path = ""
        for component in directory.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw SettingsError(
                    "cannot create the discovery directory \(path): \(String(cString: strerror(errno)))")
            }
        }
        try Self.check(directory, exactMode: true)
        let parent = String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)])
        if !parent.isEmpty { try Self.check(parent, exactMode: false) }
    }

    private static func check(_ path: String, exactMode: Bool) throws(SettingsError) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw SettingsError("the discovery directory \(path) is not a directory")
        }
        let mode = info.st_mode & 0o777
        let octal = String(mode, radix: 8)
        if exactMode {
            guard info.st_uid == geteuid(), mode == 0o700 else {
                throw SettingsError(
                    "the discovery directory \(path) must belong to user \(geteuid()) with mode 700 "
                        + "(it has user \(info.st_uid), mode \(octal)); --discover is refused")
            }
        } else {
            // Others may not replace the directory: the parent is ours or root's, and writable by others only
            // with the sticky bit (as /tmp), which keeps them from renaming what is not theirs.
            let sticky = info.st_mode & S_ISVTX != 0
            guard info.st_uid == geteuid() || info.st_uid == 0, mode & 0o022 == 0 || sticky else {
                throw SettingsError(
                    "\(path), above the discovery directory, must belong to user \(geteuid()) or root and not be "
                        + "writable by others (it has user \(info.st_uid), mode \(octal)); --discover is refused")
            }
        }
    }

    /// The secret every server of this user on this host links with, created on first use.
    func secret() throws(SettingsError) -> LinkSecret {
        try LinkSecret.loadOrCreate(path: directory + "/" + Self.secretFileName)
    }

    func register(_ entry: Entry) throws {
        let data = try JSONEncoder().encode(entry)
        try LineFile.replaceAtomically(path: path(entry.serverID), with: Array(data))
    }

    func unregister(serverID: String) {
        unlink(path(serverID))
    }

    /// Every live server registered, but the caller's own entry; stale entries are removed on the way.
    func others(than serverID: String) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var entries: [Entry] = []
        for name in names where name.hasSuffix(".json") {
            let file = directory + "/" + name
            guard let bytes = try? LineFile.readAll(path: file),
                let entry = try? JSONDecoder().decode(Entry.self, from: Data(bytes))
            else { continue }
            guard entry.serverID != serverID else { continue }
            if kill(entry.pid, 0) != 0 && errno == ESRCH {
                unlink(file)  // that server is gone without saying so
                continue
            }
            entries.append(entry)
        }
        return entries
    }

    private func path(_ serverID: String) -> String { directory + "/" + serverID + ".json" }
}
