import TChatIRC
import TChatProtocol

/// AUTHENTICATE: SASL PLAIN and SCRAM-SHA-256, each message passed whole to tchat's LOGIN and LOGIN_CONTINUE.
extension IRCConversation {
    mutating func authenticate(_ message: IRCMessage) {
        let argument = message.params[0]
        guard !facts.saslMechanisms.isEmpty else {
            numeric(.saslFail, "SASL authentication failed: this server has no accounts")
            return
        }
        if argument == "*" {
            // A LOGIN with the server is settled by its answer: an abort now would tell the client one thing and
            // the server another.
            if sasl?.stage == .server { return }
            if sasl != nil {
                sasl = nil
                numeric(.saslAborted, "SASL authentication aborted")
            } else {
                numeric(.saslFail, "SASL authentication failed: no login in progress")
            }
            return
        }
        guard var exchange = sasl else {
            start(mechanism: argument.uppercased())
            return
        }
        switch exchange.stage {
        case .server:
            return  // out of turn: the server's answer to the step in flight decides
        case .acknowledgement:
            sasl = nil
            loggedIn()
        case .clientFirst, .clientFinal:
            switch exchange.add(argument) {
            case .incomplete:
                sasl = exchange
            case .tooLong:
                sasl = nil
                numeric(.saslTooLong, "SASL message too long")
            case .invalid:
                sasl = nil
                numeric(.saslFail, "SASL authentication failed: the message is not base64 of UTF-8")
            case .message(let text):
                let final = exchange.stage == .clientFinal
                exchange.stage = .server
                sasl = exchange
                let frame: ClientFrame =
                    final ? .loginContinue(data: text) : .login(mechanism: exchange.mechanism, data: text)
                if !request(frame, .login(final: final)) { sasl = nil }
            }
        }
    }

    private mutating func start(mechanism: String) {
        if account != nil {
            numeric(.saslAlready, "You have already authenticated using SASL")
            return
        }
        guard facts.saslMechanisms.contains(mechanism) else {
            numeric(.saslMechanisms, facts.saslMechanisms.joined(separator: ","), "are available SASL mechanisms")
            numeric(.saslFail, "SASL authentication failed: \(IRCMessage.word(mechanism)) is not offered here")
            return
        }
        sasl = IRCSASLExchange(mechanism: mechanism)
        send(IRCMessage("AUTHENTICATE", ["+"]))
    }

    /// An answer to LOGIN or LOGIN_CONTINUE: the server's SCRAM message goes to the client as it is.
    mutating func loginData(_ data: String) {
        for piece in IRCSASLExchange.pieces(of: data) { send(IRCMessage("AUTHENTICATE", [piece])) }
    }

    /// LOGIN or LOGIN_CONTINUE was answered OK.
    mutating func loginStepDone(final: Bool) {
        guard var exchange = sasl else {
            if phase == .registering { register() }
            return
        }
        if account != nil, exchange.mechanism == "PLAIN" {
            sasl = nil
            loggedIn()
            return
        }
        exchange.stage = final ? .acknowledgement : .clientFinal
        sasl = exchange
    }

    mutating func loginFailed(_ error: ProtocolError) {
        sasl = nil
        account = nil
        numeric(.saslFail, "SASL authentication failed: \(error.message)")
        if phase == .registering { register() }
    }

    private mutating func loggedIn() {
        let name = account ?? currentNick
        numeric(.loggedIn, Self.mask(currentNick), name, "You are now logged in as \(name)")
        numeric(.saslSuccess, "SASL authentication successful")
        if phase == .registering { register() }
    }
}
