import TChatIRC
import TChatProtocol

/// MODE: a channel's modes, its ban list and changes (one tchat CHANNEL_MODE each), and the user's own modes.
extension IRCConversation {
    mutating func mode(_ message: IRCMessage) {
        let target = message.params[0]
        guard target.hasPrefix("#") else {
            userMode(message)
            return
        }
        guard message.params.count > 1 else {
            request(.channelMode(channel: target, change: ""), .modeQuery(channel: target))
            return
        }
        let modes = message.params[1]
        if modes == "b" || modes == "+b", message.params.count == 2 {
            request(.channelMode(channel: target, change: ""), .banList(channel: target))
            return
        }
        var arguments = message.params.dropFirst(2).makeIterator()
        var adding = true
        var changes: [String] = []
        var listsBans = false
        // One line carries at most MODES changes, and the first letter in error ends it: a 510-byte line of
        // `bbbb…` or unknown letters is one answer, not hundreds.
        letters: for letter in modes {
            guard changes.count < Self.maxModeChanges else {
                notice("MODE: only \(Self.maxModeChanges) changes at a time (MODES); the rest were not made")
                break
            }
            switch letter {
            case "+": adding = true
            case "-": adding = false
            case "i", "m", "s", "t":
                changes.append((adding ? "+" : "-") + String(letter))
            case "k" where !adding:
                _ = arguments.next()  // `-k` may name the key; tchat needs none
                changes.append("-k")
            case "k", "o", "v", "b":
                guard let argument = arguments.next() else {
                    if letter == "b" {
                        listsBans = true
                        continue
                    }
                    numeric(.needMoreParams, "MODE", "Not enough parameters")
                    break letters
                }
                guard let value = letter == "b" ? banMask(argument) : argument else { break letters }
                changes.append((adding ? "+" : "-") + String(letter) + " " + value)
            default:
                // `n` too: tchat has no such mode (outsiders may message a channel unless it is +i, +k or +s).
                numeric(.unknownMode, String(letter), "is an unknown mode char to me")
                break letters
            }
        }
        if listsBans { request(.channelMode(channel: target, change: ""), .banList(channel: target)) }
        for change in changes {
            request(.channelMode(channel: target, change: change), .modeChange(channel: target))
        }
    }

    /// An IRC ban mask as tchat takes it: `nick!user@host` bans by its nick pattern (tchat shows no hosts), and
    /// `$a:NAME` (the extban of InspIRCd and Ergo) bans an account. Nil, after telling the client, for a mask that
    /// names only a host: as a nick pattern, `*` would ban everyone.
    mutating func banMask(_ mask: String) -> String? {
        if mask.hasPrefix("$a:") { return "account:" + mask.dropFirst(3) }
        if mask.hasPrefix("account:") { return mask }
        let nickPart = String(mask.prefix { $0 != "!" && $0 != "@" })
        guard nickPart.contains(where: { $0 != "*" && $0 != "?" }) else {
            notice("tchat bans nicks and accounts, not hosts: ban \(IRCMessage.word(mask)) by nick or as $a:ACCOUNT")
            return nil
        }
        return nickPart
    }

    /// The user's own modes: `i` and `w` are kept (they change nothing here); another user's cannot be changed.
    private mutating func userMode(_ message: IRCMessage) {
        let target = message.params[0]
        guard Nick.key(for: target) == Nick.key(for: currentNick) else {
            numeric(.usersDontMatch, "Can't change mode for other users")
            return
        }
        guard message.params.count > 1 else {
            numeric(.userModeIs, "+" + String(userModes.sorted()))
            return
        }
        var adding = true
        var applied = ""
        var lastSign: Character?
        for letter in message.params[1] {
            switch letter {
            case "+", "-":
                adding = letter == "+"
            case "i", "w":
                guard adding != userModes.contains(letter) else { continue }
                if adding { userModes.insert(letter) } else { userModes.remove(letter) }
                let sign: Character = adding ? "+" : "-"
                if lastSign != sign { applied.append(sign) }
                lastSign = sign
                applied.append(letter)
            default:
                numeric(.userModeUnknownFlag, "Unknown MODE flag")
            }
        }
        if !applied.isEmpty { send(IRCMessage(source: Self.mask(currentNick), "MODE", [currentNick, applied])) }
    }
}
