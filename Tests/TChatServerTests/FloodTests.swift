import Foundation
import NIOCore
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

#if canImport(Glibc)
    import Glibc
#endif

/// Clients that do too much: hang up mid-frame, join thousands of channels, ping without end, connect and drop
/// again and again. The server answers each as `docs/security.md` says and keeps serving everyone else.
@Suite(.serialized)
struct FloodTests {
    static func code(_ frame: ServerFrame?) -> ErrorCode? { HostileClientTests.errorCode(frame) }

    static func count(_ name: String, default value: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? value
    }

    @Test func clientsThatHangUpMidFrameLeaveNothingBehind() async throws {
        let server = try await TestServer { $0.maxConnectionsPerAddress = 5 }
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        for index in 0..<200 {
            let raw = try await RawConnection.connect(to: server.address)
            if index % 2 == 0 { try await raw.hello("h\(index)") }
            try await raw.send([0, 0, 1, 0, FrameType.send.rawValue, 0, 0])  // a 256-byte frame, 7 bytes of it
            try await raw.channel.close()
        }
        // Every one of them was forgotten: with at most 5 per address, 4 more (alice is one) still get in.
        var others: [ChatConnection] = []
        #expect(
            await eventually {
                for connection in others { await connection.close() }
                others = []
                for index in 0..<4 {
                    guard let connection = try? await server.connect("o\(index)", events: false) else { return false }
                    others.append(connection)
                }
                return true
            })
        #expect(try await alice.ping() < .seconds(1))
        await server.stop()
    }

    @Test func tenThousandJoinsStopAtTheChannelLimit() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let joiner = try await RawConnection.connect(to: server.address)
        try await joiner.hello("joiner")
        var joins = ByteBuffer()
        for index in 0..<10_000 {
            try ClientFrame.join(channel: "#j\(index)", history: 0).encode(requestID: UInt32(10 + index), into: &joins)
        }
        try await joiner.send(Array(joins.readableBytesView))
        #expect(
            await eventually(within: .seconds(30)) {
                joiner.frames.filter { $0.frame.type == .ok || $0.frame.type == .error }.count >= 10_001
            })
        let finals = joiner.frames.filter { $0.id >= 10 && ($0.frame.type == .ok || $0.frame.type == .error) }
        #expect(finals.filter { $0.frame == .ok }.count == 500)
        #expect(finals.filter { Self.code($0.frame) == .tooManyChannels }.count == 9_500)
        #expect(server.server.context?.channels.channelCount == 500, "a refused join makes no channel")
        #expect(!joiner.isClosed)
        let other = try await server.connect("other", events: false)
        _ = try await other.join("#calm")
        #expect(try await other.ping() < .seconds(1))
        await server.stop()
    }

    @Test func aPingFloodIsAnsweredWithinTheBudgetAndRefusedBeyondIt() async throws {
        let pings = Self.count("TCHAT_PING_FLOOD", default: 20_000)
        let server = try await TestServer {
            $0.requestRate = 100
            $0.requestBurst = 400
            // The answers (mostly refusals) come to megabytes; this test's reader, decoding every one, is slower
            // than the server and would be cut off at the default queue bound, which is another test's subject.
            $0.maxOutboundBytes = 256 << 20
        }
        defer { server.removeData() }
        let bystander = try await server.connect("bystander", events: false)
        let flooder = try await RawConnection.connect(to: server.address)
        var flood = ByteBuffer()
        for index in 0..<pings { try ClientFrame.ping(token: UInt64(index)).encode(requestID: 7, into: &flood) }
        let started = ContinuousClock.now
        try await flooder.send(Array(flood.readableBytesView))
        // Meanwhile the others are served.
        #expect(try await bystander.ping() < .seconds(1))
        #expect(await eventually(within: .seconds(120)) { flooder.frames.count >= pings })
        let answered = flooder.frames.filter { if case .pong = $0.frame { true } else { false } }.count
        let refused = flooder.frames.filter { Self.code($0.frame) == .rateLimited }.count
        let seconds = Double((ContinuousClock.now - started).components.seconds) + 1
        #expect(answered + refused == pings, "every ping got an answer or a refusal, nothing was dropped")
        #expect(answered >= 400 && Double(answered) <= 400 + 100 * seconds, "\(answered) pongs in \(seconds) s")
        #expect(!flooder.isClosed)
        #expect(try await bystander.ping() < .seconds(1))
        await server.stop()
    }

    /// Opens a TCP connection and resets it at once (SO_LINGER 0: no TIME_WAIT left behind, so the attempts do not
    /// run out of ports).
    static func connectAndReset(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    @Test func connectionAttemptsInARowLeaveTheLimitsAndTheServerStanding() async throws {
        let attempts = Self.count("TCHAT_CONNECTION_STORM", default: 5_000)
        let server = try await TestServer {
            $0.maxClients = 30
            $0.maxConnectionsPerAddress = 20
        }
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        _ = try await alice.join("#storm", history: 0)
        let bob = try await server.connect("bob", events: false)
        let port = server.address.port
        let storm = Task.detached {
            var connected = 0
            for _ in 0..<attempts where Self.connectAndReset(port: port) { connected += 1 }
            return connected
        }
        // During the storm: the limits hold for connections that stay, and the two already in keep chatting.
        var held: [RawConnection] = []
        for _ in 0..<25 { held.append(try await RawConnection.connect(to: server.address)) }
        #expect(
            await eventually(within: .seconds(10)) {
                held.filter { Self.code($0.frames.first?.frame) == .tooManyConnections && $0.isClosed }.count >= 5
            })
        for index in 0..<20 { _ = try await bob.send(.text("during \(index)"), to: "#storm") }
        let connected = await storm.value
        #expect(connected >= attempts * 9 / 10, "accept stayed responsive: \(connected) of \(attempts) connected")
        #expect(try await alice.ping() < .seconds(1))
        let history = try await alice.history("#storm", limit: 50)
        #expect(history.map(\.body.text) == (0..<20).map { "during \($0)" })
        for raw in held { try? await raw.channel.close() }
        await server.stop()
    }
}
