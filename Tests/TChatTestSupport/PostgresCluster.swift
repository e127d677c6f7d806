import Foundation
import Logging
public import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// A PostgreSQL cluster of the test's own: initdb in a temporary directory, on a free loopback port, run as an
/// unprivileged user (PostgreSQL refuses root), stopped and removed by `stop()`. Never one that happens to run.
public final class PostgresCluster: Sendable {
    /// Debian's binaries, the newest installed.
    public static let binaries: String? = {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap { Int($0) }
        guard let newest = versions.max() else { return nil }
        let bin = "\(root)/\(newest)/bin"
        return FileManager.default.isExecutableFile(atPath: "\(bin)/initdb") ? bin : nil
    }()

    public let directory: String
    public let port: Int
    public let user = "tchat"

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init() throws {
        guard let bin = Self.binaries else { throw Failure(description: "PostgreSQL is not installed") }
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("tchat-pg-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        if getuid() == 0 { try Self.run("/bin/chown", ["nobody:nogroup", directory]) }
        try Self.run(
            "\(bin)/initdb", ["-D", "\(directory)/data", "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"])
        try startServer()
    }

    /// Starts the cluster's server (again), on the same port. fsync off: a test cluster need not survive a power
    /// cut, and fsync would only slow the tests.
    public func startServer() throws {
        guard let bin = Self.binaries else { throw Failure(description: "PostgreSQL is not installed") }
        try Self.run(
            "\(bin)/pg_ctl",
            [
                "-D", "\(directory)/data", "-l", "\(directory)/log", "-w", "-o",
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
                "start",
            ])
    }

    /// Stops the server at once (as a crash or a cut cable would), keeping the data for `startServer`.
    public func stopServer() throws {
        guard let bin = Self.binaries else { throw Failure(description: "PostgreSQL is not installed") }
        try Self.run("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
    }

    /// Stops the cluster at once and removes its files; safe to call twice.
    public func stop() {
        if let bin = Self.binaries, FileManager.default.fileExists(atPath: "\(directory)/data/postmaster.pid") {
            try? Self.run("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func connect(database: String = "postgres") async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration: .init(
                host: "127.0.0.1", port: port, username: user, password: nil, database: database, tls: .disable),
            id: 1, logger: Logger(label: "test"))
    }

    /// A new empty database in the cluster.
    public func createDatabase(_ name: String) async throws {
        let connection = try await connect()
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Logger(label: "test"))
        try await connection.close()
    }

    /// Runs a PostgreSQL tool, as `nobody` when we are root; throws with its output when it fails. Marked as the
    /// tests' own (TCHAT_TEST_RUN), so a server left running is found by CI's check.
    ///
    /// Spawned directly and reaped with `waitpid`, as `Tmux` does: the test process blocks most signals, and
    /// Foundation's `Process` never saw pg_ctl exit. The output goes to a file, not a pipe: the server pg_ctl
    /// starts would hold a pipe open for ever. Every spawn starts with no signal blocked and default handlers, so
    /// the server hears pg_ctl's signals.
    public static func run(_ tool: String, _ arguments: [String]) throws {
        let asNobody = getuid() == 0 && !tool.hasPrefix("/bin/")
        let argv =
            (asNobody
                ? ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", tool] : [tool])
            + arguments
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("tchat-pg-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours: sockets are not close-on-exec, and a PostgreSQL started while a test's tchatd runs
        // would hold that server's listening ports and its clients' connections open (a closed connection's peer
        // never saw the end of it).
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap {
            Int32($0)
        }
        for descriptor in open where descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGCHLD, SIGPIPE, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var environment = ProcessInfo.processInfo.environment
        environment["TCHAT_TEST_RUN"] = "postgres"
        environment["LC_ALL"] = "C.UTF-8"
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in cEnvironment { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment)
        guard spawned == 0 else { throw Failure(description: "cannot run \(tool): \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // Exited normally with status 0: the low 7 bits are 0 (no signal) and the next 8 the exit code.
        guard status & 0x7F == 0, (status >> 8) & 0xFF == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw Failure(description: "\(tool) failed (status \(status)): \(text)")
        }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
