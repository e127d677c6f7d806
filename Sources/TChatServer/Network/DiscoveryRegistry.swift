import Foundation
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--discover`: servers on one host find each other through a directory of small files, one per running server,
/// each naming its peer address and process id.
///
/// The directory is `$XDG_RUNTIME_DIR/tchatd/servers`, else `/tmp/tchatd-UID/servers` (created with mode 0700). A
/// server writes `SERVERID.json` when it starts and removes it when it stops; entries whose process is gone (a
/// crash) are removed by whoever reads them.
struct DiscoveryRegistry: Sendable {
    struct Entry: Codable, Sendable, Equatable {
        var serverID: String
        var name: String
        var peerAddress: String
        var clientAddress: String
        var pid: Int32
    }

    let directory: String

    static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") { return runtime + "/tchatd/servers" }
        return "/tmp/tchatd-\(getuid())/servers"
    }

    func register(_ entry: Entry) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
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
