import Foundation
import Logging
import Synchronization
import TChatProtocol
import TChatTLS

/// What SIGHUP reads again without dropping anyone: the certificate and key, the link secret and the MOTD, and, with
/// `--config`, the settings that can change while the server runs (`liveFields`).
///
/// Every new connection takes the current snapshot when it is accepted, so it gets the new certificate while the
/// connections already open keep theirs. A file that cannot be used on a reload is logged and the old setting kept:
/// a certbot renewal that wrote half a file never takes the server's TLS away. At start-up the same failures stop
/// the server instead, with the same words.
final class LiveSettings: Sendable {
    struct Snapshot: Sendable {
        var motd: String
        var tls: ServerTLS?
        var linkSecret: LinkSecret?
    }

    private let configured: Mutex<ServerConfiguration>
    private let registry: DiscoveryRegistry?
    private let value: Mutex<Snapshot>

    /// The configuration in force: the start-up one, with what reloads changed since.
    var configuration: ServerConfiguration { configured.withLock { $0 } }

    /// Reads everything; throws the first problem, naming the file. `registry` (`--discover`, already prepared)
    /// holds the link secret when no `--link-secret` is given.
    init(configuration: ServerConfiguration, registry: DiscoveryRegistry?) throws {
        configured = Mutex(configuration)
        self.registry = registry
        var motd = configuration.motd
        if let file = configuration.motdFile { motd = try Self.readMOTD(file, configuration: configuration) }
        let tls = try Self.loadTLS(configuration)
        let secret = try Self.loadSecret(configuration, registry: registry)
        value = Mutex(Snapshot(motd: motd, tls: tls, linkSecret: secret))
    }

    var current: Snapshot { value.withLock { $0 } }

    var isLinkingOn: Bool { current.linkSecret != nil }

    /// SIGHUP: takes the live settings of `changed` (a configuration file read again), reads every file again, and
    /// logs what changed and what could not be used (keeping the old setting). Returns the flags `changed` sets
    /// otherwise than the running server, which take effect at the next start only.
    @discardableResult
    func reload(logger: Logger, configuration changed: ServerConfiguration? = nil) -> [String] {
        var restartNeeded: [String] = []
        if let changed {
            let running = configuration
            restartNeeded = Self.restartNeeded(running, changed)
            configured.withLock { $0 = Self.taking(liveFieldsOf: changed, into: running) }
        }
        let configuration = self.configuration
        var next = current
        // A file the configuration no longer names is given up: a MOTD taken out, a link secret taken out
        // (linking off, as at a start without it).
        if changed != nil {
            if configuration.motdFile == nil { next.motd = configuration.motd }
            if configuration.linkSecretFile == nil, registry == nil, next.linkSecret != nil {
                next.linkSecret = nil
                logger.notice("linking off: the configuration names no link secret; new links are refused")
            }
        }

        if let file = configuration.motdFile {
            do {
                next.motd = try Self.readMOTD(file, configuration: configuration)
                logger.info("motd read again", metadata: ["file": "\(file)"])
            } catch {
                logger.error("motd not reloaded: the old one is kept", metadata: ["error": "\(error)"])
            }
        }
        if configuration.tlsCertificateFile != nil {
            do {
                next.tls = try Self.loadTLS(configuration)
                if let identity = next.tls?.identity {
                    logger.notice(
                        "certificate loaded: new connections get it",
                        metadata: [
                            "sha256": "\(identity.fingerprint)", "expires": "\(identity.notValidAfter)",
                        ])
                    Self.warnIfExpiring(identity, logger: logger)
                }
            } catch {
                logger.error(
                    "certificate not reloaded: the old one is kept", metadata: ["error": "\(error)"])
            }
        }
        if configuration.linkSecretFile != nil || registry != nil {
            do {
                next.linkSecret = try Self.loadSecret(configuration, registry: registry)
                logger.info(
                    "link secret read again: new links prove it", metadata: ["file": "\(next.linkSecret?.path ?? "-")"])
            } catch {
                logger.error("link secret not reloaded: the old one is kept", metadata: ["error": "\(error)"])
            }
        }
        let reloaded = next
        value.withLock { $0 = reloaded }
        return restartNeeded
    }

    /// The settings a reload changes for new connections and links; every other one needs a restart.
    static func taking(liveFieldsOf changed: ServerConfiguration, into running: ServerConfiguration)
        -> ServerConfiguration
    {
        var next = running
        next.motd = changed.motd
        next.motdFile = changed.motdFile
        // TLS on or off is the listeners' business, fixed at start; the files may change.
        if running.tlsCertificateFile != nil, changed.tlsCertificateFile != nil {
            next.tlsCertificateFile = changed.tlsCertificateFile
            next.tlsKeyFile = changed.tlsKeyFile
            next.peerFingerprints = changed.peerFingerprints
        }
        next.linkSecretFile = changed.linkSecretFile
        next.maxConnectionsPerAddress = changed.maxConnectionsPerAddress
        next.ipv6Prefix = changed.ipv6Prefix
        next.connectRate = changed.connectRate
        next.connectBurst = changed.connectBurst
        next.maxHandshakes = changed.maxHandshakes
        next.requestRate = changed.requestRate
        next.requestBurst = changed.requestBurst
        next.channelCreationsPerMinute = changed.channelCreationsPerMinute
        next.channelCreationBurst = changed.channelCreationBurst
        next.maxServerChannels = changed.maxServerChannels
        return next
    }

    /// The flags whose values differ between two configurations among those a reload does not change.
    static func restartNeeded(_ running: ServerConfiguration, _ changed: ServerConfiguration) -> [String] {
        let fields: [(String, (ServerConfiguration) -> String)] = [
            ("listen", { "\($0.clientAddress)" }), ("peer-listen", { "\($0.peerAddress)" }),
            ("data-dir", { $0.dataDirectory }), ("name", { $0.name }),
            ("plain-listen", { "\($0.plainClientAddress.map { "\($0)" } ?? "-")" }),
            ("irc-listen", { "\($0.ircAddress.map { "\($0)" } ?? "-")" }),
            ("tls-cert", { $0.tlsCertificateFile == nil ? "off" : "on" }),
            ("max-clients", { "\($0.maxClients)" }), ("max-frame", { "\($0.maxFrameLength)" }),
            ("max-queue", { "\($0.maxOutboundBytes)" }), ("idle-timeout", { "\($0.idleTimeout)" }),
            ("frame-timeout", { "\($0.frameTimeout)" }), ("hello-timeout", { "\($0.helloTimeout)" }),
            ("max-channels", { "\($0.maxChannelsPerClient)" }), ("history-limit", { "\($0.historyLimit)" }),
            ("history-memory", { "\($0.historyMemory)" }),
            ("channel-history-memory", { "\($0.channelHistoryMemory)" }),
            ("history-answer-memory", { "\($0.historyAnswerMemory)" }),
            ("connection-log-size", { "\($0.connectionLog.maxBytes)" }),
            ("connection-log-files", { "\($0.connectionLog.keep)" }), ("fsync", { "\($0.fsync)" }),
            ("peer", { "\($0.peers)" }), ("discover", { "\($0.discover)" }), ("heartbeat", { "\($0.heartbeat)" }),
            ("balance-margin", { "\($0.balanceMargin)" }), ("no-redirect", { "\(!$0.redirects)" }),
            ("threads", { "\($0.threads)" }), ("registration", { "\($0.registration)" }),
            ("require-account", { "\($0.requireAccount)" }), ("operator", { "\($0.operators)" }),
            ("store", { $0.storeFlags }), ("store-commit-interval", { $0.storeCommitInterval }),
        ]
        return fields.filter { $0.1(running) != $0.1(changed) }.map(\.0)
    }

    /// The most of a MOTD: it goes in every WELCOME, which must fit the max frame with the welcome text (1000
    /// bytes) and the rest beside it.
    static func maxMOTDBytes(_ configuration: ServerConfiguration) -> Int {
        max(0, min(16 << 10, configuration.maxFrameLength - 1536))
    }

    static func readMOTD(_ file: String, configuration: ServerConfiguration) throws -> String {
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw SettingsError("cannot read the MOTD file \(file): no such file, or not readable")
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SettingsError("the MOTD file \(file) is not UTF-8 text")
        }
        let motd = text.trimmingCharacters(in: .newlines)
        let maximum = maxMOTDBytes(configuration)
        guard motd.utf8.count <= maximum else {
            throw SettingsError(
                "the MOTD file \(file) is \(motd.utf8.count) bytes; at most \(maximum) fit in a welcome "
                    + "(16K, and 1536 less than --max-frame)")
        }
        return motd
    }

    /// A certificate that has expired, or expires within a week, is used (a client that pinned it still takes it)
    /// but said out loud: every other client will refuse it.
    static func warnIfExpiring(_ identity: TLSIdentity, logger: Logger, now: Date = Date()) {
        let left = identity.notValidAfter.timeIntervalSince(now)
        if left <= 0 {
            logger.error(
                "the certificate has expired: clients that check it refuse this server",
                metadata: ["expired": "\(identity.notValidAfter)", "sha256": "\(identity.fingerprint)"])
        } else if left < 7 * 86_400 {
            logger.warning("the certificate expires within a week", metadata: ["expires": "\(identity.notValidAfter)"])
        }
    }

    static func loadTLS(_ configuration: ServerConfiguration) throws -> ServerTLS? {
        guard let certificate = configuration.tlsCertificateFile, let key = configuration.tlsKeyFile else {
            return nil
        }
        return try ServerTLS(
            identity: try TLSIdentity(certificateFile: certificate, keyFile: key), pins: configuration.peerFingerprints)
    }

    static func loadSecret(_ configuration: ServerConfiguration, registry: DiscoveryRegistry?) throws -> LinkSecret? {
        if let file = configuration.linkSecretFile { return try LinkSecret.load(path: file) }
        return try registry?.secret()
    }
}
