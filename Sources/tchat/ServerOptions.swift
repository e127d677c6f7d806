import ArgumentParser
import Foundation
import TChatClient
import TChatProtocol

/// `--server` and `--nick`, shared by every subcommand, with their environment fallbacks.
struct ServerOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The server (default: $TCHAT_SERVER, else 127.0.0.1:\(ServerAddress.defaultClientPort)).",
            valueName: "host:port"))
    var server: String?

    @Option(help: ArgumentHelp("Your nick (default: $TCHAT_NICK, else $USER).", valueName: "nick"))
    var nick: String?

    func connectOptions(receivesEvents: Bool) throws -> ConnectOptions {
        let environment = ProcessInfo.processInfo.environment
        let serverText = server ?? environment["TCHAT_SERVER"] ?? "127.0.0.1:\(ServerAddress.defaultClientPort)"
        let address: ServerAddress
        do {
            address = try ServerAddress(parsing: serverText, defaultPort: ServerAddress.defaultClientPort)
        } catch {
            throw ValidationError(error.message)
        }
        guard let nick = nick ?? environment["TCHAT_NICK"] ?? environment["USER"], !nick.isEmpty else {
            throw ValidationError("no nick: pass --nick or set TCHAT_NICK")
        }
        if let problem = Nick.problem(with: nick) {
            throw ValidationError("invalid nick '\(nick)': \(problem)")
        }
        var options = ConnectOptions(server: address, nick: nick)
        options.receivesEvents = receivesEvents
        return options
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

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tchat: \(message)\n".utf8))
    exit(1)
}
