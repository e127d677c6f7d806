import TChatAuth
public import TChatProtocol

/// What `tchatd account` does to a data directory's accounts, running server or not: the file is changed under
/// its lock and a running server reads it again within two seconds.
public enum AccountAdministration {
    /// Creates the account `name`; throws when the nick is invalid or registered already, or the password too weak.
    public static func add(
        _ name: String, password: String, dataDirectory: String,
        iterations: Int = 600_000
    ) throws {
        let nick = try Nick(validating: name)
        try AccountBook.checkNewPassword(password)
        let account = Account(
            name: nick.name, password: try PasswordHash.make(password: password),
            scram: try ScramKeys(
                password: password, salt: RandomBytes.make(ScramKeys.saltLength), iterations: iterations),
            created: .now(), welcome: "")
        _ = try AccountFile(directory: dataDirectory).update { file in
            guard !file.accounts.contains(where: { $0.key == nick.key }) else {
                throw ProtocolError(.alreadyRegistered, "the account \(nick.name) exists already")
            }
            file.accounts.append(account)
            file.dropped?.removeAll { Nick.key(for: $0.name) == nick.key }
        }
    }

    /// Sets a new password for `name` (an operator's reset: the old one is not asked for).
    public static func setPassword(
        _ name: String, password: String, dataDirectory: String,
        iterations: Int = 600_000
    ) throws {
        try AccountBook.checkNewPassword(password)
        let key = Nick.key(for: name)
        let hash = try PasswordHash.make(password: password)
        let scram = try ScramKeys(
            password: password, salt: RandomBytes.make(ScramKeys.saltLength), iterations: iterations)
        _ = try AccountFile(directory: dataDirectory).update { file in
            guard let index = file.accounts.firstIndex(where: { $0.key == key }) else {
                throw ProtocolError(.noSuchNick, "there is no account \(name)")
            }
            file.accounts[index].password = hash
            file.accounts[index].scram = scram
            file.accounts[index].updated = file.accounts[index].nextChange
        }
    }

    /// Deletes the account `name`; its nick is free again.
    public static func drop(_ name: String, dataDirectory: String) throws {
        let key = Nick.key(for: name)
        _ = try AccountFile(directory: dataDirectory).update { file in
            guard let account = file.accounts.first(where: { $0.key == key }) else {
                throw ProtocolError(.noSuchNick, "there is no account \(name)")
            }
            file.accounts.removeAll { $0.key == key }
            // Kept, so that a linked server's older copy does not bring it back.
            file.note(Removal(name: account.name, time: account.nextChange.iso8601), in: \.dropped, now: .now())
        }
    }

    /// Every account's name and when it was created, sorted by name.
    public static func list(dataDirectory: String) throws -> [(name: String, created: Timestamp)] {
        try AccountFile(directory: dataDirectory).load().accounts.map { ($0.name, $0.created) }
            .sorted { Nick.key(for: $0.name) < Nick.key(for: $1.name) }
    }
}
