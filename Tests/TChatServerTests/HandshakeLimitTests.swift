import Foundation
import NIOCore
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// Connections that never say HELLO (`--hello-timeout`, `--max-handshakes`), addresses counted by IPv6 prefix
/// (`--ipv6-prefix`) and the connection rate per address (`--connect-rate`).
@Suite(.serialized)
struct HandshakeLimitTests {
    static func code(_ frame: ServerFrame?) -> ErrorCode? { HostileClientTests.errorCode(frame) }

    static let limits = ConnectionTable<Int>.Limits(maxPerGroup: 0, maxHandshakes: 4, connectRate: 0, connectBurst: 1)

    @Test func ipv6AddressesCountByPrefixAndMappedIPv4AsIPv4() {
        let a = AddressGroup(ip: "2001:db8:1:2:aaaa::1", ipv6Prefix: 64)
        let b = AddressGroup(ip: "2001:db8:1:2:ffff:ffff:ffff:ffff", ipv6Prefix: 64)
        let c = AddressGroup(ip: "2001:db8:1:3::1", ipv6Prefix: 64)
        #expect(a == b && a != c)
        #expect(a.key == "2001:db8:1:2:0:0:0:0/64")
        #expect(
            AddressGroup(ip: "2001:db8:1:3::1", ipv6Prefix: 48) == AddressGroup(ip: "2001:db8:1:2::1", ipv6Prefix: 48))
        #expect(AddressGroup(ip: "2001:db8::1", ipv6Prefix: 128) != AddressGroup(ip: "2001:db8::2", ipv6Prefix: 128))
        #expect(AddressGroup(ip: "::ffff:203.0.113.9", ipv6Prefix: 64).key == "203.0.113.9")
        #expect(AddressGroup(ip: "203.0.113.9", ipv6Prefix: 64) != AddressGroup(ip: "203.0.113.10", ipv6Prefix: 64))
    }

    @Test func pastTheHandshakeBoundTheOldestOfTheBusiestAddressIsEnded() {
        var table = ConnectionTable<Int>(limits: Self.limits, maxOpen: 100)
        let start = NIODeadline.now()
        let attacker = AddressGroup(ip: "10.0.0.1", ipv6Prefix: 64)
        let other = AddressGroup(ip: "10.0.0.2", ipv6Prefix: 64)
        let user = AddressGroup(ip: "10.0.0.3", ipv6Prefix: 64)
        for id in 1...3 {
            guard
                case .admitted(nil) = table.admit(
                    UInt64(id), id, ip: "10.0.0.1", group: attacker, now: start + .milliseconds(Int64(id)))
            else { Issue.record("refused \(id)"); return }
        }
        guard case .admitted(nil) = table.admit(4, 4, ip: "10.0.0.2", group: other, now: start + .milliseconds(4))
        else {
            Issue.record("refused 4")
            return
        }
        // Full: the newcomer gets in, and the attacker's oldest goes, not the other address's single one.
        guard
            case .admitted(let evicted?) = table.admit(5, 5, ip: "10.0.0.3", group: user, now: start + .milliseconds(5))
        else {
            Issue.record("no eviction")
            return
        }
        #expect(evicted == 1)
        #expect(table.handshakeCount == 4 && table.count == 4)
        // A finished handshake is never ended to make room, and frees a handshake place.
        table.finishHandshake(5)
        #expect(table.handshakeCount == 3)
        for id in 6...20 {
            _ = table.admit(UInt64(id), id, ip: "10.0.0.1", group: attacker, now: start + .milliseconds(Int64(id)))
        }
        #expect(table.connection(5) == 5, "the welcomed client stays")
        #expect(table.connection(4) == 4, "the other address's one handshake stays while the attacker has more")
        #expect(table.handshakeCount == 4)
        table.remove(4)
        table.remove(5)
        #expect(table.count == 3)
    }

    @Test func theConnectionRateIsABucketPerAddress() {
        var throttle = ConnectionThrottle(rate: 2, burst: 3)
        let start = NIODeadline.now()
        let one = AddressGroup(ip: "10.0.0.1", ipv6Prefix: 64)
        let two = AddressGroup(ip: "10.0.0.2", ipv6Prefix: 64)
        let answers = (0..<4).map { _ in throttle.allow(one, now: start) }
        #expect(answers == [true, true, true, false])
        let other = throttle.allow(two, now: start)
        #expect(other, "another address has its own bucket")
        let later = throttle.allow(one, now: start + .milliseconds(500))
        #expect(later, "one comes back every 1/rate seconds")
        let again = throttle.allow(one, now: start + .milliseconds(500))
        #expect(!again)
    }

    @Test func aConnectionThatNeverSaysHelloIsClosedAtTheDeadline() async throws {
        let server = try await TestServer { $0.helloTimeout = .milliseconds(500) }
        defer { server.removeData() }
        let silent = try await RawConnection.connect(to: server.address)
        let polite = try await RawConnection.connect(to: server.address)
        try await polite.hello("polite")
        #expect(await eventually(within: .seconds(3)) { silent.isClosed })
        guard case .error(let error)? = silent.frames.last?.frame else {
            Issue.record("no error before the close: \(silent.frames)")
            return
        }
        #expect(error.code == .idleTimeout && error.message.contains("no HELLO within 0.5 s"))
        try await Task.sleep(for: .milliseconds(700))
        #expect(!polite.isClosed, "a welcomed client is not held to the hello deadline")
        await server.stop()
    }

    /// The acceptance's attack, scaled down: many connections that never say HELLO, and a client that does gets in
    /// and chats at once, however many there are.
    @Test func unfinishedHandshakesCannotLockOutAClientThatSaysHello() async throws {
        let server = try await TestServer {
            $0.maxHandshakes = 20
            $0.maxClients = 10
        }
        defer { server.removeData() }
        var silent: [RawConnection] = []
        for _ in 0..<60 { silent.append(try await RawConnection.connect(to: server.address)) }
        #expect(await eventually { silent.filter { !$0.isClosed }.count == 20 })
        let ended = silent.filter(\.isClosed)
        #expect(ended.count == 40)
        #expect(ended.allSatisfy { Self.code($0.frames.last?.frame) == .serverFull })
        #expect(server.server.context?.pendingHandshakes == 20)
        let started = ContinuousClock.now
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.join("#ops", history: 0)
        _ = try await alice.send(.text("in"), to: "#ops")
        #expect(ContinuousClock.now - started < .seconds(1))
        // Alice's place came from the oldest silent one, and her welcome ended her own handshake.
        #expect(server.server.context?.pendingHandshakes == 19)
        for connection in silent { try? await connection.channel.close() }
        await server.stop()
    }

    @Test func anAddressThatConnectsTooFastIsRefusedForAWhile() async throws {
        let server = try await TestServer {
            $0.connectRate = 1
            $0.connectBurst = 3
        }
        defer { server.removeData() }
        var open: [RawConnection] = []
        for _ in 0..<3 { open.append(try await RawConnection.connect(to: server.address)) }
        let refused = try await RawConnection.connect(to: server.address)
        #expect(await eventually { refused.isClosed })
        guard case .error(let error)? = refused.frames.first?.frame else {
            Issue.record("no error: \(refused.frames)")
            return
        }
        #expect(error.code == .tooManyConnections && error.message.contains("a second"))
        try await Task.sleep(for: .milliseconds(1100))
        let later = try await RawConnection.connect(to: server.address)
        try await later.hello("later")
        #expect(!later.isClosed)
        await server.stop()
    }
}
