import Foundation
public import TChatProtocol
public import TChatTLS

/// Where the client connects, as whom, and how it looks: from flags, then the environment (`TCHAT_SERVER`,
/// `TCHAT_NICK`, `TCHAT_PASSWORD_FILE`, `NO_COLOR`), then the configuration file, then the defaults.
public struct ClientSettings: Sendable, Equatable {
    public var server: ServerAddress
    public var nick: String
    public var channels: [String]
    public var colors: Bool
    public var timeFormat: LineLayout.TimeFormat
    public var scrollback: Int
    /// Whom to believe when `server` is a `tls://` address.
    public var tlsTrust: TLSTrust
    /// The file holding the nick's account password (`--password-file`, `TCHAT_PASSWORD_FILE`, `passwordFile`):
    /// with one, the client logs in before its hello.
    public var passwordFile: String?

    /// `$XDG_CONFIG_HOME/tchat/config.json`; every key is optional.
    public struct File: Codable, Sendable, Equatable {
        public var server: String?
        public var nick: String?
        public var channels: [String]?
        public var colors: Bool?
        public var timeFormat: String?
        public var scrollback: Int?
        /// A PEM file of the authority that signed a `tls://` server's certificate (as `--tls-ca`).
        public var tlsCA: String?
        /// The SHA-256 fingerprint of a `tls://` server's certificate (as `--tls-pin`).
        public var tlsPin: String?
        /// A file (mode 600) whose first line is the account password (as `--password-file`).
        public var passwordFile: String?

        public init(
            server: String? = nil, nick: String? = nil, channels: [String]? = nil, colors: Bool? = nil,
            timeFormat: String? = nil, scrollback: Int? = nil, tlsCA: String? = nil, tlsPin: String? = nil,
            passwordFile: String? = nil
        ) {
            self.passwordFile = passwordFile
            self.server = server
            self.nick = nick
            self.channels = channels
            self.colors = colors
            self.timeFormat = timeFormat
            self.scrollback = scrollback
            self.tlsCA = tlsCA
            self.tlsPin = tlsPin
        }
    }

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public static func configPath(environment: [String: String]) -> String {
        if let base = environment["XDG_CONFIG_HOME"], base.hasPrefix("/") { return base + "/tchat/config.json" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.config/tchat/config.json"
    }

    /// The configuration file, nil if there is none; an unreadable one is an error naming it.
    public static func loadFile(at path: String) throws -> File? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch DecodingError.dataCorrupted(let context) {
            throw Problem("\(path) is not valid JSON: \(context.debugDescription)")
        } catch {
            throw Problem("\(path) cannot be read: \(error)")
        }
    }

    public static func resolve(
        server: String?, nick: String?, channels: [String] = [], noColor: Bool = false, tlsCA: String? = nil,
        tlsPin: String? = nil, passwordFile: String? = nil, environment: [String: String], file: File?
    ) throws -> ClientSettings {
        let serverText =
            server ?? environment["TCHAT_SERVER"] ?? file?.server
            ?? "127.0.0.1:\(ServerAddress.defaultClientPort)"
        let address: ServerAddress
        do {
            address = try ServerAddress(
                parsing: serverText, defaultPort: ServerAddress.defaultClientPort, allowingTLS: true)
        } catch {
            throw Problem(error.message)
        }
        let nickText = nick ?? environment["TCHAT_NICK"] ?? file?.nick ?? environment["USER"] ?? "guest"
        if let problem = Nick.problem(with: nickText) {
            throw Problem("invalid nick '\(nickText)': \(problem)")
        }
        let wanted = channels.isEmpty ? (file?.channels ?? []) : channels
        for channel in wanted {
            if let problem = ChannelName.problem(with: channel.hasPrefix("#") ? channel : "#" + channel) {
                throw Problem("invalid channel '\(channel)': \(problem)")
            }
        }
        var timeFormat = LineLayout.TimeFormat.minutes
        if let text = file?.timeFormat {
            guard let format = LineLayout.TimeFormat(rawValue: text) else {
                throw Problem("timeFormat must be \"HH:mm\" or \"HH:mm:ss\", not \"\(text)\"")
            }
            timeFormat = format
        }
        let noColorSet = !(environment["NO_COLOR"] ?? "").isEmpty
        let scrollback = file?.scrollback ?? 5000
        guard scrollback >= 100 else { throw Problem("scrollback must be at least 100 lines") }
        return ClientSettings(
            server: address, nick: nickText, channels: wanted,
            colors: !noColor && !noColorSet && (file?.colors ?? true), timeFormat: timeFormat, scrollback: scrollback,
            tlsTrust: try trust(for: address, ca: tlsCA, pin: tlsPin, file: file),
            passwordFile: passwordFile ?? environment["TCHAT_PASSWORD_FILE"].flatMap { $0.isEmpty ? nil : $0 }
                ?? file?.passwordFile)
    }

    /// `--tls-ca` or `--tls-pin` (else the file's `tlsCA` or `tlsPin`), else the system's authorities. The flags
    /// make sense only for a `tls://` server and are refused otherwise; the file's keys are simply not used then.
    static func trust(for server: ServerAddress, ca: String?, pin: String?, file: File?) throws -> TLSTrust {
        if ca != nil && pin != nil { throw Problem("give --tls-ca or --tls-pin, not both") }
        if (ca != nil || pin != nil) && !server.usesTLS {
            throw Problem("--tls-ca and --tls-pin are for a TLS server: write it tls://\(server.hostAndPort)")
        }
        guard server.usesTLS else { return .systemRoots }
        let (ca, pin) = ca != nil || pin != nil ? (ca, pin) : (file?.tlsCA, file?.tlsPin)
        if let pin {
            do {
                return .pinned([try CertificateFingerprint(parsing: pin)])
            } catch {
                throw Problem(error.description)
            }
        }
        if let ca { return .authority(file: ca) }
        return .systemRoots
    }
}
