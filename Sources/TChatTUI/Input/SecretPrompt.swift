/// A password being typed for an account command: nothing typed is echoed, kept in the input history or added to
/// a buffer. It asks one question after another (a new password twice) and hands over the answers at the end.
public struct SecretPrompt: Sendable, Equatable {
    public enum Purpose: Sendable, Equatable {
        case register(account: String)
        case login(account: String)
        case changePassword
        case dropAccount(account: String)
    }

    /// What finishing a question led to.
    public enum Outcome: Sendable, Equatable {
        case next
        case done([String])
        /// The two new passwords differ: the prompt starts again at the first of them.
        case mismatch
        case empty
    }

    public let purpose: Purpose
    public private(set) var answers: [String] = []
    private var typed = ""

    public init(_ purpose: Purpose) { self.purpose = purpose }

    /// The questions, in order; a new password is asked twice.
    var questions: [String] {
        switch purpose {
        case .register(let account): ["new password for \(account): ", "the same password again: "]
        case .login(let account): ["password for \(account): "]
        case .changePassword: ["current password: ", "new password: ", "the same new password again: "]
        case .dropAccount(let account): ["password to drop the account \(account) (Esc cancels): "]
        }
    }

    /// The question shown in the input line now.
    public var question: String { questions[min(answers.count, questions.count - 1)] }

    /// How many characters are typed (for nothing: the screen shows none of them).
    public var typedCount: Int { typed.count }

    public mutating func type(_ text: String) {
        typed += text.filter { $0 != "\n" && $0 != "\r" && $0 != "\r\n" }
    }

    public mutating func erase() {
        if !typed.isEmpty { typed.removeLast() }
    }

    public mutating func clear() { typed = "" }

    public mutating func finishQuestion() -> Outcome {
        guard !typed.isEmpty else { return .empty }
        answers.append(typed)
        typed = ""
        guard answers.count == questions.count else { return .next }
        if isNewPasswordTwice, answers[answers.count - 1] != answers[answers.count - 2] {
            answers.removeLast(2)
            return .mismatch
        }
        return .done(answers)
    }

    private var isNewPasswordTwice: Bool {
        switch purpose {
        case .register, .changePassword: true
        case .login, .dropAccount: false
        }
    }
}
