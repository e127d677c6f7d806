/// An account and its password, kept only in memory and never printed: `description` hides the password, so a
/// stray log line or `print` cannot show it.
public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var account: String
    public var password: String

    public init(account: String, password: String) {
        self.account = account
        self.password = password
    }

    public var description: String { "account \(account) (password hidden)" }
    public var debugDescription: String { description }
}
