import ArgumentParser
import Foundation
import TChatClient
import TChatProtocol

/// `tchat listen`: joins channels and prints every event as one JSON object per line, until interrupted.
struct ListenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Join channels and print each event as a line of JSON.",
        discussion: """
            Each line has "type" (message, direct, join, part, nick, quit, topic, notice), and as they apply \
            "channel", "from", "id", "time", "content" (text, json or action) and "body". A JSON body is embedded as JSON. \
            Replayed messages carry "history": true.
            """)

    @OptionGroup var connection: ServerOptions

    @Option(help: ArgumentHelp("First print the last N messages of each channel.", valueName: "n"))
    var history: UInt16 = 0

    @Argument(help: ArgumentHelp("The channels to join.", valueName: "channel"))
    var channels: [String]

    func validate() throws {
        guard !channels.isEmpty else { throw ValidationError("name at least one channel") }
        for channel in channels {
            if let problem = ChannelName.problem(with: channel.hasPrefix("#") ? channel : "#" + channel) {
                throw ValidationError("invalid channel '\(channel)': \(problem)")
            }
        }
        guard history <= ProtocolLimits.maxHistoryRequest else {
            throw ValidationError("--history is at most \(ProtocolLimits.maxHistoryRequest)")
        }
    }

    func run() async throws {
        try await reportingFailure {
            let connection = try await ChatConnection.connect(
                try self.connection.connectOptions(receivesEvents: true, role: "listen"))
            for channel in channels {
                let (_, replay) = try await connection.join(channel, history: history)
                for message in replay { EventFormatter.print(.message(message), history: true) }
            }
            for await event in connection.events {
                if case .error(let error) = event {
                    fail("the server closed the connection: \(error.message) (\(error.code))")
                }
                EventFormatter.print(event, history: false)
            }
            fail("the server closed the connection")
        }
    }
}

/// Turns events into the JSON lines `tchat listen` prints.
enum EventFormatter {
    static func line(for event: ServerFrame, history: Bool) -> [UInt8]? {
        var out = JSONLineWriter(forTerminal: true)
        switch event {
        case .message(let message):
            out.field("type", "message")
            out.field("channel", message.channel)
            out.field("from", message.from)
            out.field("id", message.id)
            out.field("time", message.time.iso8601)
            body(message.body, into: &out)
            if history { out.field("history", true) }
        case .direct(let message):
            out.field("type", "direct")
            out.field("from", message.from)
            out.field("to", message.to)
            out.field("time", message.time.iso8601)
            body(message.body, into: &out)
        case .joined(let channel, let nick, let time):
            out.field("type", "join")
            out.field("channel", channel)
            out.field("from", nick)
            out.field("time", time.iso8601)
        case .parted(let channel, let nick, let reason, let time):
            out.field("type", "part")
            out.field("channel", channel)
            out.field("from", nick)
            out.field("time", time.iso8601)
            out.field("reason", reason)
        case .nickChanged(let old, let new, let time):
            out.field("type", "nick")
            out.field("from", old)
            out.field("nick", new)
            out.field("time", time.iso8601)
        case .quitted(let nick, let reason, let time):
            out.field("type", "quit")
            out.field("from", nick)
            out.field("time", time.iso8601)
            out.field("reason", reason)
        case .topic(let channel, let topic, let setBy, let time):
            out.field("type", "topic")
            out.field("channel", channel)
            out.field("from", setBy)
            out.field("time", time.iso8601)
            out.field("topic", topic)
        case .notice(let text):
            out.field("type", "notice")
            out.field("time", Timestamp.now().iso8601)
            out.field("body", text)
        default:
            return nil
        }
        return out.finish()
    }

    private static func body(_ body: MessageBody, into out: inout JSONLineWriter) {
        out.field("content", body.contentType.description)
        switch body.contentType {
        case .text, .action, .notice: out.field("body", body.text)
        case .json: out.field("body", json: body.text)
        }
    }

    /// Writes the line and flushes at once: a reader of a pipe sees each event as it happens.
    static func print(_ event: ServerFrame, history: Bool) {
        guard let line = line(for: event, history: history) else { return }
        FileHandle.standardOutput.write(Data(line))
    }
}
