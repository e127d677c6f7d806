import TChatIRC
import TChatProtocol

/// Registration: CAP negotiation, NICK, USER, PASS, SASL, and the HELLO they become once all is said.
extension IRCConversation {
    mutating func capability(_ message: IRCMessage) {
        let subcommand = message.params[0].uppercased()
        let target = phase == .welcomed ? currentNick : "*"
        switch subcommand {
        case "LS":
            if phase == .registering { capabilityNegotiation = true }
            let version302 = (message.params.count > 1 ? Int(message.params[1]) : nil).map { $0 >= 302 } ?? false
            if version302 { capabilities.insert(.capNotify) }
            let listing = IRCCapability.offered(by: facts).map { $0.listing(facts: facts, version302: version302) }
            send(IRCMessage(source: facts.serverName, "CAP", [target, "LS", listing.joined(separator: " ")]))
        case "REQ":
            if phase == .registering { capabilityNegotiation = true }
            let asked = message.params.count > 1 ? message.params[1] : ""
            var adding: Set<IRCCapability> = []
            var removing: Set<IRCCapability> = []
            var acceptable = !asked.isEmpty
            for word in asked.split(separator: " ") {
                let removes = word.hasPrefix("-")
                guard let capability = IRCCapability(rawValue: String(removes ? word.dropFirst() : word)),
                    IRCCapability.offered(by: facts).contains(capability)
                else {
                    acceptable = false
                    break
                }
                if removes { removing.insert(capability) } else { adding.insert(capability) }
            }
            if acceptable {
                capabilities.formUnion(adding)
                capabilities.subtract(removing)
            }
            send(IRCMessage(source: facts.serverName, "CAP", [target, acceptable ? "ACK" : "NAK", asked]))
        case "LIST":
            let enabled = capabilities.map(\.rawValue).sorted().joined(separator: " ")
            send(IRCMessage(source: facts.serverName, "CAP", [target, "LIST", enabled]))
        case "END":
            guard phase == .registering else { return }
            capabilityNegotiation = false
            if let exchange = sasl, exchange.stage == .acknowledgement {
                authenticate(IRCMessage("AUTHENTICATE", ["+"]))  // the login is done: say so before the welcome
            } else if let exchange = sasl, exchange.stage != .server {
                sasl = nil
                numeric(.saslAborted, "SASL authentication aborted")
            }
            register()
        default:
            numeric(.invalidCapCommand, IRCMessage.word(message.params[0]), "Invalid CAP command")
        }
    }

    mutating func nickCommand(_ message: IRCMessage) {
        guard let wanted = message.params.first, !wanted.isEmpty else {
            numeric(.noNicknameGiven, "No nickname given")
            return
        }
        if let problem = Nick.problem(with: wanted) {
            numeric(.erroneousNickname, IRCMessage.word(wanted), "Erroneous nickname: \(problem)")
            return
        }
        switch phase {
        case .registering:
            guard !helloSent else { return }  // the answer to the HELLO decides; a refused one asks again
            nick = wanted
            register()
        case .welcomed:
            guard wanted != nick else { return }
            request(.nick(wanted), .nick(new: wanted))
        case .closing:
            return
        }
    }

    mutating func userCommand(_ message: IRCMessage) {
        guard phase == .registering, user == nil else {
            numeric(.alreadyRegistered, "You may not reregister")
            return
        }
        let name = message.params[0].unicodeScalars.filter { $0.isASCII && $0.value > 0x20 && $0 != "@" }
        user = name.isEmpty ? "user" : String(String.UnicodeScalarView(name.prefix(Self.maxUserLength)))
        realName = String(message.params[3].prefix(100))
        register()
    }

    /// A server password: tchatd has none (accounts log in with SASL), so it is accepted and not used.
    mutating func pass(_ message: IRCMessage) {
        if phase != .registering { numeric(.alreadyRegistered, "You may not reregister") }
    }

    /// PING goes through the tchat side as a PING of its own, so that its PONG follows the answers to what was
    /// sent before it, as clients that use PING to wait for them expect.
    mutating func ping(_ message: IRCMessage) {
        let token = message.params[0]
        if !request(.ping(token: UInt64(nextRequestID)), .ping(token: token)) {
            send(IRCMessage(source: facts.serverName, "PONG", [facts.serverName, token]))
        }
    }

    mutating func quit(_ message: IRCMessage) {
        let reason = Self.fitted(message.params.first ?? "", maxBytes: ProtocolLimits.maxReasonBytes)
        guard phase == .welcomed else {
            closeLink("Quit: \(reason)")
            wantsClose = true
            return
        }
        if !request(.quit(reason: reason), .quit(reason: reason)) { wantsClose = true }
    }

    /// Says HELLO once NICK and USER are in, CAP negotiation has ended and no SASL step is with the server.
    mutating func register() {
        guard phase == .registering, !helloSent, let nick, let user, !capabilityNegotiation,
            sasl?.stage != .server
        else { return }
        let hello = Hello(
            nick: nick, clientName: "irc", clientVersion: "", processID: 0, host: user, acceptsRedirect: false,
            wantsAwayChanges: true, wantsAccounts: true, knowsNotices: true)
        if request(.hello(hello), .hello) { helloSent = true }
    }

    /// The burst after WELCOME's OK: 001 to 005, then the message of the day.
    mutating func welcome(_ welcome: Welcome, text: String) {
        nick = welcome.nick
        motd = welcome.motd
        enterWelcomed()
        let software = "tchatd-\(facts.version)"
        numeric(.welcome, "Welcome to the \(facts.network) IRC network, \(Self.mask(welcome.nick))")
        numeric(.yourHost, "Your host is \(facts.serverName), running version \(software)")
        numeric(.created, "This server was created \(facts.startedAt.iso8601)")
        numeric(.myInfo, facts.serverName, software, "iw", "bikmostv", "bkov")
        let tokens = facts.isupport
        var start = 0
        while start < tokens.count {
            let slice = Array(tokens[start..<min(start + 12, tokens.count)])
            numeric(.isupport, parameters: slice + ["are supported by this server"])
            start += 12
        }
        messageOfTheDay()
        if !text.isEmpty { notice(text) }
    }

    mutating func messageOfTheDay() {
        guard !motd.isEmpty else {
            numeric(.noMotd, "MOTD File is missing")
            return
        }
        numeric(.motdStart, "- \(facts.serverName) Message of the day - ")
        for piece in IRCText.pieces(of: motd, maxBytes: 400) { numeric(.motd, "- " + piece) }
        numeric(.endOfMotd, "End of /MOTD command.")
    }

    /// `text` cut to `maxBytes` of UTF-8 at a character boundary, formatting codes and other controls removed:
    /// tchat's reasons, topics and away texts carry no control characters, and IRC servers truncate such fields.
    static func fitted(_ text: String, maxBytes: Int) -> String {
        let clean = String(
            String.UnicodeScalarView(
                IRCText.stripFormatting(text).unicodeScalars.filter {
                    !TextField.isControl($0) && !TextField.isBidiOverride($0)
                }))
        guard clean.utf8.count > maxBytes else { return clean }
        var out = ""
        for character in clean {
            if out.utf8.count + character.utf8.count > maxBytes { break }
            out.append(character)
        }
        return out
    }
}
