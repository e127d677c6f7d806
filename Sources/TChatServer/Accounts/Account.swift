import Foundation
import TChatAuth
import TChatProtocol

/// A registered account: the nick it owns, what checks its password, and what belongs to it.
///
/// Two forms of the password are kept, both one-way: the scrypt hash for a password sent whole (PLAIN over TLS,
/// changing a password, dropping the account) and the SCRAM keys for a login that never sends it.
package struct Account: Sendable, Equatable {
    /// The nick as registered; the account is found by its skeleton (`Nick.key(for:)`).
    package var name: String
    var password: PasswordHash
    var scram: ScramKeys
    var created: Timestamp
    /// When its password or welcome text last changed: of two copies (linked servers'), the newer is kept.
    var updated: Timestamp
    /// Shown in this account's welcomes (SET_WELCOME); nobody else can read or change it.
    var welcome: String

    package var key: String { Nick.key(for: name) }

    /// A time after every change so far: now, or just after `updated` when this server's clock is behind the one
    /// that made the last change (a change that seemed older would lose to the copy it replaces).
    var nextChange: Timestamp { .now(after: updated) }

    init(
        name: String, password: PasswordHash, scram: ScramKeys, created: Timestamp, updated: Timestamp? = nil,
        welcome: String
    ) {
        self.name = name
        self.password = password
        self.scram = scram
        self.created = created
        self.updated = updated ?? created
        self.welcome = welcome
    }
}

extension Account: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, password, scramSalt, scramIterations, scramStoredKey, scramServerKey, created, updated, welcome
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        password = try container.decode(PasswordHash.self, forKey: .password)
        let iterations = try container.decode(Int.self, forKey: .scramIterations)
        guard iterations >= ScramKeys.minimumIterations, iterations <= ScramClient.maximumIterations else {
            throw DecodingError.dataCorruptedError(
                forKey: .scramIterations, in: container, debugDescription: "\(iterations) is not a usable count")
        }
        scram = ScramKeys(
            salt: try Self.bytes(.scramSalt, in: container), iterations: iterations,
            storedKey: try Self.bytes(.scramStoredKey, in: container, count: 32),
            serverKey: try Self.bytes(.scramServerKey, in: container, count: 32))
        let createdText = try container.decode(String.self, forKey: .created)
        guard let time = Timestamp(iso8601: createdText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .created, in: container, debugDescription: "\(createdText) is not a time")
        }
        created = time
        // Absent in files written before accounts were shared between servers.
        updated = try container.decodeIfPresent(String.self, forKey: .updated).flatMap(Timestamp.init(iso8601:)) ?? time
        welcome = try container.decodeIfPresent(String.self, forKey: .welcome) ?? ""
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(password, forKey: .password)
        try container.encode(Data(scram.salt).base64EncodedString(), forKey: .scramSalt)
        try container.encode(scram.iterations, forKey: .scramIterations)
        try container.encode(Data(scram.storedKey).base64EncodedString(), forKey: .scramStoredKey)
        try container.encode(Data(scram.serverKey).base64EncodedString(), forKey: .scramServerKey)
        try container.encode(created.iso8601, forKey: .created)
        try container.encode(updated.iso8601, forKey: .updated)
        try container.encode(welcome, forKey: .welcome)
    }

    private static func bytes(
        _ key: CodingKeys, in container: KeyedDecodingContainer<CodingKeys>, count: Int? = nil
    ) throws -> [UInt8] {
        let text = try container.decode(String.self, forKey: key)
        guard let data = Data(base64Encoded: text), !data.isEmpty, count == nil || data.count == count else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not base64 bytes")
        }
        return Array(data)
    }
}

/// A server operator's ban of an account (`account:KEY`) or an address (`address:IP`) from the whole server.
package struct ServerBan: Codable, Sendable, Equatable {
    var mask: String
    var reason: String
    var by: String
    var time: String
}

/// An account dropped (by name) or a server ban lifted (by mask), at `time` (ISO 8601).
package struct Removal: Codable, Sendable, Equatable {
    var name: String
    var time: String
}

/// The whole of `accounts.json` (mode 0600).
package struct AccountsFile: Codable, Sendable, Equatable {
    package var version: Int
    /// Base64 of 32 random bytes: the server's secret for decoy SCRAM salts, so that asking about an account that
    /// does not exist answers the same before and after a restart.
    package var decoySecret: String
    package var accounts: [Account]
    /// Absent in files written before there were server bans.
    package var serverBans: [ServerBan]?
    /// Accounts dropped and server bans lifted, and when: an older copy from a linked server that missed the
    /// removal does not bring them back (`AccountSync`). Absent in files written before accounts were shared.
    package var dropped: [Removal]?
    package var unbanned: [Removal]?

    package static func empty() -> AccountsFile {
        AccountsFile(version: 1, decoySecret: Data(RandomBytes.make(32)).base64EncodedString(), accounts: [])
    }

    package var secretBytes: [UInt8] { Data(base64Encoded: decoySecret).map(Array.init) ?? [] }
}

extension Timestamp {
    /// Now, or 1 ms after `last` when this server's clock is behind whoever made `last`: a change dated so is never
    /// older than the one it follows (of two copies on linked servers, the newer is kept).
    static func now(after last: Timestamp) -> Timestamp {
        let now = Timestamp.now()
        let (after, overflow) = last.milliseconds.addingReportingOverflow(1)
        return overflow || now.milliseconds > after ? now : Timestamp(milliseconds: after)
    }
}
