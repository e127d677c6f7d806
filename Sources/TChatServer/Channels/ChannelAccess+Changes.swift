import TChatProtocol

/// Mode changes: parsed strictly, applied by operators (or by a logged-in member claiming a channel nobody runs).
extension ChannelAccess {
    /// One mode change as a client writes it: a sign, a letter, and an argument for `k` (when set), `o`, `v`
    /// and `b`. For `o` and `v`, `target` says who the named member is.
    enum Change: Equatable {
        case flag(Character, on: Bool)
        case key(String?)
        case op(String, on: Bool)
        case voice(String, on: Bool)
        case ban(String, on: Bool)

        init(parsing text: String) throws(ProtocolError) {
            let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = words.first, first.count == 2, let sign = first.first, sign == "+" || sign == "-",
                let letter = first.last
            else {
                throw ProtocolError(
                    .invalidArgument, "a mode change is +x or -x, then its argument: +i, +k key, +o nick")
            }
            let on = sign == "+"
            let argument = words.count > 1 ? words[1] : nil
            guard words.count <= 2 else { throw ProtocolError(.invalidArgument, "one mode change at a time") }
            if let argument, argument.utf8.count > ChannelAccess.maxArgumentBytes {
                throw ProtocolError(
                    .fieldTooLong, "a mode's argument is at most \(ChannelAccess.maxArgumentBytes) bytes")
            }
            if let argument,
                argument.unicodeScalars.contains(where: { $0.value < 0x21 || (0x7F...0x9F).contains($0.value) })
            {
                throw ProtocolError(.invalidArgument, "a mode's argument has no spaces or control characters")
            }
            switch letter {
            case "i", "s", "t", "m":
                guard argument == nil else { throw ProtocolError(.invalidArgument, "+\(letter) takes no argument") }
                self = .flag(letter, on: on)
            case "k":
                guard !on || argument != nil else { throw ProtocolError(.invalidArgument, "+k needs the key: +k key") }
                self = .key(on ? argument : nil)
            case "o", "v", "b":
                guard let argument else { throw ProtocolError(.invalidArgument, "\(first) needs a nick or a mask") }
                switch letter {
                case "o": self = .op(argument, on: on)
                case "v": self = .voice(argument, on: on)
                default: self = .ban(argument, on: on)
                }
            default:
                throw ProtocolError(.invalidArgument, "unknown mode \(letter): i k s t m o v b are known")
            }
        }
    }

    /// Applies a change by `member` (an operator, or a logged-in member claiming a channel with no operator);
    /// `target` is the account of the member `+o`/`+v` names, when that member is here. Returns the change as
    /// announced (the key itself is not).
    mutating func apply(
        _ change: Change, by member: Member, target: Member?
    ) throws(ProtocolError) -> String {
        if case .op(let nick, true) = change, operators.isEmpty, !orphaned, let account = member.account,
            Nick.key(for: nick) == member.nickKey
        {
            operators[account] = member.accountName ?? account  // claiming a channel nobody operates
            return "+o \(nick)"
        }
        try checkOperator(member)
        switch change {
        case .flag(let letter, let on):
            switch letter {
            case "i": inviteOnly = on
            case "s": secret = on
            case "t": topicLock = on
            default: moderated = on
            }
            return (on ? "+" : "-") + String(letter)
        case .key(let new):
            key = new
            return new == nil ? "-k" : "+k"
        case .op(let nick, let on):
            guard let target, target.nickKey == Nick.key(for: nick) else {
                throw ProtocolError(.notOnChannel, "\(nick) is not in the channel")
            }
            guard let account = target.account else {
                throw ProtocolError(.notLoggedIn, "\(nick) is not logged in: only accounts can be channel operators")
            }
            if on {
                operators[account] = target.accountName ?? account
                orphaned = false
            } else {
                guard operators.count > 1 || operators[account] == nil else {
                    throw ProtocolError(
                        .invalidArgument, "a channel keeps at least one operator: op someone else first")
                }
                operators[account] = nil
            }
            return (on ? "+o " : "-o ") + nick
        case .voice(let nick, let on):
            guard let here = target.flatMap({ $0.nickKey == Nick.key(for: nick) ? $0 : nil }) else {
                // Someone absent is devoiced by their account's name; voice is only given to who is here.
                guard !on else { throw ProtocolError(.notOnChannel, "\(nick) is not in the channel") }
                voiced[Nick.key(for: nick)] = nil
                return "-v " + nick
            }
            let key = here.account ?? Self.guestKey(here.session)
            if on { voiced[key] = here.accountName ?? nick } else { voiced[key] = nil }
            return (on ? "+v " : "-v ") + nick
        case .ban(let mask, let on):
            let normalized = Self.normalize(mask)
            if on {
                guard !bans.contains(normalized) else { return "+b " + normalized }
                guard bans.count < Self.maxBans else {
                    throw ProtocolError(.invalidArgument, "a channel keeps at most \(Self.maxBans) bans")
                }
                bans.append(normalized)
            } else {
                guard bans.contains(normalized) else { throw ProtocolError(.invalidArgument, "no ban \(normalized)") }
                bans.removeAll { $0 == normalized }
            }
            return (on ? "+b " : "-b ") + normalized
        }
    }
}
