import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TChatMetrics
import TChatProtocol
import TChatServer
import TChatTLS
import UnixSignals

/// `tchatd`: the tchat server.
@main
struct TChatDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tchatd",
        abstract: "The tchat server: real-time channels and direct messages, with history kept as JSON files.",
        discussion: """
            Once both sockets are bound, tchatd prints 'listening clients=HOST:PORT peers=HOST:PORT' (then \
            irc=HOST:PORT and the other ports that are on) as the first line on standard output; logs go to \
            standard error. SIGTERM or SIGINT shut it down cleanly; SIGHUP reads the certificate, the key, the \
            link secret and the MOTD again. See tchatd(8).
            """,
        version: TChatVersion.current,
        subcommands: [AccountCommand.self])

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "A YAML file of flags (one key per long flag); flags given here win. SIGHUP reads it again.",
            valueName: "file"))
    var configFile: String?

    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp("Address for clients; port 0 picks a free port.", valueName: "host:port"))
    var listen = "127.0.0.1:\(ServerAddress.defaultClientPort)"

    @Option(name: .customLong("peer-listen"), help: ArgumentHelp("Address for other servers.", valueName: "host:port"))
    var peerListen = "127.0.0.1:\(ServerAddress.defaultPeerPort)"

    @OptionGroup var data: DataDirectoryOption

    @OptionGroup(title: "Storage")
    var storage: StoreOptions

    @OptionGroup(title: "Storage")
    var pacing: CommitPacingOption

    @Option(help: ArgumentHelp("The server's name (default: the host name).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("A file whose text is sent to every client on connect.", valueName: "file"))
    var motd: String?

    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "PEM certificate chain (certbot's fullchain.pem): with --tls-key, clients and links must use TLS.",
            valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Option(
        name: .customLong("plain-listen"),
        help: ArgumentHelp(
            "With TLS on, a plaintext client port too, for scripts on this host; loopback addresses only.",
            valueName: "host:port"))
    var plainListen: String?

    @Option(
        name: .customLong("irc-listen"),
        help: ArgumentHelp(
            "Also speak IRC here, for irssi, WeeChat and bots (TLS when the client port has it).",
            valueName: "host:port"))
    var ircListen: String?

    @Option(
        name: .customLong("link-secret"),
        help: ArgumentHelp(
            "File with the secret linked servers share (mode 600); without it no server can link here.",
            valueName: "file"))
    var linkSecret: String?

    @Option(
        name: .customLong("peer-fingerprint"),
        help: ArgumentHelp(
            "SHA-256 of a linked server's certificate; with any, links must present one of them. Repeatable.",
            valueName: "sha256"))
    var peerFingerprints: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Serve Prometheus metrics over HTTP at this address (GET /metrics); off unless given.",
            valueName: "host:port"))
    var metricsListen: String?

    @Option(
        help: ArgumentHelp(
            "When history is forced to disk: always, interval (every second) or never.", valueName: "policy"))
    var fsync = "interval"

    @Option(
        name: .customLong("peer"),
        help: ArgumentHelp("Another server's peer address to link to; repeatable.", valueName: "host:port"))
    var peers: [String] = []

    @Flag(help: "Find and link to the other tchatd processes on this host (see FILES in tchatd(8)).")
    var discover = false

    @Option(
        help: ArgumentHelp(
            "Seconds between load reports to linked servers; three missed drop a link.", valueName: "seconds"))
    var heartbeat: Double = 2

    @Option(
        name: .customLong("balance-margin"),
        help: "Clients more than the least-loaded linked server before new ones are redirected there.")
    var balanceMargin = 10

    @Flag(name: .customLong("no-redirect"), help: "Never send new clients to another server.")
    var noRedirect = false

    @Option(help: "Event loop threads (default: one per core).")
    var threads = 0

    @OptionGroup(title: "Limits")
    var limits: LimitOptions

    @OptionGroup(title: "Accounts")
    var accounts: AccountOptions

    /// The command line with a `--config` file's flags put in front of it (so the command line's win); for
    /// `tchatd account`, the file's data directory only.
    static func arguments(_ commandLine: [String]) throws -> [String] {
        guard let path = ConfigurationFile.path(in: commandLine) else { return commandLine }
        let file = try ConfigurationFile(path: path)
        if commandLine.first == AccountCommand.configuration.commandName {
            let rest = ConfigurationFile.removingConfig(from: Array(commandLine.dropFirst()))
            guard let directory = file.value(of: "data-dir"),
                !rest.contains(where: { $0 == "--data-dir" || $0.hasPrefix("--data-dir=") })
            else { return [commandLine[0]] + rest }
            return [commandLine[0], "--data-dir=\(directory)"] + rest
        }
        let known = helpMessage(columns: 10_000)
        for key in file.keys where !known.contains("--\(key) ") && !known.contains("--\(key)\n") {
            throw ConfigurationFile.Problem(description: "\(path): \(key) is not a flag of tchatd (see tchatd --help)")
        }
        return file.arguments + commandLine
    }

    /// Reads `--config` before parsing: its flags become arguments ahead of the command line's.
    static func main() async {
        let commandLine = Array(CommandLine.arguments.dropFirst())
        do {
            await main(try arguments(commandLine))
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(64)
        }
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        LogOutput.standardError.level = level
        LoggingSystem.bootstrap { _ in LineLogHandler(logLevel: level) }
        OpenFileLimit.raise()
        let logger = Logger(label: "tchatd")
        let server = ChatServer(configuration: try makeConfiguration(), logger: logger)
        let metrics = try metricsListen.map {
            do {
                return try ServerAddress(parsing: $0, defaultPort: 9667)
            } catch let error as ProtocolError {
                throw ValidationError("--metrics-listen: \(error.message)")
            }
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(
                        service: ServerProcess(
                            server: server, metricsAddress: metrics,
                            reconfigure: configFile == nil ? nil : Self.reconfigure, logger: logger))
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
            LogOutput.standardError.flush()
        } catch {
            // A start-up failure (port in use, data directory locked or unreadable): one line, no stack trace.
            logger.critical("cannot run: \(error)")
            LogOutput.standardError.flush()
            throw ExitCode(1)
        }
    }

    func makeConfiguration() throws -> ServerConfiguration {
        var configuration: ServerConfiguration
        do {
            let clientAddress = try ServerAddress(parsing: listen, defaultPort: ServerAddress.defaultClientPort)
            // Servers on one host need different names: the host and the client port (or the process id).
            let port = clientAddress.port == 0 ? "pid\(getpid())" : "\(clientAddress.port)"
            configuration = ServerConfiguration(
                dataDirectory: data.directory, name: name ?? Self.hostName() + ":" + port)
            configuration.clientAddress = clientAddress
            configuration.peerAddress = try ServerAddress(
                parsing: peerListen, defaultPort: ServerAddress.defaultPeerPort)
            configuration.peers = try peers.map {
                try ServerAddress(parsing: $0, defaultPort: ServerAddress.defaultPeerPort)
            }
        } catch let error as ProtocolError {
            throw ValidationError(error.message)
        }
        if let problem = Self.nameProblem(configuration.name) { throw ValidationError(problem) }
        try configureSecurity(&configuration)
        try accounts.apply(to: &configuration)
        configuration.discover = discover
        guard heartbeat >= 0.1 else { throw ValidationError("--heartbeat must be at least 0.1 seconds") }
        configuration.heartbeat = .milliseconds(Int64(heartbeat * 1000))
        guard balanceMargin >= 0 else { throw ValidationError("--balance-margin cannot be negative") }
        configuration.balanceMargin = balanceMargin
        configuration.redirects = !noRedirect
        if let motd {
            guard let text = try? String(contentsOfFile: motd, encoding: .utf8) else {
                throw ValidationError("cannot read the MOTD file \(motd) as UTF-8 text")
            }
            configuration.motd = text.trimmingCharacters(in: .newlines)
            configuration.motdFile = motd
        }
        try limits.apply(to: &configuration)
        try storage.apply(to: &configuration, pacing: pacing)
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (one per core) or more") }
        configuration.threads = threads
        switch fsync {
        case "always": configuration.fsync = .always
        case "interval": configuration.fsync = .interval(.seconds(1))
        case "never": configuration.fsync = .never
        default: throw ValidationError("--fsync must be always, interval or never")
        }
        return configuration
    }

    /// TLS, the plaintext loopback port, the link secret and pinned peers; the files themselves are read (and
    /// refused, naming them) when the server starts.
    func configureSecurity(_ configuration: inout ServerConfiguration) throws {
        switch (tlsCertificate, tlsKey) {
        case (let certificate?, let key?):
            configuration.tlsCertificateFile = certificate
            configuration.tlsKeyFile = key
        case (nil, nil):
            break
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let plainListen {
            guard tlsCertificate != nil else {
                throw ValidationError("--plain-listen is for a server with TLS on; without it --listen is plaintext")
            }
            let address: ServerAddress
            do {
                address = try ServerAddress(parsing: plainListen, defaultPort: 0)
            } catch {
                throw ValidationError(error.message)
            }
            guard address.isLoopback else {
                throw ValidationError(
                    "--plain-listen takes a loopback address (127.0.0.1, ::1): plaintext must not leave this host")
            }
            configuration.plainClientAddress = address
        }
        if let ircListen {
            do {
                configuration.ircAddress = try ServerAddress(
                    parsing: ircListen, defaultPort: ServerAddress.defaultIRCPort)
            } catch {
                throw ValidationError("--irc-listen: \(error.message)")
            }
        }
        configuration.linkSecretFile = linkSecret
        do {
            configuration.peerFingerprints = try peerFingerprints.map { try CertificateFingerprint(parsing: $0) }
        } catch {
            throw ValidationError("--peer-fingerprint: \(error)")
        }
        if !peerFingerprints.isEmpty && tlsCertificate == nil {
            throw ValidationError("--peer-fingerprint pins TLS links: give --tls-cert and --tls-key too")
        }
    }

    /// Why a server name cannot be used, or nil: other servers refuse a name with control characters or over 64
    /// bytes, so it is refused here first.
    static func nameProblem(_ name: String) -> String? {
        do {
            guard !name.isEmpty else { return "--name cannot be empty" }
            try TextField.check(name, "server name", maxBytes: ProtocolLimits.maxServerNameBytes)
            return nil
        } catch {
            return "--name: \(error.message)"
        }
    }

    static func defaultDataDirectory() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/tchatd" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/tchatd"
    }

    /// SIGHUP with `--config`: the file read again, with the same command line; the log level applies at once, the
    /// rest as `ChatServer.reload(configuration:)` says.
    @Sendable static func reconfigure() throws -> ServerConfiguration {
        let command = try parse(try arguments(Array(CommandLine.arguments.dropFirst())))
        guard let level = Logger.Level(rawValue: command.logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        let configuration = try command.makeConfiguration()
        LogOutput.standardError.level = level
        return configuration
    }

    static func hostName() -> String {
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "tchatd"
    }
}

/// Runs the server, prints its ports on standard output once it listens (for scripts and tests), and reloads on
/// SIGHUP until it is told to stop.
struct ServerProcess: Service {
    let server: ChatServer
    let metricsAddress: ServerAddress?
    /// With `--config`: the configuration as the file says now.
    let reconfigure: (@Sendable () throws -> ServerConfiguration)?
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await server.start()
        var endpoint: MetricsEndpoint?
        if let metricsAddress {
            let exporter = MetricsExporter { [server] in
                var statistics = server.statistics()
                statistics.droppedLogLines = LogOutput.standardError.droppedLines
                return statistics
            }
            do {
                endpoint = try await MetricsEndpoint.bind(at: metricsAddress, exporter: exporter)
            } catch {
                await server.shutdown()
                throw error
            }
        }
        if let addresses = server.addresses {
            var line = "listening clients=\(addresses.clients) peers=\(addresses.peers?.description ?? "-")"
            if let plain = addresses.plain { line += " plain=\(plain)" }
            if let endpoint { line += " metrics=\(endpoint.address)" }
            if let irc = server.ircAddress { line += " irc=\(irc)" }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        let reloads = Task { [server, reconfigure, logger] in
            for await _ in hangups {
                guard let reconfigure else {
                    server.reload()
                    continue
                }
                do {
                    server.reload(configuration: try reconfigure())
                    logger.notice("configuration file read again")
                } catch {
                    logger.error(
                        "configuration file not reloaded: the settings in force are kept; files are read again",
                        metadata: ["error": "\(error)"])
                    server.reload()
                }
            }
        }
        try? await gracefulShutdown()
        reloads.cancel()
        await endpoint?.close()
        await server.shutdown()
    }
}
