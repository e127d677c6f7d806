import Foundation
import Logging
import Synchronization
import TChatProtocol
import TChatTLS

/// What SIGHUP reads again without dropping anyone: the certificate and key, the link secret and the MOTD.
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

    let configuration: ServerConfiguration
    private let registry: DiscoveryRegistry?
    private let value: Mutex<Snapshot>

    /// Reads everything; throws the first problem, naming the file. `registry` (`--discover`, already prepared)
    /// holds the link secret when no `--link-secret` is given.
    init(configuration: ServerConfiguration, registry: DiscoveryRegistry?) throws {
        self.configuration = configuration
        self.registry = registry
        var motd = configuration.motd
        if let file = configuration.motdFile { motd = try Self.readMOTD(file) }
        let tls = try Self.loadTLS(configuration)
        let secret = try Self.loadSecret(configuration, registry: registry)
        value = Mutex(Snapshot(motd: motd, tls: tls, linkSecret: secret))
    }

    var current: Snapshot { value.withLock { $0 } }

    var isLinkingOn: Bool { current.linkSecret != nil }

    /// SIGHUP: reads every file again, logs what changed and what could not be used (keeping the old setting).
    func reload(logger: Logger) {
        var next = current
        if let file = configuration.motdFile {
            do {
                next.motd = try Self.readMOTD(file)
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
    }

    static func readMOTD(_ file: String) throws -> String {
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw SettingsError("cannot read the MOTD file \(file): no such file, or not readable")
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SettingsError("the MOTD file \(file) is not UTF-8 text")
        }
        return text.trimmingCharacters(in: .newlines)
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
