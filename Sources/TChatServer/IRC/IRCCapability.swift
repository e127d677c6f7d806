/// The IRCv3 capabilities this server offers (CAP LS), each one it honours in full.
enum IRCCapability: String, CaseIterable, Sendable {
    case accountNotify = "account-notify"
    case awayNotify = "away-notify"
    case batch
    case capNotify = "cap-notify"
    case chatHistory = "draft/chathistory"
    case echoMessage = "echo-message"
    case extendedJoin = "extended-join"
    case messageTags = "message-tags"
    case multiPrefix = "multi-prefix"
    case sasl
    case serverTime = "server-time"
    case userhostInNames = "userhost-in-names"

    /// The LS entry: `sasl` names its mechanisms for CAP 302 clients.
    func listing(facts: IRCServerFacts, version302: Bool) -> String {
        guard self == .sasl, version302 else { return rawValue }
        return "sasl=" + facts.saslMechanisms.joined(separator: ",")
    }

    /// Whether the server offers it: no `sasl` where there are no accounts.
    static func offered(by facts: IRCServerFacts) -> [IRCCapability] {
        allCases.filter { $0 != .sasl || !facts.saslMechanisms.isEmpty }
    }
}
