import Foundation
import NIOCore
import TChatClient
import TChatFuzzing
import TChatProtocol
import Testing

/// Mutated requests, on many connections, against a real server: whatever arrives, the server answers or closes
/// that one connection, and keeps serving everyone else. `TCHAT_FUZZ_INPUTS` sets how many inputs
/// (`scripts/fuzz` sends 1,000,000); `TCHAT_FUZZ_SEED` the seed.
@Suite struct HandlerFuzzTests {
    /// A valid request of every kind, the raw material of the mutations.
    static func corpus() throws -> [[UInt8]] {
        let hello = Hello(nick: "fuzz", clientName: "fuzz", clientVersion: "1", processID: 1, host: "h")
        let frames: [ClientFrame] = [
            .ping(token: 1), .pong(token: 2), .hello(hello), .nick("fuzzy"), .whoami,
            .join(channel: "#fuzz", history: 10), .part(channel: "#fuzz", reason: "bye"),
            .send(channel: "#fuzz", body: .text("hello")), .send(channel: "#fuzz", body: .json("{\"a\": [1, 2]}")),
            .sendDirect(nick: "bystander", body: .text("psst")), .listChannels,
            .setTopic(channel: "#fuzz", topic: "t"), .listClients(channel: "#fuzz"), .whois(nick: "bystander"),
            .listServers, .help, .reverse("abc"), .setWelcome("hi"), .getWelcome,
            .history(channel: "#fuzz", before: 0, limit: 5),
        ]
        return try frames.enumerated().map { index, frame in
            var buffer = ByteBuffer()
            try frame.encode(requestID: UInt32(index + 2), into: &buffer)
            return Array(buffer.readableBytesView)
        }
    }

    @Test func mutatedRequestsNeverStopTheServer() async throws {
        let inputs = FuzzSettings.inputs(default: 20_000)
        let server = try await TestServer()
        defer { server.removeData() }
        // Not consuming events: the fuzz says a lot in #fuzz, and an unread event queue would stop its reads.
        let bystander = try await server.connect("bystander", events: false)
        _ = try await bystander.join("#fuzz", history: 0)
        let corpus = try Self.corpus()
        var generator = SeededGenerator(seed: FuzzSettings.seed)
        var sent = 0
        var connections = 0
        var handledWhole = 0
        while sent < inputs {
            let raw = try await RawConnection.connect(to: server.address)
            connections += 1
            if connections % 2 == 0 { try await raw.hello("f\(connections)") }  // half get past the hello
            var batch = ByteBuffer()
            let count = min(500, inputs - sent)
            // Framing damage is the decoder's fuzz test; here most inputs keep a correct length so the request
            // handler meets the damaged types, ids and fields. One batch in ten is sent as mutated, framing and all.
            let keepFraming = connections % 10 != 0
            for _ in 0..<count {
                let mutated = FrameMutator.mutate(corpus, using: &generator)
                if keepFraming {
                    let content = mutated.count > 4 ? mutated.dropFirst(4) : [0x01]
                    batch.writeInteger(UInt32(content.count))
                    batch.writeBytes(content)
                } else {
                    batch.writeBytes(mutated)
                }
            }
            // A PING after the batch: once it is answered, the server has handled every input before it.
            try ClientFrame.ping(token: 0xF0_22).encode(requestID: 0xF0_22, into: &batch)
            try? await raw.send(Array(batch.readableBytesView))
            sent += count
            let settled = await eventually(within: .seconds(20)) {
                raw.isClosed || raw.frames.contains { $0.frame == .pong(token: 0xF0_22) }
            }
            #expect(settled, "the server neither answered nor closed connection \(connections)")
            // Before a hello, any damaged HELLO ends the connection (every refused HELLO closes); after it, only
            // the few inputs that end a connection do.
            if connections % 2 == 0, raw.frames.contains(where: { $0.frame == .pong(token: 0xF0_22) }) {
                handledWhole += 1
            }
            try? await raw.channel.close()
            if connections % 20 == 0 {
                // Still serving: the bystander's round trip stays short.
                #expect(try await bystander.ping() < .seconds(2))
            }
        }
        // Most batches hold no input that ends a connection; those that do were cut short where it came.
        #expect(
            handledWhole > connections / 4,
            "\(handledWhole) of \(connections / 2) batches after a hello were handled whole")
        _ = try await bystander.send(.text("after \(sent) mutated requests"), to: "#fuzz")
        #expect(try await bystander.ping() < .seconds(1))
        let fresh = try await server.connect("fresh", events: false)
        #expect(try await fresh.memberHistory("#fuzz", limit: 1).last?.body.text == "after \(sent) mutated requests")
        await server.stop()
    }
}
