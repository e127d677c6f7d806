import ArgumentParser
import TChatProtocol

/// `tchat`: the tchat client. The headless subcommands serve scripts; the full-screen client joins them later as
/// the default command.
@main
struct TChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tchat",
        abstract: "The tchat client: send and receive real-time messages through a tchatd server.",
        discussion: """
            TCHAT_SERVER and TCHAT_NICK stand in for --server and --nick. Errors are one line on standard error \
            and a non-zero exit status.
            """,
        version: TChatVersion.current,
        subcommands: [SendCommand.self, ListenCommand.self])
}
