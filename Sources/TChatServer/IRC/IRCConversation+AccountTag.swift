import TChatIRC

/// IRCv3 `account-tag`: every line a user is the source of carries `account=NAME` while that user is logged in,
/// so a bot can trust who asked without a WHOIS that may come too late.
///
/// tchat's messages carry no account, so the account is the one the nick's holder is logged in to when the line
/// goes out (as the spec puts it, the sender's current account), read once per line here and once per message
/// and loop for the shared channel lines (`IRCRenderCache`). A nick registered to an account is only ever held by
/// that account's sessions; only an unregistered nick that changes hands while a line is on its way could show
/// its next holder's account.
extension IRCConversation {
    /// `lines` with the account tag added where it belongs, for a client that asked for it.
    func withAccountTags(_ lines: [IRCMessage]) -> [IRCMessage] {
        guard capabilities.contains(.accountTag) else { return lines }
        return lines.map { line in
            guard let nick = Self.accountTagNick(line) else { return line }
            let account = facts.accountOf(nick)
            guard !account.isEmpty else { return line }
            var tagged = line
            tagged.tags.append(IRCTag("account", account))
            return tagged
        }
    }

    /// The nick whose account `line` should carry: a user's line without one yet. Lines inside a batch are left
    /// alone: a multi-line message's account is on its BATCH line, and CHATHISTORY's messages are old, from
    /// whoever held the nick then.
    static func accountTagNick(_ line: IRCMessage) -> String? {
        guard let source = line.source, source.hasSuffix("@" + userHost),
            let bang = source.firstIndex(of: "!"),
            !line.tags.contains(where: { $0.key == "batch" || $0.key == "account" }),
            !(line.command == "BATCH" && line.params.first?.hasPrefix("-") == true)
        else { return nil }
        return String(source[..<bang])
    }
}
