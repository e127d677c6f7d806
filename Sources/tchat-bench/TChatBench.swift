import ArgumentParser
import Foundation
import Histogram
import NIOCore
import NIOPosix
import TChatProtocol
import TChatTLS

/// `tchat-bench`: load for tchatd (and for IRC servers, to compare), bounded in count and time, on loopback only.
@main
struct TChatBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tchat-bench",
        abstract: "Measure a chat server: fan-out, many rooms, idle clients, history writes, password hashes, logins.",
        discussion: "Every run is bounded in messages and in time, and only loopback servers may be targets.",
        subcommands: [
            Fanout.self, Rooms.self, Idle.self, HistoryBench.self, PasswordBench.self, LoginBench.self, AckBench.self,
        ])
}

/// Flags every networked scenario shares.
struct TargetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server, on a loopback address.", valueName: "host:port"))
    var server: String

    @Option(help: "tchat or irc.")
    var `protocol`: String = "tchat"

    @Option(help: "Seconds after which the run stops, whatever it reached.")
    var timeout: Double = 60

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Option(help: "Event loop threads for the clients (default: one per core).")
    var threads: Int = 0

    @Option(help: "Connections being set up at once (keep it near the server's listen backlog).")
    var connecting: Int = 100

    @Flag(help: "Speak TLS (either protocol); the server's certificate is not checked, as the target is loopback.")
    var tls = false

    /// The clients' TLS, made once for all of them.
    func tlsClient() throws -> TLSClient? {
        guard tls else { return nil }
        do {
            return try TLSClient(trust: .unverified)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func address() throws -> ServerAddress {
        let address = try ServerAddress(parsing: server, defaultPort: 7667, allowingTLS: true)
        guard ["127.0.0.1", "localhost", "::1"].contains(address.host) || address.host.hasPrefix("127.") else {
            throw ValidationError("tchat-bench only targets loopback addresses, not \(address.host)")
        }
        return address
    }

    func validate() throws {
        guard connecting > 0 else { throw ValidationError("--connecting must be above 0") }
    }

    func kind() throws -> BenchProtocol {
        guard let kind = BenchProtocol(rawValue: `protocol`) else {
            throw ValidationError("--protocol is tchat or irc")
        }
        return kind
    }

    func group() -> MultiThreadedEventLoopGroup {
        MultiThreadedEventLoopGroup(numberOfThreads: threads > 0 ? threads : System.coreCount)
    }
}
