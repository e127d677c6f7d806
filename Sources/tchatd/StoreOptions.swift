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

    func apply(to configuration: inout ServerConfiguration) throws {
        guard let (address, password) = try location() else { return }
        let name = configuration.name
        configuration.storage = { files, serverID, logger in
            try PostgresStorage(
                address: address, password: password, files: files, serverID: serverID, serverName: name,
                logger: logger)
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
