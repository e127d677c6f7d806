import ArgumentParser
import Foundation
import Histogram
import NIOCore
import NIOPosix
import TChatProtocol

/// `tchat-bench acks`: how fast servers acknowledge channel messages, and how long each acknowledgement takes, at a
/// fixed rate or as fast as a window of unanswered SENDs allows (issue 15's throughput and latency figures).
///
/// One thread drives every sender by default: the load generator shares the machine with the servers and their
/// database, and what it spends is taken from them.
struct AckBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acks",
        abstract: "SEND-to-SENT latency and acknowledged messages/s against one or more servers.",
        discussion: """
            Each server gets --senders connections, sender k sending to channel PREFIX<server>-<k mod --channels> \
            without joining it. With --rate, the senders together send that many messages a second, each timed from \
            when it was due; without, each keeps --window SENDs unanswered. Acknowledgements count until the end of \
            --seconds.
            """)

    @Option(
        name: .customLong("server"),
        help: ArgumentHelp("A server, on a loopback address; repeat.", valueName: "host:port"))
    var servers: [String]
    @Option(help: "Senders per server.") var senders = 20
    @Option(help: "Channels per server.") var channels = 10
    @Option(help: "Messages a second from all senders together (0: as fast as the window lets).") var rate: Double = 0
    @Option(help: "SENDs a sender may have unanswered.") var window = 64
    @Option(help: "Seconds of sending.") var seconds: Double = 15
    @Option(help: "Message body size in bytes.") var size = 64
    @Option(help: "Prefix of the channels' and senders' names.") var prefix = "a"
    @Option(help: "Event loop threads for the senders.") var threads = 1
    @Flag(help: "Print the report as one JSON object.") var json = false

    func validate() throws {
        guard !servers.isEmpty else { throw ValidationError("give at least one --server") }
        guard senders > 0, channels > 0, window > 0, size > 0, threads > 0, seconds > 0, rate >= 0 else {
            throw ValidationError("--senders, --channels, --window, --size, --threads and --seconds must be above 0")
        }
        guard seconds <= 600 else { throw ValidationError("--seconds is at most 600") }
    }

    func run() async throws {
        let addresses = try servers.map { text in
            let address = try ServerAddress(parsing: text, defaultPort: 7667)
            guard ["localhost", "::1"].contains(address.host) || address.host.hasPrefix("127.") else {
                throw ValidationError("tchat-bench only targets loopback addresses, not \(address.host)")
            }
            return address
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let tally = AckTally()
        let body = MessageBody.text(String(repeating: "x", count: size))
        let perSender = rate / Double(senders * addresses.count)
        var clients: [(channel: any Channel, handler: NIOLoopBound<AckHandler>)] = []
        do {
            for (index, address) in addresses.enumerated() {
                for k in 0..<senders {
                    let plan = AckHandler.Plan(
                        channel: "#\(prefix)\(index)-\(k % channels)", body: body, rate: perSender, window: window)
                    clients.append(
                        try await Self.connect(
                            to: address, nick: "\(prefix)\(index)x\(k)", plan: plan, tally: tally, loop: group.next()))
                }
            }
        } catch {
            for client in clients { try? await client.channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        let start = nowNanos() + 50_000_000
        let deadline = start + UInt64(seconds * 1e9)
        for client in clients {
            let handler = client.handler
            client.channel.eventLoop.execute { handler.value.go(start: start, deadline: deadline) }
        }
        // The run, then half a second for the last answers.
        try await Task.sleep(for: .nanoseconds(Int64(deadline - nowNanos()) + 500_000_000))
        for client in clients {
            let handler = client.handler
            try? await client.channel.eventLoop.submit {
                handler.value.isClosing = true
                handler.value.report()
            }.get()
            try? await client.channel.close()
        }
        try? await group.shutdownGracefully()
        let figures = tally.snapshot
        // Microseconds, up to the longest an answer could have taken.
        let longest = UInt64((seconds + 60) * 1e6)
        var histogram = Histogram<UInt64>(highestTrackableValue: longest, numberOfSignificantValueDigits: .three)
        for latency in figures.latencies { _ = histogram.record(latency) }
        var report = Report(scenario: "acks")
        report.add("servers", Double(addresses.count))
        report.add("senders", Double(senders * addresses.count))
        report.add("rate", rate, "messages/s")
        report.add("acknowledged", Double(figures.acknowledged))
        report.add("acknowledged per second", Double(figures.acknowledged) / seconds)
        report.add("refused", Double(figures.refused))
        report.add("sent", Double(figures.sent))
        // Answers that never came (within half a second after the run), and paced sends a full window held back:
        // a server that stalls must not look faster for them.
        report.add("unanswered", Double(figures.unanswered))
        report.add("not sent in time", Double(figures.notSent))
        report.addLatency(histogram)
        report.add("errors", Double(figures.failures.count))
        for failure in figures.failures.prefix(5) {
            FileHandle.standardError.write(Data("tchat-bench: \(failure)\n".utf8))
        }
        try report.finish(json: json)
    }

    private static func connect(
        to address: ServerAddress, nick: String, plan: AckHandler.Plan, tally: AckTally, loop: any EventLoop
    ) async throws -> (channel: any Channel, handler: NIOLoopBound<AckHandler>) {
        let registered = loop.makePromise(of: Void.self)
        let handler = try await loop.submit {
            NIOLoopBound(AckHandler(nick: nick, plan: plan, tally: tally, registered: registered), eventLoop: loop)
        }.get()
        let channel = try await ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: address.host, port: address.port).get()
        try await registered.futureResult.get()
        return (channel, handler)
    }
}
