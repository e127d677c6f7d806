import ArgumentParser
import Foundation
import TChatClient
import TChatProtocol
import TChatTUI

/// `tchat` with no subcommand: the full-screen client.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "The full-screen client (the default).",
        discussion: """
            Settings come from the flags, then TCHAT_SERVER, TCHAT_NICK, TCHAT_PASSWORD_FILE and NO_COLOR, then \
            $XDG_CONFIG_HOME/tchat/config.json (keys: server, nick, channels, colors, timeFormat, scrollback, \
            tlsCA, tlsPin, passwordFile). A server written tls://HOST:PORT is reached over TLS. Without a password \
            file, /login asks for your account's password. Type /help inside for every command and key.
            """)

    @OptionGroup var connection: ServerOptions

    @Option(
        name: .customLong("join"), help: ArgumentHelp("A channel to join on start; repeatable.", valueName: "channel"))
    var channels: [String] = []

    @Flag(help: "Start a tchatd inside this tchat when none is listening on the server address (loopback only).")
    var local = false

    @Flag(name: .customLong("no-color"), help: "Draw without colours (as NO_COLOR does).")
    var noColor = false

    @Option(help: ArgumentHelp("The configuration file.", valueName: "path"))
    var config: String?

    func run() async throws {
        try await reportingFailure {
            let settings = try connection.settings(channels: channels, noColor: noColor, configPath: config)
            guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
                throw ConnectionError(
                    "the full-screen client needs a terminal; scripts use tchat send and tchat listen")
            }
            var embedded: LocalServer?
            if local {
                embedded = try await LocalServer.startIfNeeded(at: settings.server)
            }
            var options = ConnectOptions(server: settings.server, nick: settings.nick)
            options.clientName = "tchat"
            options.tlsTrust = settings.tlsTrust
            options.credentials = try ServerOptions.credentials(for: settings)
            var ui = ChatUI(
                nick: settings.nick, serverAddress: settings.server.description, scrollback: settings.scrollback,
                timeFormat: settings.timeFormat)
            let ignoreFile = IgnoreFile(environment: ProcessInfo.processInfo.environment)
            ui.ignored = ignoreFile.load()
            let sessionOptions = options
            await ChatApp.runOnOwnThread(
                ui: ui, session: { ChatSession(options: sessionOptions, channels: settings.channels, onEvent: $0) },
                ignoreFile: ignoreFile,
                makeTerminal: { CursesTerminal(colors: settings.colors) })
            await embedded?.stop()
        }
    }
}
