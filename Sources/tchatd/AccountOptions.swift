import ArgumentParser
import TChatServer

/// The server's account settings: who may register, who must log in, who operates.
struct AccountOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "open (anyone registers their nick, over TLS or from this host), closed (only `tchatd account add`) "
                + "or off (no accounts: nicks are first come, first served).",
            valueName: "policy"))
    var registration = "open"

    @Flag(name: .customLong("require-account"), help: "Admit logged-in clients only.")
    var requireAccount = false

    @Option(
        name: .customLong("operator"),
        help: ArgumentHelp(
            "An account that is a server operator: sees every client's address, host and pid. Repeatable.",
            valueName: "account"))
    var operators: [String] = []

    func apply(to configuration: inout ServerConfiguration) throws {
        guard let policy = RegistrationPolicy(rawValue: registration) else {
            throw ValidationError("--registration must be open, closed or off")
        }
        if requireAccount, policy == .off {
            throw ValidationError("--require-account needs accounts: not with --registration off")
        }
        configuration.registration = policy
        configuration.requireAccount = requireAccount
        configuration.operators = operators
    }
}
