import NIOCore
import NIOEmbedded
import TChatProtocol
import Testing

@testable import TChatServer

/// The bridge itself on an embedded channel: lines in, tchat frames out towards the connection handler (read here
/// from the channel's inbound end), and tchat frames written back as if the server answered.
@Suite struct IRCBridgeTests {
    /// A bridge welcomed as `ann`, with the requests it has made so far read off.
    static func welcomedBridge() throws -> EmbeddedChannel {
        let bridge = IRCBridge(
            facts: IRCConversationTests.facts, renderCache: IRCRenderCache(), rate: 1_000, burst: 100_000,
            lineTimeout: .seconds(30))
        let channel = EmbeddedChannel(handler: bridge)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6667)).wait()
        try channel.writeInbound(
            ByteBuffer(
                string: "CAP REQ :batch server-time draft/chathistory\r\nNICK ann\r\nUSER u 0 * :U\r\nCAP END\r\n"))
        let hello = try requests(channel)
        #expect(hello.count == 1)
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: "ann", address: "",
            connectedAt: IRCConversationTests.time, maxFrameLength: 65536, welcomeText: "", motd: "")
        try answer(channel, [.welcome(welcome), .ok], to: hello[0].id)
        _ = try lines(channel)
        return channel
    }

    /// The tchat requests the bridge handed on since the last call.
    static func requests(_ channel: EmbeddedChannel) throws -> [(frame: ClientFrame, id: UInt32)] {
        var found: [(ClientFrame, UInt32)] = []
        while var buffer = try channel.readInbound(as: ByteBuffer.self) {
            var decoder = FrameDecoder()
            while let raw = try decoder.decode(buffer: &buffer) {
                let raw = try raw.get()
                found.append((try ClientFrame(decoding: raw), raw.requestID))
            }
        }
        return found
    }

    /// The server's answer to request `id`, written through the bridge as the connection handler would.
    static func answer(_ channel: EmbeddedChannel, _ frames: [ServerFrame], to id: UInt32) throws {
        var buffer = ByteBuffer()
        for frame in frames { try frame.encode(requestID: id, into: &buffer) }
        try channel.writeOutbound(buffer)
    }

    /// The IRC lines written to the client since the last call.
    static func lines(_ channel: EmbeddedChannel) throws -> [String] {
        (channel.eventLoop as! EmbeddedEventLoop).run()
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return text.split(separator: "\r\n").map(String.init)
    }

    /// While CHATHISTORY looks for a timestamp the bridge reads no more lines, but what one read brought in
    /// besides waits in memory: past 1,024 such lines the connection ends as a flood, before the search is done.
    @Test func linesPilingUpBehindATimestampSearchEndTheConnectionAsAFlood() throws {
        let channel = try Self.welcomedBridge()
        defer { _ = try? channel.finish() }
        let pings = String(repeating: "PING :x\r\n", count: IRCBridge.maxWaitingLines)
        try channel.writeInbound(
            ByteBuffer(string: "CHATHISTORY BEFORE #room timestamp=2027-01-15T08:00:00.000Z 10\r\n" + pings))
        let asked = try Self.requests(channel)
        #expect(asked.count == 1, "one HISTORY ask; the PINGs wait for it")
        guard case .history(let name, _, let limit)? = asked.first?.frame else {
            Issue.record("not a HISTORY ask: \(asked)")
            return
        }
        #expect(name == "#room" && limit == 1)
        #expect(try Self.lines(channel).isEmpty, "no PONG before the search is answered")
        #expect(channel.isActive, "exactly the most lines that may wait: still connected")

        // One more read while the search runs is one line too many.
        try channel.writeInbound(ByteBuffer(string: "PING :y\r\n"))
        let written = try Self.lines(channel)
        #expect(written.count == 1)
        #expect(written.first?.hasPrefix("ERROR :Closing link") == true, "\(written)")
        #expect(written.first?.contains("Excess flood") == true)
        #expect(try Self.requests(channel).isEmpty, "nothing that waited is carried out")
        #expect(!channel.isActive)
    }

    /// A search answered, the lines that waited are read in the order sent, after the batch.
    @Test func linesThatWaitedForASearchAreAnsweredAfterItsBatchInOrder() throws {
        let channel = try Self.welcomedBridge()
        defer { _ = try? channel.finish() }
        try channel.writeInbound(
            ByteBuffer(
                string: "CHATHISTORY BEFORE #room timestamp=2027-01-15T08:00:00.000Z 10\r\nPING :one\r\nPING :two\r\n"))
        let asked = try Self.requests(channel)
        #expect(asked.count == 1)
        // An empty channel: the search finds nothing, and the window asked for after it is empty too. The PINGs
        // reach the server (which answers them in order) only after that window's HISTORY.
        var written: [String] = []
        var asks: [ClientFrame] = []
        var next = asked
        for _ in 0..<4 where !next.isEmpty {
            for request in next {
                asks.append(request.frame)
                if case .ping(let token) = request.frame {
                    try Self.answer(channel, [.pong(token: token)], to: request.id)
                } else {
                    try Self.answer(channel, [.ok], to: request.id)
                }
            }
            written += try Self.lines(channel)
            next = try Self.requests(channel)
        }
        #expect(next.isEmpty)
        #expect(asks.map { if case .ping = $0 { "ping" } else { "other" } } == ["other", "other", "ping", "ping"])
        let pongs = written.indices.filter { written[$0].contains("PONG") }
        let batchEnd = written.lastIndex { $0.contains("BATCH -") }
        #expect(pongs.count == 2, "\(written)")
        #expect(batchEnd != nil && pongs.allSatisfy { $0 > batchEnd! }, "\(written)")
        #expect(pongs.count == 2 && written[pongs[0]].hasSuffix("one") && written[pongs[1]].hasSuffix("two"))
        #expect(channel.isActive)
    }

    /// What the bridge hands the connection handler, in order: frames (their types) and OwnCopies events.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var seen: [String] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            var decoder = FrameDecoder()
            var types: [String] = []
            while case .success(let raw)? = try? decoder.decode(buffer: &buffer) {
                types.append(String(describing: (try? ClientFrame(decoding: raw))?.type ?? .ping))
            }
            seen.append(types.joined(separator: ","))
            context.fireChannelRead(data)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let ownCopies = event as? OwnCopies { seen.append("own copies \(ownCopies.wanted)") }
        }
    }

    /// Lines held while the HELLO is answered are read together; a CAP REQ among them changes echo-message for
    /// the SENDs after it only: the handler is told between them.
    @Test func theConnectionHandlerIsToldOfOwnCopiesBeforeTheRequestsTheyApplyTo() throws {
        let recorder = Recorder()
        let bridge = IRCBridge(
            facts: IRCConversationTests.facts, renderCache: IRCRenderCache(), rate: 1_000, burst: 100_000,
            lineTimeout: .seconds(30))
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandlers([bridge, recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6667)).wait()
        try channel.writeInbound(ByteBuffer(string: "NICK ann\r\nUSER u 0 * :U\r\n"))
        try channel.writeInbound(
            ByteBuffer(string: "PRIVMSG #a :one\r\nCAP REQ :echo-message\r\nPRIVMSG #a :two\r\nPRIVMSG #a :three\r\n"))
        let hello = try Self.requests(channel)
        #expect(hello.count == 1, "the rest waits for the welcome")
        let welcome = Welcome(
            version: 1, serverName: "irc.test", serverVersion: "1", nick: "ann", address: "",
            connectedAt: IRCConversationTests.time, maxFrameLength: 65536, welcomeText: "", motd: "")
        try Self.answer(channel, [.welcome(welcome), .ok], to: hello[0].id)
        _ = try Self.lines(channel)
        #expect(
            recorder.seen == [
                "own copies false", "HELLO", "SEND", "own copies true", "SEND,SEND",
            ])
    }
}
