import TChatClient
import TChatProtocol

/// Account commands: `/register`, `/login`, `/passwd`, `/unregister`, and the password prompts they open.
extension ChatUI {
    /// Opens the password prompt for an account command.
    mutating func startAccountCommand(_ command: Command) {
        guard connection == .connected else {
            error("not connected: account commands need the server")
            return
        }
        switch command {
        case .register: secret = SecretPrompt(.register(account: nick))
        case .login(let account): secret = SecretPrompt(.login(account: account ?? preferredNick))
        case .changePassword: secret = SecretPrompt(.changePassword)
        case .unregister: secret = SecretPrompt(.dropAccount(account: nick))
        default: break
        }
    }

    /// Keys while a password is typed: they go to the prompt, never to the input line or its history.
    mutating func handleSecret(_ key: Key) -> [Effect] {
        switch key {
        case .character(let character): secret?.type(String(character))
        case .paste(let text): secret?.type(text)
        case .backspace: secret?.erase()
        case .ctrl("u"): secret?.clear()
        case .escape, .ctrl("c"), .ctrl("g"):
            secret = nil
            info("cancelled; nothing was sent")
        case .enter: return finishSecretQuestion()
        default: break
        }
        return []
    }

    private mutating func finishSecretQuestion() -> [Effect] {
        guard var prompt = secret else { return [] }
        let outcome = prompt.finishQuestion()
        secret = prompt
        switch outcome {
        case .next, .empty:
            return []
        case .mismatch:
            error("the two passwords differ; type them again")
            return []
        case .done(let answers):
            secret = nil
            switch prompt.purpose {
            case .register:
                info("registering \(nick)…")
                return [.session(.register(password: answers[0]))]
            case .login(let account):
                info("logging in to \(account)…")
                return [.session(.login(Credentials(account: account, password: answers[0])))]
            case .changePassword:
                return [.session(.setPassword(old: answers[0], new: answers[1]))]
            case .dropAccount:
                return [.session(.dropAccount(password: answers[0]))]
            }
        }
    }

    /// After a login or a registration: take the account's nick when the session uses another.
    mutating func loggedIn(_ account: String) -> [Effect] {
        announce("you are logged in to the account \(account)")
        guard Nick.key(for: account) != Nick.key(for: nick) else { return [] }
        return [.session(.nick(account))]
    }
}
