import ArgumentParser
import NIOCore
import NIOPosix
import TChatProtocol
import TChatTLS

/// Connects many benchmark clients, a bounded number at a time, and says how fast they got in.
struct ClientFleet {
    /// Clients per loopback source address, safely below the ~28,000 ephemeral ports one address has.
    static let clientsPerSource = 20_000

    let address: ServerAddress
    let kind: BenchProtocol
    let group: any EventLoopGroup
    let tally: BenchTally
    let deadline: ContinuousClock.Instant
    /// Connections being set up at once. More keeps both sides busier, but past the server's listen backlog the
    /// kernel drops connection attempts and each one dropped waits a second for its retry (ngircd listens with a
    /// backlog of 10).
    let concurrency: Int
    /// Set when the clients speak TLS (one context for all of them).
    let tls: TLSClient?

    /// Connects one client per nick (each made ready: registered and joined) and returns them in order with the
    /// seconds it took.
    func connect(
        nicks: [String], role: @escaping @Sendable (Int) -> BenchRole
    ) async throws -> (clients: [BenchClient], seconds: Double) {
        let started = ContinuousClock.now
        var clients: [BenchClient?] = Array(repeating: nil, count: nicks.count)
        let needsSources = nicks.count > Self.clientsPerSource && address.host.hasPrefix("127.")
        var connected = 0
        do {
            try await withThrowingTaskGroup(of: (Int, BenchClient).self) { tasks in
                var next = 0
                func start() {
                    let index = next
                    next += 1
                    let source =
                        needsSources
                        ? "127.0.\(1 + index / Self.clientsPerSource / 250).\(2 + index / Self.clientsPerSource % 250)"
                        : nil
                    tasks.addTask { [address, kind, tally, group, tls] in
                        let client = try await BenchClient.connect(
                            to: address, protocol: kind, nick: nicks[index], tally: tally, group: group,
                            source: source, tls: tls
                        ) { role(index) }
                        return (index, client)
                    }
                }
                while next < min(concurrency, nicks.count) { start() }
                for try await (index, client) in tasks {
                    clients[index] = client
                    connected += 1
                    guard ContinuousClock.now < deadline else {
                        throw ValidationError("timed out after connecting \(connected) of \(nicks.count) clients")
                    }
                    if next < nicks.count { start() }
                }
            }
        } catch {
            for client in clients { await client?.close() }
            throw error
        }
        let elapsed = ContinuousClock.now - started
        return (clients.map { $0! }, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
