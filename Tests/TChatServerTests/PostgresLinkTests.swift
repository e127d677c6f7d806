import Foundation
import TChatPostgres
import TChatProtocol
import TChatTestSupport
import Testing

@testable import TChatServer

/// Servers link only when they keep their messages in the same store: two databases, or a database and a server's
/// own files, would number one channel twice and each hold history the other cannot read.
@Suite(.serialized, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct PostgresLinkTests {
    @Test func serversOnDifferentStoresNeverLink() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        try await cluster.createDatabase("other")
        let logs = LogCapture()
        let a = try await PostgresStoreTests.server(on: cluster, name: "a", logs: logs, linkedTo: [])
        defer { a.removeData() }
        let elsewhere = try await PostgresStoreTests.server(
            on: cluster, name: "elsewhere", linkedTo: [a.peerAddress], database: "other")
        defer { elsewhere.removeData() }
        let files = try await TestServer(name: "files") { $0.peers = [a.peerAddress] }
        defer { files.removeData() }
        // The same database is one store: this one links.
        let b = try await PostgresStoreTests.server(on: cluster, name: "b", linkedTo: [a.peerAddress])
        defer { b.removeData() }
        #expect(await eventually { a.server.linkedServers == 1 && b.server.linkedServers == 1 })
        #expect(
            await eventually {
                await logs.contains("link refused: the other server keeps its messages in another store")
            })
        try await Task.sleep(for: .seconds(1))
        #expect(a.server.linkedServers == 1, "only b, on the same database")
        #expect(elsewhere.server.linkedServers == 0)
        #expect(files.server.linkedServers == 0)
        await NetworkTests.stop([files, elsewhere, b, a])
    }
}
