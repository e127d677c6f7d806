import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import TChatServer

/// `tchat-bench idle`: many clients connected, named and joined, then quiet — what each costs the server.
struct Idle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "N clients connect, register and join, then idle: server memory per client, connection rate.",
        discussion: """
            Memory is the growth of the server's resident set (VmRSS in /proc/PID/status) from before the first \
            client to after the last one joined, divided by the clients; give --server-pid to measure it.
            """)

    @OptionGroup var target: TargetOptions
    @Option(help: "Clients to connect.") var clients = 10_000
    @Option(help: "Channels the clients are spread over.") var channels = 100
    @Option(help: "The server's process id, to read its memory from /proc.") var serverPid: Int32?
    @Option(help: "Seconds to stay connected once everyone is in, before measuring.") var hold: Double = 1

    func run() async throws {
        let limit = OpenFileLimit.raise()
        guard clients > 0, channels > 0 else { throw ValidationError("need clients and channels above 0") }
        guard clients + 100 <= limit else {
            throw ValidationError("\(clients) clients need that many open files; this process may open \(limit)")
        }
        let address = try target.address()
        let kind = try target.kind()
        let group = target.group()
        let tally = BenchTally()
        let before = try serverPid.map(Self.residentBytes)
        let fleet = ClientFleet(
            address: address, kind: kind, group: group, tally: tally,
            deadline: .now + .seconds(target.timeout), concurrency: target.connecting, tls: try target.tlsClient())
        let channels = self.channels
        let tag = TrafficRun.runTag
        let nicks = (0..<clients).map { "i\($0)x\(tag)" }
        let (connected, seconds) = try await fleet.connect(nicks: nicks) { index in
            BenchRole(
                senderIndex: nil, quota: 0, window: 1, size: 32, channel: "#idle\(index % channels)x\(tag)",
                receives: false, perSender: [], expectedSenders: [])
        }
        try await Task.sleep(for: .seconds(hold))
        let after = try serverPid.map(Self.residentBytes)
        var report = Report(scenario: "idle")
        report.add("clients", Double(connected.count))
        report.add("channels", Double(channels))
        report.add("connect time", seconds, "s")
        report.add("connections per second", Double(connected.count) / seconds)
        if let before, let after {
            report.add("server memory before", Double(before) / 1024, "KiB")
            report.add("server memory after", Double(after) / 1024, "KiB")
            report.add("server memory per client", Double(after - before) / Double(connected.count), "bytes")
        }
        report.add("errors", Double(tally.failed.load(ordering: .relaxed)))
        for client in connected { await client.close() }
        try? await group.shutdownGracefully()
        for failure in tally.firstFailures { FileHandle.standardError.write(Data("tchat-bench: \(failure)\n".utf8)) }
        try report.finish(json: target.json)
    }

    /// VmRSS of a process, in bytes.
    static func residentBytes(pid: Int32) throws -> Int {
        let path = "/proc/\(pid)/status"
        guard let status = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read \(path): is \(pid) a running process?")
        }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
        }
        throw ValidationError("\(path) has no VmRSS line")
    }
}
