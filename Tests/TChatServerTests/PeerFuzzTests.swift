import Foundation
import NIOCore
import TChatClient
import TChatFuzzing
import TChatProtocol
import Testing

@testable import TChatServer

/// Mutated peer frames against a real server's peer port, before the handshake (from a stranger) and after it
/// (from a server that knows the secret): whatever arrives, the server refuses it or acts on it within the rules,
/// keeps serving its clients, and keeps every channel's ids contiguous. `TCHAT_FUZZ_INPUTS` sets how many inputs
/// per phase (`scripts/fuzz peer` sends 1,000,000 each); `TCHAT_FUZZ_SEED` the seed.
@Suite(.serialized) struct PeerFuzzTests {
    /// A valid frame of every peer type, the raw material of the mutations.
    static func corpus() throws -> [[UInt8]] {
        let now = Timestamp.now()
        let message = ChatMessage(channel: "#fuzz", id: 2, time: now, from: "fuzzer", body: .text("hi"))
        let frames: [PeerFrame] = [
            .challenge(LinkChallenge(serverID: 0x77, nonce: Array(repeating: 7, count: 32))),
            .proof(Array(repeating: 9, count: 32)),
            .error(ProtocolError(.linkRefused, "no")),
            .hello(RawPeer.hello(id: 0x77)),
            .load(clients: 1, capacity: 10),
            .goodbye(reason: "bye"),
            .peers([KnownPeer(serverID: 9, peerAddress: "127.0.0.1:9")]),
            .clientAdded(
                RemoteClient(
                    nick: "fuzzer", address: "127.0.0.1:1", connectedAt: now, clientName: "f", clientVersion: "1",
                    host: "h", processID: 1)),
            .clientRemoved(nick: "fuzzer", reason: "bye"),
            .clientRenamed(old: "fuzzer", new: "fuzzer2"),
            .joined(channel: "#fuzz", nick: "fuzzer", time: now),
            .parted(channel: "#fuzz", nick: "fuzzer", reason: "", time: now),
            .forward(seq: 1, channel: "#fuzz", from: "fuzzer", body: .text("hi")),
            .message(origin: 0x77, seq: 1, message),
            .message(origin: 0, seq: 0, message),
            .direct(DirectMessage(from: "fuzzer", to: "bystander", time: now, body: .text("psst"))),
            .topic(channel: "#fuzz", topic: "t", setBy: "fuzzer", time: now),
            .channelState(channel: "#fuzz", lastID: 5),
            .syncRequest(channel: "#fuzz", after: 0, limit: 5),
        ]
        return try frames.map { frame in
            var buffer = ByteBuffer()
            try frame.encode(into: &buffer)
            return Array(buffer.readableBytesView)
        }
    }

    /// `count` mutated frames. Mostly well framed, so that the fields meet the damage, now and then the framing
    /// too; with `decodable`, all but one in five hundred are frames that decode and do not end the link (the rest
    /// are unreadable, an ERROR or a GOODBYE, after which a server is unlinked and the batch's remainder never
    /// read), so that what the server does with odd values is what gets exercised.
    static func mutatedBatch(
        _ count: Int, corpus: [[UInt8]], decodable: Bool = false, using generator: inout SeededGenerator
    ) -> ByteBuffer {
        var batch = ByteBuffer()
        for _ in 0..<count {
            var bytes: [UInt8] = []
            // Decided once per frame: retried mutations must not each get a chance to let a bad one through.
            let anything = !decodable || Int.random(in: 0..<500, using: &generator) == 0
            for _ in 0..<100 {
                let mutated = FrameMutator.mutate(corpus, using: &generator)
                if Int.random(in: 0..<10, using: &generator) == 0 {
                    bytes = mutated
                } else {
                    let content = mutated.count > 4 ? Array(mutated.dropFirst(4)) : [0x01]
                    bytes = withUnsafeBytes(of: UInt32(content.count).bigEndian, Array.init) + content
                }
                if anything { break }
                var decoder = FrameDecoder(maxFrameLength: 1 << 20)
                var buffer = ByteBuffer(bytes: bytes)
                if let raw = try? decoder.decode(buffer: &buffer)?.get(), buffer.readableBytes == 0,
                    let frame = try? PeerFrame(decoding: raw), frame.type != .goodbye, frame.type != .error
                {
                    break
                }
            }
            batch.writeBytes(bytes)
        }
        return batch
    }

    /// A server under fuzz, a bystander in #fuzz with a message there, and the server's own log.
    static func target() async throws -> (TestServer, ChatConnection) {
        let server = try await TestServer {
            $0.linkHandshakeTimeout = .milliseconds(300)
            // Mutated gossip must not make a test dial off this host.
            $0.mayDial = { $0.isLoopback }
        }
        let bystander = try await server.connect("bystander", events: false)
        _ = try await bystander.join("#fuzz", history: 0)
        try await bystander.send(.text("first"), to: "#fuzz")
        return (server, bystander)
    }

    @Test func mutatedFramesBeforeTheHandshakeNeverStopTheServer() async throws {
        let inputs = FuzzSettings.inputs(default: 4_000)
        let (server, bystander) = try await Self.target()
        defer { server.removeData() }
        let corpus = try Self.corpus()
        // Strangers at once: fewer than the server lets be in a handshake from one address (8).
        let workers = 6
        let results = try await withThrowingTaskGroup(of: (connections: Int, unanswered: Int, toldMore: Int).self) {
            group in
            for worker in 0..<workers {
                group.addTask {
                    var generator = SeededGenerator(seed: FuzzSettings.seed &+ UInt64(worker) &* 1_000_003)
                    var sent = 0
                    var tally = (connections: 0, unanswered: 0, toldMore: 0)
                    while sent < inputs / workers {
                        let stranger = try await RawPeer.connect(to: server.peerAddress)
                        tally.connections += 1
                        let count = Int.random(in: 1...3, using: &generator)
                        let batch = Self.mutatedBatch(count, corpus: corpus, using: &generator)
                        try? await stranger.channel.writeAndFlush(batch)
                        sent += count
                        // Refused at the first frame it could not accept, or when the handshake time is up.
                        if await !stranger.closed(within: .seconds(5)) { tally.unanswered += 1 }
                        let toldMore = stranger.frames.contains {
                            if case .challenge = $0 { false } else if case .error = $0 { false } else { true }
                        }
                        if toldMore { tally.toldMore += 1 }
                        await stranger.close()
                    }
                    return tally
                }
            }
            var all: [(connections: Int, unanswered: Int, toldMore: Int)] = []
            for try await tally in group { all.append(tally) }
            return all
        }
        let connections = results.map(\.connections).reduce(0, +)
        #expect(results.map(\.unanswered).reduce(0, +) == 0, "connections neither refused nor timed out")
        #expect(results.map(\.toldMore).reduce(0, +) == 0, "a stranger was told more than the challenge and why")
        #expect(connections > 0)
        print("fuzz: peer port before the handshake: \(inputs) mutated frames on \(connections) connections")
        #expect(server.server.linkedServers == 0, "no stranger linked")
        #expect(try await bystander.history("#fuzz", limit: 10).map(\.body.text) == ["first"])
        #expect(try await bystander.ping() < .seconds(1))
        await server.stop()
    }

    @Test func mutatedFramesFromAnAuthenticatedServerNeverStopTheServer() async throws {
        let inputs = FuzzSettings.inputs(default: 4_000)
        let (server, bystander) = try await Self.target()
        defer { server.removeData() }
        let corpus = try Self.corpus()
        var generator = SeededGenerator(seed: FuzzSettings.seed &+ 1)
        var sent = 0
        var links = 0
        var answered = 0
        var handled = 0
        let secret = PeerAttackTests.secret
        while sent < inputs {
            let peer = try await RawPeer.connect(to: server.peerAddress)
            links += 1
            guard try await peer.authenticate(secret: secret, as: RawPeer.hello(id: 0x77)) else {
                Issue.record("link \(links) could not authenticate")
                await peer.close()
                break
            }
            // Batches on this link until the server closes it (an unreadable frame, an ERROR, a GOODBYE).
            while sent < inputs, !peer.isClosed {
                let count = min(50, inputs - sent)
                var batch = Self.mutatedBatch(count, corpus: corpus, decodable: true, using: &generator)
                // The barrier: once this history request is answered, every frame before it was handled.
                let marker = UInt64(sent + 1_000_000)
                try PeerFrame.syncRequest(channel: "#fuzz", after: 0, limit: 1).encode(into: &batch)
                try PeerFrame.load(clients: UInt32(truncatingIfNeeded: marker), capacity: 1).encode(into: &batch)
                let before = peer.frameCount
                try? await peer.channel.writeAndFlush(batch)
                sent += count
                let settled = await eventually(within: .seconds(20)) {
                    peer.isClosed
                        || peer.received(after: before) {
                            if case .message(0, 0, let m) = $0 { m.id == 1 } else { false }
                        }
                }
                #expect(settled, "link \(links): the server neither answered nor closed")
                if !peer.isClosed {
                    answered += 1
                    handled += count
                }
            }
            await peer.close()
            #expect(await eventually { server.server.linkedServers == 0 })
            if links % 5 == 0 { #expect(try await bystander.ping() < .seconds(2)) }
        }
        #expect(answered > 0, "no batch was handled whole")
        print(
            "fuzz: peer port after the handshake: \(sent) mutated frames on \(links) links; \(answered) batches, "
                + "\(handled) frames, known handled whole (a batch that ended its link may have been cut short)")
        // Whatever was accepted, the channel's ids run without a gap, and the bystander is served.
        let history = try await bystander.history("#fuzz", limit: 1000)
        #expect(zip(history, history.dropFirst()).allSatisfy { $1.id == $0.id + 1 }, "ids stay contiguous")
        let next = try await bystander.send(.text("after the fuzz"), to: "#fuzz")
        #expect(next.id == (history.last?.id ?? 0) + 1)
        #expect(try await bystander.ping() < .seconds(1))
        await server.stop()
    }
}
