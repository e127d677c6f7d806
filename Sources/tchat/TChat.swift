import ArgumentParser
import Foundation
import TChatProtocol

/// `tchat`: the tchat client. With no subcommand it is the full-screen client; `send` and `listen` serve scripts.
@main
struct TChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tchat",
        abstract: "The tchat client: chat full-screen, or send and receive messages from scripts.",
        discussion: """
            TCHAT_SERVER and TCHAT_NICK stand in for --server and --nick, and so does the configuration file \
            $XDG_CONFIG_HOME/tchat/config.json. Errors are one line on standard error and a non-zero exit status.
            """,
        version: TChatVersion.current,
        subcommands: [ChatCommand.self, SendCommand.self, ListenCommand.self, ServersCommand.self],
        defaultSubcommand: ChatCommand.self)

    /// Like ArgumentParser's own `main`, except that a usage error is one line (`tchat: ...`) as every other
    /// error is, so scripts can log it as it is; `--help` still prints the help.
    static func main() async {
        // `tchat --help` is mostly asked by someone about to chat: the full-screen client's options come with the
        // list of commands, not behind `tchat help chat`.
        if [["--help"], ["-h"], ["help"]].contains(Array(CommandLine.arguments.dropFirst())) {
            print(helpMessage())
            print("\nTHE FULL-SCREEN CLIENT (tchat with no subcommand):\n")
            print(
                helpMessage(for: ChatCommand.self).split(separator: "\n", omittingEmptySubsequences: false)
                    .drop { !$0.hasPrefix("OPTIONS:") }.joined(separator: "\n"))
            return
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = self.message(for: error)
            guard code != .success, !message.isEmpty else { exit(withError: error) }
            FileHandle.standardError.write(Data("tchat: \(message) (see tchat --help)\n".utf8))
            exit(withError: ExitCode(code.rawValue))
        }
    }
}
