import ArgumentParser
import Foundation
import Logging
import TChatPostgres
import TChatServer

/// Where channels and messages are kept: the data directory's JSON files by default, or PostgreSQL (`--store`),
/// whose password never appears on the command line.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "Keep channels and messages in PostgreSQL (postgres://USER@HOST:PORT/DATABASE[?sslmode=disable|require]) "
                + "instead of the data directory's files.",
            valueName: "url"))
    var store: String?

    @Option(
        name: .customLong("store-password-file"),
        help: ArgumentHelp(
            "File holding --store's password (mode 600); else TCHAT_STORE_PASSWORD, else none.", valueName: "file"))
    var passwordFile: String?

    /// The store's address and password; nil for the data directory's files.
    func location() throws -> (address: PostgresStoreAddress, password: String?)? {
        guard let store else {
            if passwordFile != nil { throw ValidationError("--store-password-file is for --store") }
            return nil
        }
        let address: PostgresStoreAddress
        do {
            address = try PostgresStoreAddress(parsing: store)
        } catch {
            throw ValidationError("--store: \(error)")
        }
        let password =
            try passwordFile.map(Self.readPassword) ?? ProcessInfo.processInfo.environment["TCHAT_STORE_PASSWORD"]
        return (address, password)
    }

    func apply(to configuration: inout ServerConfiguration, pacing: CommitPacingOption) throws {
        guard let (address, password) = try location() else {
            if pacing.commitInterval != nil { throw ValidationError("--store-commit-interval is for --store") }
            return
        }
        let interval = try pacing.interval()
        configuration.storeFlags = "\(address)"
        configuration.storeCommitInterval = "\(interval)"
        let name = configuration.name
        configuration.storage = { files, serverID, logger in
            try PostgresStorage(
                address: address, password: password, files: files, serverID: serverID, serverName: name,
                commitInterval: interval, logger: logger)
        }
    }

    /// Runs `body` on the accounts `tchatd account` changes: the data directory's, or the database's with `--store`
    /// (whose first use brings along the data directory's `accounts.json`, as a server's would).
    func withAccounts<T>(directory: String, _ body: (any AccountStorage) throws -> T) throws -> T {
        guard let (address, password) = try location() else { return try body(AccountFile(directory: directory)) }
        var logger = Logger(label: "tchatd.account")
        logger.logLevel = .warning
        let database = try PostgresDatabase(address: address, password: password, logger: logger)
        defer { database.closeNow() }
        return try body(database.accounts(seed: AccountFile(directory: directory), logger: logger))
    }

    /// The password file's first line; refused when group or others may read it.
    static func readPassword(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ValidationError("--store-password-file: cannot read \(path)") }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw ValidationError(
                "--store-password-file: \(path) is readable by group or others (mode \(mode)): chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).first, !line.isEmpty
        else {
            throw ValidationError("--store-password-file: \(path) holds no password on its first line")
        }
        return String(line)
    }
}

/// How often a server on PostgreSQL may start a batch of messages: the server's own, not `tchatd account`'s.
struct CommitPacingOption: ParsableArguments {
    @Option(
        name: .customLong("store-commit-interval"),
        help: ArgumentHelp(
            "With --store: the least time from the start of one batch of messages to the next, 0-1000 ms "
                + "(default: \(Self.defaultCommitInterval)); 0 starts each as soon as the last is committed.",
            valueName: "ms"))
    var commitInterval: Int?

    /// Milliseconds. A busy server then commits at most 125 batches a second, each fuller: on two cores shared
    /// with PostgreSQL this cut the p99 acknowledgement at 5,000 messages/s across three servers from 27-38 ms to
    /// 15-22 ms, as every commit costs the database, its disk and every listening server about as much whatever
    /// it carries (`bench/pg-throughput.py`, bench/RESULTS.md).
    static let defaultCommitInterval = 8

    func interval() throws -> Duration {
        let milliseconds = commitInterval ?? Self.defaultCommitInterval
        guard (0...1000).contains(milliseconds) else {
            throw ValidationError("--store-commit-interval: \(milliseconds) is not 0 to 1000 milliseconds")
        }
        return .milliseconds(milliseconds)
    }
}
