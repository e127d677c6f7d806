import Foundation
import Logging
import PostgresNIO
import Synchronization
import TChatServer

/// Accounts, server bans and removals in PostgreSQL (schema 5), shared by every server on the database and by
/// `tchatd account --store`: a registration on one server is known to all of them, linked or not, within the two
/// seconds `AccountBook.watchStore` takes to look.
///
/// One row per account, and one `account_book` row for the rest with a version each write moves on. A change is
/// made while its transaction holds that row's lock (`TransactionTurn`): changes on every server take turns, each
/// made to what the one before it wrote, so none undoes another and none is starved by a busier writer. What was
/// read last is kept, so an unchanged store is one small query away.
final class PostgresAccounts: AccountStorage {
    private struct Read: Sendable {
        var version: Int64
        var file: AccountsFile
    }

    /// What one change writes: the book's row, the accounts added or changed, the keys of those gone.
    private struct Write: Sendable {
        var book: String
        var keys: [String]
        var bodies: [String]
        var gone: [String]

        init(_ file: AccountsFile, over before: AccountsFile) throws {
            let old = Dictionary(before.accounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            let new = Set(file.accounts.map(\.key))
            (keys, bodies) = try PostgresAccounts.encode(file.accounts.filter { old[$0.key] != $0 })
            gone = old.keys.filter { !new.contains($0) }.sorted()
            book = try PostgresAccounts.encodeBook(file)
        }
    }

    private let client: PostgresClient
    private let seed: AccountFile?
    private let logger: Logger
    private let last = Mutex<Read?>(nil)

    /// How long one read or write may wait for the database.
    static let deadline = 10.0
    /// How long asking for the version may: it runs every 2 s, on the thread that also checks passwords.
    static let versionDeadline = 2.0

    /// `seed`: whose accounts the database starts with when it has none yet (the data directory's
    /// `accounts.json`, so that moving a server onto PostgreSQL keeps its accounts).
    init(client: PostgresClient, seed: AccountFile?, logger: Logger) {
        self.client = client
        self.seed = seed
        self.logger = logger
    }

    func load() throws -> StoredAccounts {
        let read = try current()
        return StoredAccounts(file: read.file, version: String(read.version))
    }

    func update(_ change: (inout AccountsFile) throws -> Void) throws -> StoredAccounts {
        // Never nil: the change always counts as made.
        try updateIfChanged { file in
            try change(&file)
            return true
        }!
    }

    func updateIfChanged(_ change: (inout AccountsFile) throws -> Bool) throws -> StoredAccounts? {
        if last.withLock({ $0 == nil }) { _ = try current() }  // makes the book when there is none
        let turn = TransactionTurn<Read, Write>()
        let pending = BlockingWait.start { [self] in
            do {
                return try await withDeadline(seconds: Self.deadline) { [self] in try await transact(turn) }
            } catch {
                turn.offer(.failure(error))
                throw error
            }
        }
        let before: Read
        do {
            before = try turn.read().get()
        } catch {
            // Told all the same: a task that gave up on its deadline may yet read, and must not wait for ever,
            // holding its connection.
            turn.decide(.abandon)
            _ = try? pending.wait()
            throw problem("change", error)
        }
        // Every way out from here tells the task, which holds the lock until it hears.
        var file = before.file
        let write: Write
        do {
            guard try change(&file) else {
                turn.decide(.abandon)
                _ = try? pending.wait()
                return nil
            }
            file.accounts.sort { $0.key < $1.key }
            write = try Write(file, over: before.file)
        } catch {
            turn.decide(.abandon)
            _ = try? pending.wait()
            throw error
        }
        // A task past its deadline has been given up: what it would write now would be reported as not written.
        turn.decide(pending.isFinished ? .abandon : .write(write))
        let version: Int64
        do {
            version = try pending.wait() ?? before.version
        } catch {
            throw problem("change", error)
        }
        last.withLock { $0 = Read(version: version, file: file) }
        return StoredAccounts(file: file, version: String(version))
    }

    /// The version in the database; the one last read when the database cannot be asked (nothing is reloaded
    /// during an outage, and the first look afterwards finds what changed).
    func version() -> String {
        let client = self.client
        let logger = self.logger
        let found = try? BlockingWait.run {
            try await withDeadline(seconds: Self.versionDeadline) {
                try await client.all("SELECT version FROM account_book WHERE id = 1", logger: logger).first?
                    .decode(Int64.self)
            }
        }
        return (found ?? last.withLock { $0?.version }).map { String($0) } ?? ""
    }

    // MARK: - Reading

    /// What is stored now: what was read last when the version has not moved, else every row read again; the
    /// book made (from `seed`) when there is none.
    private func current() throws -> Read {
        let client = self.client
        let logger = self.logger
        let known = last.withLock { $0 }
        let read = try run("read") { () -> Read? in
            try await client.withConnection { connection in
                let version = try await connection.all(
                    "SELECT version FROM account_book WHERE id = 1", logger: logger
                ).first?.decode(Int64.self)
                guard let version else { return nil }
                if let known, known.version == version { return known }
                return try await Self.readAll(connection, logger: logger)
            }
        }
        if let read {
            last.withLock { $0 = read }
            return read
        }
        try create()
        return try current()
    }

    /// Every row, nil when there is no book yet. Both in one statement, so of one snapshot.
    private static func readAll(_ connection: PostgresConnection, logger: Logger) async throws -> Read? {
        let rows = try await connection.all(
            """
            SELECT version, body::text,
                (SELECT coalesce(json_agg(a.body ORDER BY a.key), '[]'::json) FROM accounts a)::text
            FROM account_book WHERE id = 1
            """, logger: logger)
        guard let row = rows.first else { return nil }
        let (found, book, accounts) = try row.decode((Int64, String, String).self)
        return Read(version: found, file: try decode(book: book, accounts: accounts))
    }

    private static func decode(book: String, accounts: String) throws -> AccountsFile {
        do {
            var file = try JSONDecoder().decode(AccountsFile.self, from: Data(book.utf8))
            file.accounts = try JSONDecoder().decode([Account].self, from: Data(accounts.utf8))
            guard file.version == 1 else {
                throw StoreProblem("the account_book row is version \(file.version); this tchatd reads version 1")
            }
            guard file.secretBytes.count >= 16 else { throw StoreProblem("the account_book row has no decoy secret") }
            return file
        } catch let error as StoreProblem {
            throw error
        } catch {
            throw StoreProblem("the accounts tables cannot be read: \(error)")
        }
    }

    // MARK: - Writing

    /// Makes the book, with `seed`'s accounts or none; another server making it at the same time wins quietly.
    private func create() throws {
        let file = try seed?.existing() ?? .empty()
        let book = try Self.encodeBook(file)
        let (keys, bodies) = try Self.encode(file.accounts)
        let client = self.client
        let logger = self.logger
        let made = try run("create") {
            try await client.withConnection { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    let made = try await connection.all(
                        """
                        INSERT INTO account_book (id, version, body) VALUES (1, 1, \(book)::jsonb)
                        ON CONFLICT (id) DO NOTHING RETURNING id
                        """, logger: logger)
                    guard !made.isEmpty else { return false }
                    try await Self.upsert(keys: keys, bodies: bodies, on: connection, logger: logger)
                    return true
                }
            }
        }
        if made, !file.accounts.isEmpty {
            logger.notice(
                "accounts brought into the store from accounts.json", metadata: ["accounts": "\(file.accounts.count)"])
        }
    }

    /// One change in one transaction: the book's row locked (so changes on every server take turns, each made to
    /// what the one before wrote), what is stored offered to the caller, and what it decided written. Returns the
    /// new version, or nil when the caller wrote nothing.
    private func transact(_ turn: TransactionTurn<Read, Write>) async throws -> Int64? {
        let logger = self.logger
        let known = last.withLock { $0 }
        return try await client.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                let locked = try await connection.all(
                    "SELECT version FROM account_book WHERE id = 1 FOR UPDATE", logger: logger)
                guard let version = try locked.first?.decode(Int64.self) else {
                    throw StoreProblem("the account_book row is gone")
                }
                let read: Read
                if let known, known.version == version {
                    read = known
                } else {
                    guard let all = try await Self.readAll(connection, logger: logger) else {
                        throw StoreProblem("the account_book row is gone")
                    }
                    read = all
                }
                turn.offer(.success(read))
                guard case .write(let write) = await turn.decision(), !Task.isCancelled else { return nil }
                try await Self.upsert(keys: write.keys, bodies: write.bodies, on: connection, logger: logger)
                if !write.gone.isEmpty {
                    try await connection.all(
                        "DELETE FROM accounts WHERE key = ANY(\(write.gone)::text[])", logger: logger)
                }
                return try await connection.all(
                    "UPDATE account_book SET version = version + 1, body = \(write.book)::jsonb WHERE id = 1 RETURNING version",
                    logger: logger
                ).first?.decode(Int64.self)
            }
        }
    }

    private static func upsert(
        keys: [String], bodies: [String], on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !keys.isEmpty else { return }
        try await connection.all(
            """
            INSERT INTO accounts (key, body)
            SELECT k, b::jsonb FROM unnest(\(keys)::text[], \(bodies)::text[]) AS t(k, b)
            ON CONFLICT (key) DO UPDATE SET body = excluded.body
            """, logger: logger)
    }

    /// The book's row: everything but the accounts.
    private static func encodeBook(_ file: AccountsFile) throws -> String {
        var book = file
        book.accounts = []
        return String(decoding: try JSONEncoder().encode(book), as: UTF8.self)
    }

    private static func encode(_ accounts: [Account]) throws -> (keys: [String], bodies: [String]) {
        let encoder = JSONEncoder()
        return (accounts.map(\.key), try accounts.map { String(decoding: try encoder.encode($0), as: UTF8.self) })
    }

    /// Runs `work` from this blocking thread, within the deadline; what went wrong said as the database said it.
    private func run<T: Sendable>(_ what: String, _ work: @escaping @Sendable () async throws -> T) throws -> T {
        do {
            return try BlockingWait.run { try await withDeadline(seconds: Self.deadline, work) }
        } catch {
            throw problem(what, error)
        }
    }

    private func problem(_ what: String, _ error: any Error) -> StoreProblem {
        let error = PostgresCommitLog.unwrap(error)
        if let problem = error as? StoreProblem { return problem }
        return StoreProblem("accounts: cannot \(what) in the store: \(PostgresDatabase.describe(error))")
    }
}
