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
    case multiline = "draft/multiline"
    case sasl
    case serverTime = "server-time"
    case userhostInNames = "userhost-in-names"

    /// The LS entry: `sasl` names its mechanisms and `draft/multiline` its limits for CAP 302 clients.
    func listing(facts: IRCServerFacts, version302: Bool) -> String {
        guard version302 else { return rawValue }
        switch self {
        case .sasl: return "sasl=" + facts.saslMechanisms.joined(separator: ",")
        case .multiline:
            return rawValue + "=max-bytes=\(IRCMultilineBatch.maxBytes),max-lines=\(IRCMultilineBatch.maxLines)"
        default: return rawValue
        }
    }

    /// Whether the server offers it: no `sasl` where there are no accounts.
    static func offered(by facts: IRCServerFacts) -> [IRCCapability] {
        allCases.filter { $0 != .sasl || !facts.saslMechanisms.isEmpty }
    }
}
