import Foundation
import NIOCore
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// Points where a client written from docs/protocol.md alone and the server disagreed.
@Suite(.serialized)
struct SpecAgreementTests {
    static func code(_ frame: ServerFrame?) -> ErrorCode? { HostileClientTests.errorCode(frame) }

    /// "Live messages follow the OK": a joiner during traffic gets CHANNEL_INFO, the replay and OK (all carrying the
    /// JOIN's id) before any live MESSAGE, and the live ones continue the replay without a gap or a repeat.
    @Test func noLiveMessageReachesAJoinerBeforeItsReplayAndOK() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        for index in 1...200 { _ = try await alice.send(.text("m\(index)"), to: "#busy") }
        let sending = Task {
            for index in 201...1200 {
                _ = try? await alice.send(.text("m\(index)"), to: "#busy")
                if Task.isCancelled { return }
            }
        }
        for round in 0..<5 {
            let joiner = try await RawConnection.connect(to: server.address)
            try await joiner.hello("joiner\(round)")
            try await joiner.send(.join(channel: "#busy", history: 500), id: 7)
            _ = await joiner.reply(to: 7)
            try await Task.sleep(for: .milliseconds(50))
            let frames = joiner.frames.filter { $0.id != 1 }
            guard let ok = frames.firstIndex(where: { $0.id == 7 && $0.frame.type == .ok }) else {
                Issue.record("no OK: \(frames.prefix(3))")
                break
            }
            #expect(frames[..<ok].allSatisfy { $0.id == 7 }, "a live frame came before the OK (round \(round))")
            let ids = frames.compactMap { entry -> UInt64? in
                if case .message(let message) = entry.frame { return message.id }
                return nil
            }
            #expect(ids == Array(ids.first!...ids.last!), "the replay and the live messages join without a gap")
            try await joiner.channel.close()
        }
        sending.cancel()
        _ = await sending.value
        await server.stop()
    }

    @Test func aRequestWithIdZeroIsRefusedAndAMalformedHelloCloses() async throws {
        let server = try await TestServer()
        defer { server.removeData() }
        let zero = try await RawConnection.connect(to: server.address)
        try await zero.hello("zero")
        try await zero.send(.whoami, id: 0)
        try await zero.send(.ping(token: 5), id: 0)
        #expect(await eventually { zero.frames.filter { $0.id == 0 }.count >= 2 })
        let answers = zero.frames.filter { $0.id == 0 }.map(\.frame)
        #expect(Self.code(answers.first) == .malformedFrame)
        #expect(answers.dropFirst().first == .pong(token: 5), "a PING may carry id 0, as the server's own do")
        #expect(!zero.isClosed)

        // A HELLO whose strings are not UTF-8 (error 103) ends the connection like every other refused HELLO.
        let broken = try await RawConnection.connect(to: server.address)
        var bytes: [UInt8] = [FrameType.hello.rawValue, 0, 0, 0, 1, 0, 1, 0, 2, 0xFF, 0xFE]
        bytes += [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        try await broken.send([0, 0, 0, UInt8(bytes.count)] + bytes)
        #expect(await eventually { broken.isClosed })
        #expect(
            Self.code(broken.frames.first?.frame) == .invalidUTF8
                || Self.code(broken.frames.first?.frame) == .malformedFrame)
        await server.stop()
    }

    @Test func aChannelNameOverTheByteLimitSaysBytes() {
        let long = "#" + String(repeating: "日", count: 40)  // 40 characters, 120 bytes: fine
        #expect(ChannelName.problem(with: long) == nil)
        let wide = "#" + String(repeating: "🏳️‍🌈", count: 20)  // 20 characters, 280 bytes
        #expect(ChannelName.problem(with: wide)?.contains("200 bytes") == true)
        #expect(ChannelName.problem(with: "#" + String(repeating: "a", count: 51))?.contains("50 characters") == true)
    }

    @Test func reversingIsLinearAndKeepsCharactersWhole() {
        #expect(ConnectionHandler.reversedCharacters("héllo 👋🏽") == "🏽👋 olléh".replacingOccurrences(of: "🏽👋", with: "👋🏽"))
        let flags = String(repeating: "🇫🇷🇩🇪", count: 4000)
        let reversed = ConnectionHandler.reversedCharacters(flags)
        #expect(reversed == String(repeating: "🇩🇪🇫🇷", count: 4000))
    }

    @Test func textFieldsRefuseBidiOverridesAndC1() {
        #expect(throws: ProtocolError.self) { try TextField.check("evil\u{202E}gnp.exe", "topic", maxBytes: 100) }
        #expect(throws: ProtocolError.self) { try TextField.check("iso\u{2067}late", "reason", maxBytes: 100) }
        #expect(throws: ProtocolError.self) { try TextField.check("csi\u{9B}2J", "topic", maxBytes: 100) }
        #expect(throws: Never.self) { try TextField.check("שלום \u{200F}mark, 👨‍👩‍👧", "topic", maxBytes: 100) }
    }

    @Test func theDataDirectoryAndItsFilesArePrivate() async throws {
        let parent = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let server = try await TestServer(directory: parent + "/data")
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.send(.text("secret"), to: "#private")
        await server.stop()
        var info = stat()
        #expect(stat(server.directory, &info) == 0 && info.st_mode & 0o777 == 0o700)
        let files = try FileManager.default.subpathsOfDirectory(atPath: server.directory)
        #expect(!files.isEmpty)
        for file in files {
            let path = server.directory + "/" + file
            guard stat(path, &info) == 0 else { continue }
            let expected: mode_t = info.st_mode & S_IFMT == S_IFDIR ? 0o700 : 0o600
            #expect(info.st_mode & 0o777 == expected, "\(file) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
    }
}
