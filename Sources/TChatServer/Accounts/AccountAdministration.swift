import TChatAuth
package import TChatProtocol

/// What `tchatd account` does to the accounts, running server or not: a data directory's `accounts.json`, changed
/// under its lock, or the database of `--store`, changed as a server changes it (`PostgresAccounts`); a running
/// server reads the change within two seconds.
package enum AccountAdministration {
    /// Creates the account `name`; throws when the nick is invalid or registered already, or the password too weak.
    package static func add(
        _ name: String, password: String, in storage: any AccountStorage,
        iterations: Int = 600_000
    ) throws {
        let nick = try Nick(validating: name)
        try AccountBook.checkNewPassword(password)
        let account = Account(
            name: nick.name, password: try PasswordHash.make(password: password),
            scram: try ScramKeys(
                password: password, salt: RandomBytes.make(ScramKeys.saltLength), iterations: iterations),
            created: .now(), welcome: "")
        _ = try storage.update { file in
            guard !file.accounts.contains(where: { $0.key == nick.key }) else {
                throw ProtocolError(.alreadyRegistered, "the account \(nick.name) exists already")
            }
            file.accounts.append(account)
            file.dropped?.removeAll { Nick.key(for: $0.name) == nick.key }
        }
    }

    /// Sets a new password for `name` (an operator's reset: the old one is not asked for).
    package static func setPassword(
        _ name: String, password: String, in storage: any AccountStorage,
        iterations: Int = 600_000
    ) throws {
        try AccountBook.checkNewPassword(password)
        let key = Nick.key(for: name)
        let hash = try PasswordHash.make(password: password)
        let scram = try ScramKeys(
            password: password, salt: RandomBytes.make(ScramKeys.saltLength), iterations: iterations)
        _ = try storage.update { file in
            guard let index = file.accounts.firstIndex(where: { $0.key == key }) else {
                throw ProtocolError(.noSuchNick, "there is no account \(name)")
            }
            file.accounts[index].password = hash
            file.accounts[index].scram = scram
            file.accounts[index].updated = file.accounts[index].nextChange
        }
    }

    /// Deletes the account `name`; its nick is free again.
    package static func drop(_ name: String, in storage: any AccountStorage) throws {
        let key = Nick.key(for: name)
        _ = try storage.update { file in
            guard let account = file.accounts.first(where: { $0.key == key }) else {
                throw ProtocolError(.noSuchNick, "there is no account \(name)")
            }
            file.accounts.removeAll { $0.key == key }
            // Kept, so that a linked server's older copy does not bring it back.
            file.note(Removal(name: account.name, time: account.nextChange.iso8601), in: \.dropped, now: .now())
        }
    }

    /// Every account's name and when it was created, sorted by name.
    package static func list(in storage: any AccountStorage) throws -> [(name: String, created: Timestamp)] {
        try storage.load().file.accounts.map { ($0.name, $0.created) }
            .sorted { Nick.key(for: $0.name) < Nick.key(for: $1.name) }
    }
}
