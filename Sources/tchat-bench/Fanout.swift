import ArgumentParser
import Foundation
import Histogram
import NIOCore
import NIOPosix
import TChatProtocol
import TChatServer

/// Runs clients that send and count channel messages, and reports what arrived and how fast.
struct TrafficRun {
    /// One client: its nick, channel, sending quota (0: receive only) and sender index.
    struct Plan {
        var nick: String
        var channel: String
        var senderIndex: Int?
        var quota: Int
        var receives: Bool
        var expectedSenders: Set<Int>
    }

    let target: TargetOptions
    let window: Int
    let size: Int
    let plans: [Plan]
    let perSender: [Int]
    /// Deliveries that make the run complete.
    let expected: Int
    /// The server's process, whose CPU time is read across the sending phase.
    var serverPid: Int32? = nil

    func run(scenario: String, extra: (inout Report) -> Void = { _ in }) async throws -> Report {
        let address = try target.address()
        let kind = try target.kind()
        let group = target.group()
        let tally = BenchTally()
        let deadline = ContinuousClock.now + .seconds(target.timeout)
        let window = self.window
        let size = self.size
        let perSender = self.perSender
        let plans = self.plans
        var audiences = [Int](repeating: 0, count: perSender.count)
        for plan in plans where plan.receives {
            for sender in plan.expectedSenders where sender != plan.senderIndex { audiences[sender] += 1 }
        }
        let windows = perSender.indices.map { DeliveryWindow(messages: perSender[$0], audience: audiences[$0]) }
        let fleet = ClientFleet(
            address: address, kind: kind, group: group, tally: tally, deadline: deadline,
            concurrency: target.connecting, tls: try target.tlsClient())
        let (clients, connectSeconds) = try await fleet.connect(nicks: plans.map(\.nick)) { index in
            let plan = plans[index]
            return BenchRole(
                senderIndex: plan.senderIndex, quota: plan.quota, window: window, size: size,
                channel: plan.channel, receives: plan.receives, perSender: perSender,
                expectedSenders: plan.expectedSenders, windows: windows)
        }
        for (plan, client) in zip(plans, clients) {
            if let sender = plan.senderIndex { windows[sender].onRoom { client.go() } }
        }
        // Everyone is in; memberships have reached every server (for IRC, the JOIN answers came back).
        try await Task.sleep(for: .milliseconds(200))
        let cpuBefore = serverPid.flatMap(ProcessCPU.seconds)
        for client in clients { client.go() }
        while tally.delivered.load(ordering: .relaxed) < expected && ContinuousClock.now < deadline
            && tally.failed.load(ordering: .relaxed) == 0
        {
            try await Task.sleep(for: .milliseconds(2))
        }
        let end = NIODeadline.now().uptimeNanoseconds
        let cpuAfter = serverPid.flatMap(ProcessCPU.seconds)
        let start = tally.start.load(ordering: .relaxed)
        // Late stragglers still count for loss and duplicates; a moment to let them in.
        try await Task.sleep(for: .milliseconds(100))
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var lost = 0
        var duplicated = 0
        var reordered = 0
        var received = 0
        var sent = 0
        for client in clients {
            let role = try await client.role()
            histogram.add(role.histogram)
            lost += role.lost
            duplicated += role.duplicated
            reordered += role.reordered
            received += role.received
            sent += role.sent
        }
        for client in clients { await client.close() }
        try? await group.shutdownGracefully()
        let seconds = Double(end &- start) / 1e9
        var report = Report(scenario: scenario)
        report.add("clients", Double(plans.count))
        report.add("connect time", connectSeconds, "s")
        report.add("messages sent", Double(sent))
        report.add("deliveries", Double(received))
        report.add("deliveries expected", Double(expected))
        report.add("elapsed", seconds, "s")
        report.add(
            "deliveries per second", seconds > 0 ? Double(tally.delivered.load(ordering: .relaxed)) / seconds : 0)
        report.add("messages per second", seconds > 0 ? Double(sent) / seconds : 0)
        report.add("lost", Double(lost))
        report.add("duplicated", Double(duplicated))
        report.add("reordered", Double(reordered))
        report.add("errors", Double(tally.failed.load(ordering: .relaxed)))
        report.addLatency(histogram)
        if let cpuBefore, let cpuAfter {
            report.add("server cpu sending", cpuAfter - cpuBefore, "s")
            if sent > 0 {
                report.add("server cpu per message sending", (cpuAfter - cpuBefore) * 1e6 / Double(sent), "µs")
            }
        }
        extra(&report)
        for failure in tally.firstFailures { FileHandle.standardError.write(Data("tchat-bench: \(failure)\n".utf8)) }
        return report
    }

    /// A short tag that keeps nicks of consecutive runs apart.
    static let runTag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
}

/// `tchat-bench fanout`: R receivers and S senders in one channel.
struct Fanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "R receivers and S senders in one channel: deliveries per second, loss, order, latency.")

    @OptionGroup var target: TargetOptions
    @Option(help: "Receiving clients.") var receivers = 100
    @Option(help: "Sending clients.") var senders = 1
    @Option(help: "Messages in all, spread over the senders.") var messages = 20_000
    @Option(help: "Messages per sender not yet received by every member, at most.") var window = 100
    @Option(help: "Message body size in bytes.") var size = 64
    @Option(help: "The server's process id: its CPU time is also read across the sending phase alone.")
    var serverPid: Int32?

    func run() async throws {
        OpenFileLimit.raise()
        guard receivers > 0, senders > 0, messages >= senders, window > 0, size >= 32 else {
            throw ValidationError("need receivers, senders and a window above 0, messages >= senders, size >= 32")
        }
        let channel = "#fanout\(TrafficRun.runTag)"
        let perSender = (0..<senders).map { messages / senders + ($0 < messages % senders ? 1 : 0) }
        let everyone = Set(0..<senders)
        var plans = (0..<receivers).map {
            TrafficRun.Plan(
                nick: "r\($0)x\(TrafficRun.runTag)", channel: channel, senderIndex: nil, quota: 0, receives: true,
                expectedSenders: everyone)
        }
        plans += (0..<senders).map {
            TrafficRun.Plan(
                nick: "s\($0)x\(TrafficRun.runTag)", channel: channel, senderIndex: $0, quota: perSender[$0],
                receives: false, expectedSenders: [])
        }
        let run = TrafficRun(
            target: target, window: window, size: size, plans: plans, perSender: perSender,
            expected: receivers * messages, serverPid: serverPid)
        try await run.run(scenario: "fanout").finish(json: target.json)
    }
}

/// `tchat-bench rooms`: many small channels all talking at once.
struct Rooms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Many small channels all talking at once (every client sends and receives).")

    @OptionGroup var target: TargetOptions
    @Option(help: "Clients, each in one channel.") var clients = 1000
    @Option(help: "Channels; clients are spread evenly over them.") var channels = 200
    @Option(help: "Messages in all, spread over the clients.") var messages = 20_000
    @Option(help: "Messages per client not yet received by every member, at most.") var window = 10
    @Option(help: "Message body size in bytes.") var size = 64
    @Option(help: "The server's process id: its CPU time is also read across the sending phase alone.")
    var serverPid: Int32?

    func run() async throws {
        OpenFileLimit.raise()
        guard clients >= channels, channels > 0, messages >= clients, window > 0, size >= 32 else {
            throw ValidationError("need clients >= channels > 0, messages >= clients, a window above 0, size >= 32")
        }
        let perSender = (0..<clients).map { messages / clients + ($0 < messages % clients ? 1 : 0) }
        let members = Dictionary(grouping: 0..<clients) { $0 % channels }
        var plans: [TrafficRun.Plan] = []
        var expected = 0
        for index in 0..<clients {
            let room = index % channels
            let others = Set(members[room]!).subtracting([index])
            expected += others.reduce(0) { $0 + perSender[$1] }
            plans.append(
                TrafficRun.Plan(
                    nick: "c\(index)x\(TrafficRun.runTag)", channel: "#room\(room)x\(TrafficRun.runTag)",
                    senderIndex: index, quota: perSender[index], receives: true, expectedSenders: others))
        }
        let run = TrafficRun(
            target: target, window: window, size: size, plans: plans, perSender: perSender, expected: expected,
            serverPid: serverPid)
        try await run.run(scenario: "rooms") { $0.add("channels", Double(channels)) }.finish(json: target.json)
    }
}
