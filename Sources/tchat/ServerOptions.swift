import ArgumentParser
import Foundation
import TChatAuth
import TChatClient
import TChatProtocol
import TChatTUI

/// `--server` and `--nick`, shared by every command, with their fallbacks: the environment, then the
/// configuration file.
struct ServerOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The server (default: $TCHAT_SERVER, the config file, else 127.0.0.1:\(ServerAddress.defaultClientPort)).",
            valueName: "host:port"))
    var server: String?

    @Option(
        help: ArgumentHelp(
            "Your nick (default: $TCHAT_NICK, the config file, else $USER; send, listen and servers add -send, "
                + "-listen or -servers unless they log in, so they never take the nick of your own chat).",
            valueName: "nick"))
    var nick: String?

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "For a tls:// server: trust the authority (or self-signed certificate) in this PEM file.",
            valueName: "file"))
    var tlsCA: String?

    @Option(
        name: .customLong("tls-pin"),
        help: ArgumentHelp(
            "For a tls:// server: trust exactly the certificate with this SHA-256 fingerprint.", valueName: "sha256"))
    var tlsPin: String?

    @Option(
        name: .customLong("password-file"),
        help: ArgumentHelp(
            "Log in to your nick's account with the password on this file's first line (mode 600; default: "
                + "$TCHAT_PASSWORD_FILE, the config file's passwordFile).",
            valueName: "file"))
    var passwordFile: String?

    /// All settings, with `channels` and `noColor` from the full-screen client's own flags.
    func settings(
        channels: [String] = [], noColor: Bool = false, configPath: String? = nil
    ) throws -> ClientSettings {
        let environment = ProcessInfo.processInfo.environment
        do {
            return try ClientSettings.resolve(
                server: server, nick: nick, channels: channels, noColor: noColor, tlsCA: tlsCA, tlsPin: tlsPin,
                passwordFile: passwordFile, environment: environment,
                file: ClientSettings.loadFile(at: configPath ?? ClientSettings.configPath(environment: environment)))
        } catch let problem as ClientSettings.Problem {
            throw ValidationError(problem.description)
        }
    }

    /// Options for a headless command. Without `--nick` or an account to log in to, its nick is the chat nick
    /// with `-role` after it: the README's `tchat send` works while your full-screen client holds your nick.
    func connectOptions(receivesEvents: Bool, role: String) throws -> ConnectOptions {
        var settings = try settings()
        if nick == nil, settings.passwordFile == nil {
            settings.nick = Self.headlessNick(settings.nick, role: role)
        }
        var options = ConnectOptions(server: settings.server, nick: settings.nick)
        options.receivesEvents = receivesEvents
        options.tlsTrust = settings.tlsTrust
        options.credentials = try Self.credentials(for: settings)
        return options
    }

    /// `nick-role`, cut so that it stays a valid nick.
    static func headlessNick(_ nick: String, role: String) -> String {
        let suffix = "-" + role
        return String(nick.prefix(ProtocolLimits.maxNickLength - suffix.count)) + suffix
    }

    /// The nick's account and the password file's password; nil without a password file. A file that group or
    /// others can read is refused.
    static func credentials(for settings: ClientSettings) throws -> Credentials? {
        guard let path = settings.passwordFile else { return nil }
        do {
            return Credentials(account: settings.nick, password: try PasswordFile.read(path))
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Runs a subcommand body, turning any failure into one line on standard error and exit status 1.
func reportingFailure(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ProtocolError {
        fail(error.message + " (\(error.code))")
    } catch let error as ConnectionError {
        fail(error.description)
    } catch let error as ValidationError {
        throw error  // a usage error: ArgumentParser prints it with the usage and exits 64
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        fail("\(error)")
    }
}

/// Ends `tchat` with one line on standard error. The message may quote what a server sent (an ERROR's text), so
/// what a terminal would obey is written as `\u{1B}`.
func fail(_ message: String) -> Never {
    var shown = ""
    for scalar in message.unicodeScalars {
        if TextField.isUnsafeForTerminal(scalar) {
            shown += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        } else {
            shown.unicodeScalars.append(scalar)
        }
    }
    FileHandle.standardError.write(Data("tchat: \(shown)\n".utf8))
    exit(1)
}
