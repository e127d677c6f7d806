import Foundation
import NIOCore
import TChatClient
import TChatProtocol
import Testing

/// What a hostile or broken client gets, and that everyone else goes on unharmed.
@Suite struct HostileClientTests {
    static func errorCode(_ frame: ServerFrame?) -> ErrorCode? {
        if case .error(let error) = frame { return error.code }
        return nil
    }

    @Test func anOversizeLengthGetsAnErrorAndACloseBeforeAnyBodyIsSent() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let raw = try await RawConnection.connect(to: server.address)
        try await raw.send([0xFF, 0xFF, 0xFF, 0xFF])  // and nothing else: the server must not wait for 4 GiB
        #expect(await eventually { raw.isClosed })
        #expect(raw.frames.map(\.id) == [0])
        #expect(Self.errorCode(raw.frames.first?.frame) == .frameTooLarge)
        await server.stop()
    }

    @Test func justOverTheMaximumIsRefusedAndTheMaximumItselfAccepted() async throws {
        let server = try await TestServer { $0.maxFrameLength = 2048 }
        defer { server.removeData() }
        let ok = try await RawConnection.connect(to: server.address)
        try await ok.hello("fits")
        // A SEND whose length field is exactly 2048 is read, but refused: as a MESSAGE (with the sender, an id and
        // a time) it would be longer than the server's frames may be.
        let channel: [UInt8] = [0, 4] + Array("#ops".utf8)
        let bodyLength = 2048 - 5 - channel.count - 1 - 4
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: bodyLength)
        var frame: [UInt8] = [0, 0, 0x08, 0x00, FrameType.send.rawValue, 0, 0, 0, 2] + channel + [0]
        frame += withUnsafeBytes(of: UInt32(bodyLength).bigEndian, Array.init) + body
        try await ok.send(frame)
        #expect(Self.errorCode(await ok.reply(to: 2).last) == .fieldTooLong)
        // The longest that fits makes a MESSAGE of exactly 2048, which others receive.
        let fitting = 2048 - ProtocolLimits.messageFrameLength(channel: "#ops", from: "fits", bodyBytes: 0)
        try await ok.send(.join(channel: "#ops", history: 0), id: 3)
        _ = await ok.reply(to: 3)
        try await ok.send(.send(channel: "#ops", body: .text(String(repeating: "y", count: fitting))), id: 4)
        #expect(await ok.reply(to: 4).last == .ok)
        #expect(await eventually { ok.frames.contains { $0.frame.type == .message } })
        var encoded = ByteBuffer()
        for entry in ok.frames where entry.frame.type == .message {
            try entry.frame.encode(requestID: entry.id, into: &encoded)
        }
        #expect(encoded.readableBytes == 4 + 2048, "the MESSAGE is exactly the max frame")

        let over = try await RawConnection.connect(to: server.address)
        try await over.send([0, 0, 0x08, 0x01])
        #expect(await eventually { over.isClosed })
        #expect(Self.errorCode(over.frames.first?.frame) == .frameTooLarge)
        await server.stop()
    }

    @Test func badFieldsGetErrorsWhileTheFramingHolds() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let raw = try await RawConnection.connect(to: server.address)
        try await raw.send(.whoami, id: 5)  // before hello
        #expect(Self.errorCode(await raw.reply(to: 5).last) == .helloRequired)
        try await raw.send(.ping(token: 77), id: 6)  // allowed before hello
        #expect(await eventually { raw.frames.contains { $0.id == 6 && $0.frame == .pong(token: 77) } })
        try await raw.hello("tester")
        try await raw.send([0, 0, 0, 5, 0x7E, 0, 0, 0, 7])  // unknown type
        #expect(Self.errorCode(await raw.reply(to: 7).last) == .unknownFrameType)
        try await raw.send([0, 0, 0, 7, FrameType.nick.rawValue, 0, 0, 0, 8, 0, 9])  // string cut short
        #expect(Self.errorCode(await raw.reply(to: 8).last) == .malformedFrame)
        try await raw.send([0, 0, 0, 9, FrameType.nick.rawValue, 0, 0, 0, 9, 0, 2, 0xC3, 0x28])  // bad UTF-8
        #expect(Self.errorCode(await raw.reply(to: 9).last) == .invalidUTF8)
        let badJSON: [UInt8] = [0, 2] + Array("#j".utf8) + [1, 0, 0, 0, 2] + Array("{x".utf8)
        try await raw.send([0, 0, 0, UInt8(5 + badJSON.count), FrameType.send.rawValue, 0, 0, 0, 10] + badJSON)
        #expect(Self.errorCode(await raw.reply(to: 10).last) == .invalidJSON)
        try await raw.send([0, 0, 0, 0])  // a length of 0
        try await raw.send(
            .hello(Hello(nick: "again", clientName: "", clientVersion: "", processID: 0, host: "")), id: 11)
        #expect(Self.errorCode(await raw.reply(to: 11).last) == .alreadyWelcomed)
        #expect(raw.frames.contains { $0.id == 0 && Self.errorCode($0.frame) == .malformedFrame })
        try await raw.send(.whoami, id: 12)
        #expect(await raw.reply(to: 12).last == .ok, "the connection still works")
        #expect(!raw.isClosed)
        await server.stop()
    }

    @Test func helloErrorsCloseTheConnection() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let old = try await RawConnection.connect(to: server.address)
        try await old.send(
            .hello(Hello(version: 99, nick: "x", clientName: "", clientVersion: "", processID: 0, host: "")), id: 1)
        #expect(await eventually { old.isClosed })
        guard case .error(let error) = old.frames.first?.frame else {
            Issue.record("no error for an unsupported version")
            return
        }
        #expect(error.code == .unsupportedVersion && error.message.contains("version 1"))

        let badNick = try await RawConnection.connect(to: server.address)
        try await badNick.send(
            .hello(Hello(nick: "no spaces", clientName: "", clientVersion: "", processID: 0, host: "")), id: 1)
        #expect(await eventually { badNick.isClosed })
        #expect(Self.errorCode(badNick.frames.first?.frame) == .invalidNick)
        await server.stop()
    }

    @Test func randomBytesOnAHundredConnectionsLeaveEveryoneElseServed() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        let bob = try await server.connect("bob")
        let events = EventLog(bob)
        _ = try await bob.join("#calm", history: 0)
        var generator = SystemRandomNumberGenerator()
        var hostile: [RawConnection] = []
        for _ in 0..<100 {
            let raw = try await RawConnection.connect(to: server.address)
            let noise = (0..<Int.random(in: 1...4096, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            try? await raw.send(noise)
            hostile.append(raw)
            try await alice.send(.text("still here \(hostile.count)"), to: "#calm")
        }
        await events.wait(for: "100 messages") { _ in events.messages.count == 100 }
        #expect(events.messages.map(\.id) == Array(1...100))
        #expect(try await bob.ping() < .seconds(1))
        for raw in hostile { try? await raw.channel.close() }
        await server.stop()
    }

    @Test func aClientThatStopsReadingIsCutOffAndOthersKeepReceiving() async throws {
        // A bound well above what a busy but reading client lags by, well below what the flood puts in the queue
        // of one that reads nothing (the kernel buffers a few MB of it first).
        let server = try await TestServer { $0.maxOutboundBytes = 1 << 20 }
        defer { server.removeData() }
        let stuck = try await RawConnection.connect(to: server.address, reading: false, receiveBuffer: 4096)
        try await stuck.send(
            .hello(Hello(nick: "stuck", clientName: "", clientVersion: "", processID: 0, host: "")), id: 1)
        try await stuck.send(.join(channel: "#flood", history: 0), id: 2)
        let reader = try await server.connect("reader")
        let events = EventLog(reader)
        _ = try await reader.join("#flood", history: 0)
        let sender = try await server.connect("sender", events: false)
        let text = String(repeating: "z", count: 4000)
        // Batches of 100 (400 KB), each waited for by the reader: a reading client never lags by more than a batch,
        // however busy the machine, while the stuck one falls behind by everything.
        for batch in 0..<30 {
            var pending: [EventLoopFuture<[ServerFrame]>] = []
            for _ in 0..<100 { pending.append(sender.submit(.send(channel: "#flood", body: .text(text)))) }
            for future in pending { _ = try await future.get() }
            await events.wait(for: "batch \(batch)", within: .seconds(20)) { _ in
                events.messages.count == (batch + 1) * 100
            }
        }
        let ids = events.messages.map(\.id)
        #expect(ids.count == 3000 && ids == Array(1...3000), "the reader got \(ids.count) messages")
        await events.wait(for: "the cut-off client's quit") { frames in
            frames.contains {
                if case .quitted("stuck", let reason, _) = $0 { reason.contains("send queue") } else { false }
            }
        }
        // The stuck client, once it reads again, finds the connection closed.
        try await stuck.channel.setOption(ChannelOptions.autoRead, value: true).get()
        #expect(await eventually(within: .seconds(10)) { stuck.isClosed }, "the stuck client was not cut off")
        await server.stop()
    }

    @Test func aSilentConnectionIsPingedThenClosed() async throws {
        let server = try await TestServer { $0.idleTimeout = .seconds(1) }
        defer { server.removeData() }
        let silent = try await RawConnection.connect(to: server.address)
        try await silent.hello("quiet")
        #expect(await eventually(within: .seconds(5)) { silent.isClosed })
        let frames = silent.frames.filter { $0.id == 0 }.map(\.frame)
        #expect(frames.contains { if case .ping = $0 { true } else { false } }, "no ping before the close")
        #expect(Self.errorCode(frames.last) == .idleTimeout)
        // A client that answers pings stays: the real client library does so by itself.
        let chatty = try await server.connect("chatty")
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await chatty.ping() < .seconds(1))
        await server.stop()
    }

    @Test func aFullServerRefusesNewConnectionsWithAnError() async throws {
        let server = try await TestServer { $0.maxClients = 2 }
        defer { server.removeData() }
        let first = try await server.connect("one", events: false)
        _ = try await server.connect("two", events: false)
        let error = await #expect(throws: ProtocolError.self) { _ = try await server.connect("three") }
        #expect(error?.code == .serverFull)
        await first.quit()
        #expect(await eventually { (try? await server.connect("three", events: false)) != nil })
        await server.stop()
    }

    @Test func shutdownTellsClientsAndClosesThem() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice")
        let events = EventLog(alice)
        await server.stop()
        await events.wait(for: "the end of the connection") { _ in events.hasEnded }
        #expect(
            events.all.contains { if case .notice(let text) = $0 { text.contains("shutting down") } else { false } })
        #expect(Self.errorCode(events.all.last) == .shuttingDown)
    }
}

@Suite struct KeepAliveIntegrationTests {
    @Test func theClientsOwnPingsKeepItConnectedAndMeasureTheLag() async throws {
        let server = try await TestServer { $0.idleTimeout = .seconds(1) }
        defer { server.removeData() }
        var options = ConnectOptions(server: server.address, nick: "pinger")
        options.keepAlive = .milliseconds(200)
        let connection = try await ChatConnection.connect(options)
        try await Task.sleep(for: .milliseconds(1500))
        let lag = try #require(connection.roundTrip.latest, "no keep-alive ping was answered")
        #expect(lag < .seconds(1))
        _ = try await connection.request(.whoami)
        await server.stop()
    }
}
