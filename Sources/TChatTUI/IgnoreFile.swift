import Foundation
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where `/ignore` keeps its list between starts: `ignored` beside the configuration file, one nick a line.
/// A plain list, so it can be edited by hand; lines that are not nicks are skipped on reading.
public struct IgnoreFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Beside `config.json`: `$XDG_CONFIG_HOME/tchat/ignored`, else `~/.config/tchat/ignored`.
    public init(environment: [String: String]) {
        let config = ClientSettings.configPath(environment: environment)
        path = String(config.dropLast("config.json".count)) + "ignored"
    }

    /// The nicks listed, lower-cased; none when there is no file.
    public func load() -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var seen = Set<String>()
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { Nick.problem(with: $0) == nil }.map { $0.lowercased() }
            .filter { seen.insert(Nick.key(for: $0)).inserted }
    }

    /// Writes the list whole (written aside, then renamed, so a crash leaves the old list or the new one), readable
    /// by its owner only. Returns what went wrong, in a sentence.
    public func save(_ nicks: [String]) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let temporary = path + ".new"
            let text = nicks.map { $0 + "\n" }.joined()
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else { return "cannot write \(temporary)" }
            guard rename(temporary, path) == 0 else {
                return "cannot save the ignore list to \(path): \(String(cString: strerror(errno)))"
            }
            return nil
        } catch {
            return "cannot save the ignore list to \(path): \(error.localizedDescription)"
        }
    }
}
