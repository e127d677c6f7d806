import ArgumentParser
import Foundation
import TChatClient
import TChatProtocol

/// `tchat servers`: the servers of the network, their load, and which one answered.
struct ServersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "servers",
        abstract: "List the servers of the network with their load.",
        discussion: "The server you are connected to is marked with *.")

    @OptionGroup var connection: ServerOptions

    func run() async throws {
        try await reportingFailure {
            let options = try connection.connectOptions(receivesEvents: false, role: "servers")
            let chat = try await ChatConnection.connect(options)
            let servers = try await chat.request(.listServers).compactMap { frame -> ServerInfo? in
                if case .serverInfo(let info) = frame { info } else { nil }
            }
            await chat.quit()
            let now = Timestamp.now()
            let rows = servers.map { info in
                [
                    (info.isThisServer ? "* " : "  ") + info.name, info.clientAddress,
                    "\(info.clients)/\(info.capacity)",
                    Self.uptime(now.milliseconds(since: info.startedAt)), info.version,
                ]
            }
            let header = ["  NAME", "CLIENTS AT", "LOAD", "UP", "VERSION"]
            let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                var text = line.joined(separator: "  ")
                while text.last == " " { text.removeLast() }
                print(text)
            }
        }
    }

    static func uptime(_ milliseconds: UInt64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(seconds / 60 % 60)m" }
        return "\(seconds / 86_400)d\(seconds / 3600 % 24)h"
    }
}
