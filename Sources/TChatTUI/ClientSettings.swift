import Foundation
public import TChatProtocol

/// Where the client connects, as whom, and how it looks: from flags, then the environment (`TCHAT_SERVER`,
/// `TCHAT_NICK`, `NO_COLOR`), then the configuration file, then the defaults.
public struct ClientSettings: Sendable, Equatable {
    public var server: ServerAddress
    public var nick: String
    public var channels: [String]
    public var colors: Bool
    public var timeFormat: LineLayout.TimeFormat
    public var scrollback: Int

    /// `$XDG_CONFIG_HOME/tchat/config.json`; every key is optional.
    public struct File: Codable, Sendable, Equatable {
        public var server: String?
        public var nick: String?
        public var channels: [String]?
        public var colors: Bool?
        public var timeFormat: String?
        public var scrollback: Int?

        public init(
            server: String? = nil, nick: String? = nil, channels: [String]? = nil, colors: Bool? = nil,
            timeFormat: String? = nil, scrollback: Int? = nil
        ) {
            self.server = server
            self.nick = nick
            self.channels = channels
            self.colors = colors
            self.timeFormat = timeFormat
            self.scrollback = scrollback
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
        server: String?, nick: String?, channels: [String] = [], noColor: Bool = false,
        environment: [String: String], file: File?
    ) throws -> ClientSettings {
        let serverText =
            server ?? environment["TCHAT_SERVER"] ?? file?.server
            ?? "127.0.0.1:\(ServerAddress.defaultClientPort)"
        let address: ServerAddress
        do {
            address = try ServerAddress(parsing: serverText, defaultPort: ServerAddress.defaultClientPort)
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
            colors: !noColor && !noColorSet && (file?.colors ?? true), timeFormat: timeFormat, scrollback: scrollback)
    }
}
