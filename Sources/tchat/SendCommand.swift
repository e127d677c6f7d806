import ArgumentParser
import Foundation
import NIOCore
import TChatClient
import TChatProtocol

/// `tchat send`: one message from the arguments, or one per line of standard input, acknowledged before exit.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a message to a channel, or to a nick with --to.",
        discussion: """
            With no TEXT, every line of standard input is sent as its own message, in order; empty lines are \
            skipped. tchat send exits 0 once the server has acknowledged every message.
            """)

    @OptionGroup var connection: ServerOptions

    @Flag(help: "Send the body as JSON; it is checked before sending.")
    var json = false

    @Flag(help: "Send a notice: what a bot or service says, which programs never answer (IRC's NOTICE).")
    var notice = false

    @Option(help: ArgumentHelp("Send a direct message to this nick instead of a channel.", valueName: "nick"))
    var to: String?

    @Flag(
        help: ArgumentHelp(
            "Give each message a key of its own (SEND_ONCE) and send again, for up to a minute, what the server "
                + "could not store: each is stored exactly once. Needs a server with --store."))
    var once = false

    @Argument(help: ArgumentHelp("The channel (not with --to), then the text.", valueName: "channel] [text"))
    var words: [String] = []

    /// Messages in flight at once: enough to hide the round trip, bounded so memory is.
    static let window = 256

    func validate() throws {
        if to == nil && words.isEmpty { throw ValidationError("name a channel, or a nick with --to") }
        if json && notice { throw ValidationError("a message is JSON or a notice, not both") }
        if once && to != nil { throw ValidationError("--once is for channel messages, not --to") }
        if let to, let problem = Nick.problem(with: to) { throw ValidationError("invalid nick '\(to)': \(problem)") }
        if to == nil, let problem = ChannelName.problem(with: words[0].hasPrefix("#") ? words[0] : "#" + words[0]) {
            throw ValidationError("invalid channel '\(words[0])': \(problem)")
        }
    }

    func run() async throws {
        try await reportingFailure {
            let target = to ?? words[0]
            let text = Array(to == nil ? words.dropFirst() : words[...])
            // A message given as arguments is checked before connecting at all.
            let argumentBody = text.isEmpty ? nil : try body(text.joined(separator: " "), line: nil)
            let connection = try await ChatConnection.connect(
                try self.connection.connectOptions(receivesEvents: false, role: "send"))
            // Pipelined, in order; a server's rate limit slows it down without losing or reordering a line.
            let sender = PipelinedSender(connection: connection, window: Self.window)
            func submit(_ body: MessageBody, line: Int?) async throws {
                try checkSize(body, connection: connection, line: line)
                let frame: ClientFrame =
                    if let to {
                        .sendDirect(nick: to, body: body)
                    } else if once {
                        .sendOnce(channel: target, key: Self.newKey(), body: body)
                    } else {
                        .send(channel: target, body: body)
                    }
                try await sender.submit(frame)
            }
            do {
                if let argumentBody {
                    try await submit(argumentBody, line: nil)
                } else {
                    var number = 0
                    for await line in StandardInputLines() {
                        number += 1
                        guard !line.isEmpty else { continue }
                        try await submit(try body(line, line: number), line: number)
                    }
                }
            } catch {
                // What was sent before the bad line still counts: wait for it before reporting.
                await sender.drain()
                throw error
            }
            try await sender.finish()
            await connection.quit()
        }
    }

    /// 128 random bits in hex: a key no other message of ours will have.
    static func newKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return String(high, radix: 16) + "-" + String(low, radix: 16)
    }

    private func body(_ text: String, line: Int?) throws -> MessageBody {
        guard json else { return notice ? MessageBody(.notice, text) : .text(text) }
        if let problem = JSONValidator.problem(in: text.utf8) {
            throw ConnectionError(
                "\(line.map { "line \($0): " } ?? "")not valid JSON: \(problem); nothing more was sent")
        }
        return .json(text)
    }

    private func checkSize(_ body: MessageBody, connection: ChatConnection, line: Int?) throws {
        // The server refuses a message whose MESSAGE or DIRECT would be longer than its max frame: what surrounds
        // the body there (our nick, an id, a time) counts too.
        let nick = connection.welcome.nick
        let overhead =
            if let to {
                ProtocolLimits.directFrameLength(from: nick, to: to, bodyBytes: 0)
            } else {
                ProtocolLimits.messageFrameLength(
                    channel: words[0].hasPrefix("#") ? words[0] : "#" + words[0], from: nick, bodyBytes: 0)
            }
        let room = Int(connection.welcome.maxFrameLength) - overhead
        if body.text.utf8.count > room {
            throw ConnectionError(
                "\(line.map { "line \($0): " } ?? "")the message is \(body.text.utf8.count) bytes; "
                    + "this server accepts at most \(room); nothing more was sent")
        }
    }
}

/// Standard input as lines, read on a thread of its own so no event loop ever waits on it. At most `bound`
/// lines wait between the reader and the sender, so a fast producer waits for the network instead of filling
/// memory.
struct StandardInputLines: AsyncSequence {
    typealias Element = String
    static let bound = 1024

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<String>.Iterator
        let permits: DispatchSemaphore

        mutating func next() async -> String? {
            let line = await base.next()
            if line != nil { permits.signal() }
            return line
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let permits = DispatchSemaphore(value: Self.bound)
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                permits.wait()
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.start()
        return AsyncIterator(base: stream.makeAsyncIterator(), permits: permits)
    }
}
