import Foundation
import TChatClient
import TChatMetrics
import TChatProtocol
import Testing

@testable import TChatServer

#if canImport(Glibc)
    import Glibc
#endif

/// `--metrics-listen`: the Prometheus endpoint shows the server's counters moving.
@Suite(.serialized)
struct MetricsTests {
    /// One HTTP/1.0 GET over a plain socket, its whole answer.
    static func get(_ path: String, from address: ServerAddress) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProtocolError(.internalError, "socket failed") }
        defer { close(fd) }
        var peer = sockaddr_in()
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = in_port_t(UInt16(address.port).bigEndian)
        inet_pton(AF_INET, address.host, &peer.sin_addr)
        let connected = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ProtocolError(.internalError, "cannot connect to \(address)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: test\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            answer += chunk[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    static func value(_ name: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    @Test func theEndpointShowsCountersMoving() async throws {
        let server = try await TestServer { $0.requestRate = 10 }
        defer { server.removeData() }
        let exporter = MetricsExporter { server.server.statistics() }
        let endpoint = try await MetricsEndpoint.bind(
            at: ServerAddress(host: "127.0.0.1", port: 0), exporter: exporter)
        let alice = try await server.connect("alice", events: false)
        let bob = try await server.connect("bob", events: false)
        _ = try await bob.join("#m", history: 0)
        for index in 0..<3 { _ = try await alice.send(.text("\(index)"), to: "#m") }
        let first = try Self.get("/metrics", from: endpoint.address)
        #expect(first.hasPrefix("HTTP/1.0 200") && first.contains("text/plain; version=0.0.4"))
        #expect(Self.value("tchat_messages_total", in: first) == 3)
        #expect(Self.value("tchat_deliveries_total", in: first) == 3, "bob is the one member")
        #expect(Self.value("tchat_clients", in: first) == 2)
        #expect(Self.value("tchat_channels", in: first) == 1)
        #expect(Self.value("tchat_handshakes_pending", in: first) == 0)
        // A refusal shows under its code.
        await #expect(throws: ProtocolError.self) { try await alice.send(.text("x"), to: "#no space") }
        for index in 3..<5 { _ = try await alice.send(.text("\(index)"), to: "#m") }
        let second = try Self.get("/metrics", from: endpoint.address)
        #expect(Self.value("tchat_messages_total", in: second) == 5)
        #expect(second.contains(#"tchat_errors_total{code="302",name="invalid-channel"} 1"#), "\(second)")
        #expect(try Self.get("/nothing", from: endpoint.address).hasPrefix("HTTP/1.0 404"))
        await endpoint.close()
        await server.stop()
    }
}
