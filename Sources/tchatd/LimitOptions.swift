import ArgumentParser
import TChatServer

/// The flags that bound what clients may hold and do: connections, handshakes, frames, queues, timeouts, requests.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("max-clients"), help: "Connections accepted at once.")
    var maxClients = 10_000

    @Option(
        name: .customLong("max-frame"),
        help: ArgumentHelp(
            "Largest frame accepted, in bytes; K, M and G suffixes allowed.", valueName: "bytes"))
    var maxFrame = "64K"

    @Option(
        name: .customLong("max-queue"),
        help: ArgumentHelp(
            "Bytes queued for one client before it is cut off; K, M and G suffixes allowed.", valueName: "bytes"))
    var maxQueue = "4M"

    @Option(
        name: .customLong("idle-timeout"),
        help: ArgumentHelp("Seconds of silence before a connection is closed.", valueName: "seconds"))
    var idleTimeout: Double = 120

    @Option(
        name: .customLong("frame-timeout"),
        help: ArgumentHelp("Seconds a frame may take from its first byte to its last.", valueName: "seconds"))
    var frameTimeout: Double = 10

    @Option(
        name: .customLong("hello-timeout"),
        help: ArgumentHelp("Seconds a new connection has to say HELLO.", valueName: "seconds"))
    var helloTimeout: Double = 5

    @Option(
        name: .customLong("max-handshakes"),
        help: "Connections that have not said HELLO, at most; past it the oldest of the busiest address is ended.")
    var maxHandshakes = 16_384

    @Option(name: .customLong("max-channels"), help: "Channels one client may be in at once.")
    var maxChannels = 500

    @Option(name: .customLong("max-server-channels"), help: "Channels this server's clients may make, all told.")
    var maxServerChannels = 10_000

    @Option(
        name: .customLong("create-rate"),
        help: ArgumentHelp(
            "Channels the clients of one address may make per minute after a burst; 0 for no limit.", valueName: "n"))
    var createRate = 10

    @Option(
        name: .customLong("create-burst"),
        help: ArgumentHelp(
            "Channels the clients of one address may make at once before --create-rate applies.", valueName: "n"))
    var createBurst = 20

    @Option(
        name: .customLong("max-per-ip"),
        help: "Connections from one address (an IPv6 prefix, see --ipv6-prefix) at once; 0 for no limit.")
    var maxPerIP = 100

    @Option(
        name: .customLong("ipv6-prefix"),
        help: ArgumentHelp("IPv6 addresses count as one address per prefix of this length.", valueName: "bits"))
    var ipv6Prefix = 64

    @Option(
        name: .customLong("connect-rate"),
        help: ArgumentHelp(
            "New connections per second from one address after its burst; 0 for no limit.", valueName: "n"))
    var connectRate: Double = 20

    @Option(
        name: .customLong("connect-burst"),
        help: ArgumentHelp(
            "New connections one address may open at once before --connect-rate applies.", valueName: "n"))
    var connectBurst = 200

    @Option(
        help: ArgumentHelp("Requests per second one client may make after its burst; 0 for no limit.", valueName: "n"))
    var rate: Double = 100

    @Option(help: ArgumentHelp("Requests one client may make at once before --rate applies.", valueName: "n"))
    var burst = 400

    @Option(name: .customLong("history-limit"), help: "Messages kept per channel.")
    var historyLimit = 10_000

    @Option(
        name: .customLong("history-memory"),
        help: ArgumentHelp(
            "Bytes of history all channels keep in memory; K, M and G suffixes allowed.", valueName: "bytes"))
    var historyMemory = "256M"

    @Option(
        name: .customLong("channel-history-memory"),
        help: ArgumentHelp(
            "Bytes of history one channel keeps in memory; K, M and G suffixes allowed.", valueName: "bytes"))
    var channelHistoryMemory = "4M"

    @Option(
        name: .customLong("history-answer-memory"),
        help: ArgumentHelp(
            "Bytes held for history answers not yet written, server-wide; K, M and G suffixes allowed.",
            valueName: "bytes"))
    var historyAnswerMemory = "64M"

    @Option(
        name: .customLong("connection-log-size"),
        help: ArgumentHelp(
            "Size at which clients.jsonl is rotated; K, M and G suffixes allowed; 0 never rotates.",
            valueName: "bytes"))
    var connectionLogSize = "16M"

    @Option(
        name: .customLong("connection-log-files"),
        help: ArgumentHelp("Rotated connection logs kept (clients.jsonl.1 ...).", valueName: "n"))
    var connectionLogFiles = 4

    func apply(to configuration: inout ServerConfiguration) throws {
        guard (1...1_000_000).contains(maxClients) else {
            throw ValidationError("--max-clients must be from 1 to 1000000")
        }
        configuration.maxClients = maxClients
        guard let frame = Self.byteCount(maxFrame), frame >= 1024, frame <= Int(UInt32.max) else {
            throw ValidationError("--max-frame must be a byte count from 1K to 4G, like 65536 or 64K")
        }
        configuration.maxFrameLength = frame
        guard let queue = Self.byteCount(maxQueue), queue >= 64 * 1024 else {
            throw ValidationError("--max-queue must be a byte count of at least 64K, like 4M")
        }
        configuration.maxOutboundBytes = queue
        configuration.idleTimeout = try Self.seconds(idleTimeout, "--idle-timeout", atLeast: 1)
        configuration.frameTimeout = try Self.seconds(frameTimeout, "--frame-timeout", atLeast: 0.1)
        configuration.helloTimeout = try Self.seconds(helloTimeout, "--hello-timeout", atLeast: 0.1)
        guard (1...1_000_000).contains(maxHandshakes) else {
            throw ValidationError("--max-handshakes must be from 1 to 1000000")
        }
        configuration.maxHandshakes = maxHandshakes
        guard maxChannels >= 1 else { throw ValidationError("--max-channels must be at least 1") }
        configuration.maxChannelsPerClient = maxChannels
        guard maxServerChannels >= 1 else { throw ValidationError("--max-server-channels must be at least 1") }
        configuration.maxServerChannels = maxServerChannels
        guard createRate >= 0 else { throw ValidationError("--create-rate must be 0 (no limit) or more") }
        configuration.channelCreationsPerMinute = createRate
        guard createBurst >= 1 else { throw ValidationError("--create-burst must be at least 1") }
        configuration.channelCreationBurst = createBurst
        guard maxPerIP >= 0 else { throw ValidationError("--max-per-ip must be 0 (no limit) or more") }
        configuration.maxConnectionsPerAddress = maxPerIP
        guard (1...128).contains(ipv6Prefix) else { throw ValidationError("--ipv6-prefix must be from 1 to 128") }
        configuration.ipv6Prefix = ipv6Prefix
        // A rate between 0 and 0.01 would make a refusal's pause (the burst at that rate) overflow.
        guard connectRate == 0 || (0.01...1_000_000).contains(connectRate) else {
            throw ValidationError("--connect-rate must be 0 (no limit) or from 0.01 to 1000000")
        }
        configuration.connectRate = connectRate
        guard connectBurst >= 1 else { throw ValidationError("--connect-burst must be at least 1") }
        configuration.connectBurst = connectBurst
        guard rate == 0 || (0.01...1_000_000).contains(rate) else {
            throw ValidationError("--rate must be 0 (no limit) or from 0.01 to 1000000")
        }
        configuration.requestRate = rate
        guard burst >= 1 else { throw ValidationError("--burst must be at least 1") }
        configuration.requestBurst = burst
        guard historyLimit >= 1 else { throw ValidationError("--history-limit must be at least 1") }
        configuration.historyLimit = historyLimit
        guard let memory = Self.byteCount(historyMemory), memory >= 1 << 20 else {
            throw ValidationError("--history-memory must be a byte count of at least 1M, like 256M")
        }
        configuration.historyMemory = memory
        guard let perChannel = Self.byteCount(channelHistoryMemory), perChannel >= 64 << 10, perChannel <= memory else {
            throw ValidationError("--channel-history-memory must be a byte count from 64K to --history-memory, like 4M")
        }
        configuration.channelHistoryMemory = perChannel
        guard let answers = Self.byteCount(historyAnswerMemory), answers >= 1 << 20 else {
            throw ValidationError("--history-answer-memory must be a byte count of at least 1M, like 64M")
        }
        configuration.historyAnswerMemory = answers
        guard let logSize = Self.byteCount(connectionLogSize), logSize == 0 || logSize >= 4096 else {
            throw ValidationError("--connection-log-size must be 0 or a byte count of at least 4K, like 16M")
        }
        configuration.connectionLog.maxBytes = logSize
        guard (0...1000).contains(connectionLogFiles) else {
            throw ValidationError("--connection-log-files must be from 0 to 1000")
        }
        configuration.connectionLog.keep = connectionLogFiles
    }

    static func seconds(_ value: Double, _ flag: String, atLeast least: Double) throws -> Duration {
        guard value >= least, value <= 86_400 * 365 else {
            throw ValidationError("\(flag) must be at least \(least.formatted()) seconds")
        }
        return .milliseconds(Int64(value * 1000))
    }

    /// `12345`, `64K`, `4M` or `1G` as a byte count.
    static func byteCount(_ text: String) -> Int? {
        let multipliers: [Character: Int] = [
            "K": 1024, "k": 1024, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30,
        ]
        if let last = text.last, let multiplier = multipliers[last] {
            return Int(text.dropLast()).flatMap {
                $0.multipliedReportingOverflow(by: multiplier).overflow ? nil : $0 * multiplier
            }
        }
        return Int(text)
    }
}
