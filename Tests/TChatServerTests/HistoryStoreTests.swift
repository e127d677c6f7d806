import Foundation
import Logging
import NIOCore
import NIOPosix
import TChatProtocol
import Testing

@testable import TChatServer

@Suite struct HistoryStoreTests {
    static func message(_ id: UInt64, _ text: String = "m", from: String = "alice", channel: String = "#ops")
        -> ChatMessage
    {
        ChatMessage(
            channel: channel, id: id, time: Timestamp(milliseconds: 1_764_000_000_000 + id), from: from,
            body: .text(text))
    }

    static func openStore(_ directory: String, limit: Int = 10_000, policy: FsyncPolicy = .never) throws -> HistoryStore
    {
        try HistoryStore(directory: directory, policy: policy, historyLimit: limit, logger: TestServer.quietLogger)
    }

    /// Waits until every job queued so far is written.
    static func drain(_ store: HistoryStore) async throws {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        #expect(store.writer.enqueue(.barrier(promise)))
        try await promise.futureResult.get()
    }

    static func writeChannelsFile(_ directory: String, _ records: [ChannelRecord]) throws {
        let data = try JSONEncoder().encode(ChannelsFile(version: 1, channels: records, journal: nil))
        try data.write(to: URL(fileURLWithPath: directory + "/channels.json"))
    }

    static let opsRecord = ChannelRecord(
        name: "#ops", file: "ops.jsonl", created: "2026-01-01T00:00:00.000Z", topic: "", topicBy: "", topicTime: "")

    @Test func messageLinesRoundTripTrickyText() throws {
        for text in [
            "plain", "quote \" and \\ backslash", "new\nline\ttab\r", "\u{1}\u{1F}", "héllo 👋🏽 日本", "{\"json\": [1]}",
        ] {
            let line = MessageRecord.line(for: Self.message(7, text))
            #expect(line.last == UInt8(ascii: "\n"))
            #expect(!line.dropLast().contains(UInt8(ascii: "\n")), "a record is one line")
            let record = try JSONDecoder().decode(MessageRecord.self, from: Data(line))
            #expect(record.message(channel: "#ops") == Self.message(7, text))
        }
        // Every content type comes back as itself.
        for type in ContentType.allCases {
            var message = Self.message(8, "{}")
            message.body = MessageBody(type, "{}")
            let record = try JSONDecoder().decode(MessageRecord.self, from: Data(MessageRecord.line(for: message)))
            #expect(record.message(channel: "#ops") == message, "\(type)")
        }
    }

    @Test func hostileChannelNamesNeverBecomePaths() throws {
        let names = [
            "#..", "#.", "#../../etc/passwd", "#a%2Fb", "#.hidden", "#日本語", "#CAFÉ",
            "#" + String(repeating: "é", count: 50),
            "#" + String(repeating: "e\u{301}\u{302}\u{303}", count: 12), "#tab", "#%", "#~1",
        ]
        var files = Set<String>()
        for text in names {
            guard let name = try? ChannelName(validating: text) else { continue }
            let file = ChannelFileName.make(for: name)
            #expect(!file.contains("/") && !file.hasPrefix(".") && file.utf8.count <= 255, "\(text) → \(file)")
            #expect(HistoryStore.isSafeFileName(file))
            #expect(files.insert(file).inserted, "\(text) shares a file name")
        }
        #expect(ChannelFileName.make(for: try ChannelName(validating: "#OPS")) == "ops.jsonl")
        #expect(ChannelFileName.make(for: try ChannelName(validating: "#..")) == "%2E%2E.jsonl")
        #expect(!HistoryStore.isSafeFileName("../x.jsonl") && !HistoryStore.isSafeFileName(".jsonl"))
    }

    @Test func appendedMessagesAreFoundAfterARestart() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeChannelsFile(directory, [Self.opsRecord])
        do {
            let store = try Self.openStore(directory)
            store.start(files: [:], snapshots: .init())
            for id in 1...300 {
                #expect(store.writer.enqueue(.message(file: "ops.jsonl", Self.message(UInt64(id)), ack: nil)))
            }
            try await Self.drain(store)
            await store.shutdown()
        }
        let store = try Self.openStore(directory)
        let loaded = try store.loadChannels()
        #expect(loaded.count == 1)
        #expect(loaded.first?.firstID == 1 && loaded.first?.lastID == 300)
        let tail = try store.readMessages(file: "ops.jsonl", channel: "#ops", before: 0, after: 0, limit: 5)
        #expect(tail.map(\.id) == Array(296...300))
        let page = try store.readMessages(file: "ops.jsonl", channel: "#ops", before: 100, after: 95, limit: 50)
        #expect(page.map(\.id) == Array(96...99))
        await store.shutdown()
    }

    @Test func aTornLastLineIsDroppedWithTheRestKept() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeChannelsFile(directory, [Self.opsRecord])
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        var bytes = MessageRecord.line(for: Self.message(1)) + MessageRecord.line(for: Self.message(2))
        bytes += Array("{\"id\":3,\"time\":\"2026".utf8)  // a crash in the middle of a write
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/channels/ops.jsonl"))
        let store = try Self.openStore(directory)
        let loaded = try store.loadChannels()
        #expect(loaded.first?.lastID == 2)
        let after = try Data(contentsOf: URL(fileURLWithPath: directory + "/channels/ops.jsonl"))
        #expect(Array(after) == MessageRecord.line(for: Self.message(1)) + MessageRecord.line(for: Self.message(2)))
        await store.shutdown()
    }

    @Test func aDamagedHistoryFileIsMovedAsideAndItsReadableMessagesKept() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeChannelsFile(directory, [Self.opsRecord])
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        let good = [1, 2, 4].map { MessageRecord.line(for: Self.message(UInt64($0))) }
        let bytes =
            good[0] + good[1] + Array("not json at all\n".utf8) + MessageRecord.line(for: Self.message(1))
            + good[2] + Array("\u{1}garbage at the end\n".utf8)
        let path = directory + "/channels/ops.jsonl"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let store = try Self.openStore(directory)
        let loaded = try store.loadChannels()
        #expect(loaded.first?.firstID == 1)
        #expect(loaded.first?.lastID == 4, "the ids go on from the last readable message, never repeating")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(good.joined()))
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory + "/channels")
            .filter { $0.hasPrefix("ops.jsonl.damaged-") }
        #expect(aside.count == 1)
        if let aside = aside.first {
            let original = try Data(contentsOf: URL(fileURLWithPath: directory + "/channels/" + aside))
            #expect(original == Data(bytes), "the damaged file is kept as it was")
        }
        #expect(try store.unclaimedFiles(claimed: ["ops.jsonl"]).isEmpty, "the copy is not taken for a channel")
        await store.shutdown()
    }

    /// Issue 10: a linked server once made tchatd store message id 2^64 − 1; the next message to that channel
    /// overflowed, and so did every start after. Such a file is damaged like any other: moved aside, its possible
    /// messages kept, and the server serves that channel again.
    @Test func aHistoryFileHoldingAnImpossibleIdIsMovedAsideAndTheServerRuns() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeChannelsFile(directory, [Self.opsRecord])
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        let good = [1, 2, 3].map { MessageRecord.line(for: Self.message(UInt64($0))) }
        let impossible = MessageRecord.line(
            for: ChatMessage(
                channel: "#ops", id: UInt64.max, time: Timestamp(milliseconds: 1_764_000_000_000), from: "mallory",
                body: .text("the overflow")))
        let path = directory + "/channels/ops.jsonl"
        try Data((good + [impossible]).joined()).write(to: URL(fileURLWithPath: path))
        let server = try await TestServer(directory: directory)
        let client = try await server.connect("after", events: false)
        let sent = try await client.send(.text("the next one"), to: "#ops")
        #expect(sent.id == 4, "ids go on from the last possible message")
        let history = try await client.memberHistory("#ops", limit: 10)
        #expect(history.map(\.id) == [1, 2, 3, 4])
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory + "/channels")
            .filter { $0.hasPrefix("ops.jsonl.damaged-") }
        #expect(aside.count == 1, "the file with the impossible id is kept aside")
        await server.stop()
        // And a first line beyond the last (ids going down) is as impossible.
        try Data((good.reversed()).joined()).write(to: URL(fileURLWithPath: path))
        let store = try Self.openStore(directory)
        let loaded = try store.loadChannels()
        #expect(loaded.first?.firstID == 3 && loaded.first?.lastID == 3, "only an increasing run is kept")
        await store.shutdown()
    }

    @Test func aFullWriterQueueRefusesAtOnceInsteadOfGrowing() throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Not started: nothing drains the queue, as when the disk is slower than the clients.
        let writer = StoreWriter(
            directory: directory, policy: .never, historyLimit: 100, maxQueuedBytes: 4096,
            logger: TestServer.quietLogger)
        var accepted = 0
        for id in 1...1000 where writer.enqueue(.message(file: "ops.jsonl", Self.message(UInt64(id)), ack: nil)) {
            accepted += 1
        }
        #expect(accepted > 0 && accepted < 1000, "accepted \(accepted)")
    }

    @Test func aDamagedChannelIndexStopsStartUpNamingItAndIsLeftAlone() throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.openStore(directory)
        let broken = Data("{ broken".utf8)
        try broken.write(to: URL(fileURLWithPath: directory + "/channels.json"))
        do {
            _ = try store.loadChannels()
            Issue.record("a damaged channels.json was accepted")
        } catch {
            #expect("\(error)".contains("channels.json"), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/channels.json")) == broken)
    }

    @Test func nickRecordsKeepTheirTimesAsTextAndABadTimeIsNamed() throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.openStore(directory)
        let record = NickRecord(
            nick: "Alice", welcome: "hi", firstSeen: Timestamp(milliseconds: 1_764_000_000_123),
            lastSeen: Timestamp(milliseconds: 1_764_000_100_456), connections: 3, connectedMs: 9)
        let data = try JSONEncoder().encode(NicksFile(version: 1, nicks: [record], journal: nil))
        // The file keeps the form older versions wrote and read.
        #expect(String(decoding: data, as: UTF8.self).contains(#""firstSeen":"2025-11-24T16:00:00.123Z""#))
        try data.write(to: URL(fileURLWithPath: directory + "/nicks.json"))
        #expect(try store.loadNicks() == [record])
        let bad = String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: "2025-11-24T16:01:40.456Z", with: "yesterday")
        try Data(bad.utf8).write(to: URL(fileURLWithPath: directory + "/nicks.json"))
        do {
            _ = try store.loadNicks()
            Issue.record("a nicks.json with a bad time was accepted")
        } catch {
            #expect("\(error)".contains("nicks.json") && "\(error)".contains("yesterday"), "\(error)")
        }
    }

    @Test func aSecondServerCannotOpenTheSameDirectory() throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Self.openStore(directory)
        #expect(throws: StorageError.self) { _ = try Self.openStore(directory) }
        _ = first
    }

    @Test func filesAreCompactedToTheHistoryLimit() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.writeChannelsFile(directory, [Self.opsRecord])
        let store = try Self.openStore(directory, limit: 10)
        store.start(files: [:], snapshots: .init())
        for id in 1...45 {
            store.writer.enqueue(.message(file: "ops.jsonl", Self.message(UInt64(id)), ack: nil))
            if id % 5 == 0 { try await Self.drain(store) }
        }
        try await Self.drain(store)
        let lines = try String(contentsOfFile: directory + "/channels/ops.jsonl", encoding: .utf8).split(
            separator: "\n")
        #expect(lines.count >= 10 && lines.count < 20, "\(lines.count) lines kept")
        let ids = try lines.map { try JSONDecoder().decode(MessageRecord.self, from: Data($0.utf8)).id }
        #expect(ids == Array((46 - UInt64(lines.count))...45), "the newest are kept, in order")
        await store.shutdown()
    }

    @Test func acknowledgementsWaitForTheWriteAndReportFailures() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Self.openStore(directory, policy: .always)
        store.start(files: [:], snapshots: .init())
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let ack = loop.makePromise(of: Void.self)
        store.writer.enqueue(
            .message(file: "ok.jsonl", Self.message(1), ack: DeliveryReceipt(parties: 1, promise: ack)))
        try await ack.futureResult.get()
        #expect(FileManager.default.fileExists(atPath: directory + "/channels/ok.jsonl"))
        // A file that cannot be opened: the ack fails instead of pretending.
        try FileManager.default.createDirectory(
            atPath: directory + "/channels/blocked.jsonl", withIntermediateDirectories: true)
        let failing = loop.makePromise(of: Void.self)
        store.writer.enqueue(
            .message(file: "blocked.jsonl", Self.message(1), ack: DeliveryReceipt(parties: 1, promise: failing)))
        await #expect(throws: (any Error).self) { try await failing.futureResult.get() }
        #expect(store.writer.isFailing)
        await store.shutdown()
    }
}

extension MessageRecord {
    /// One message's line on its own, as the writer appends it to a batch.
    static func line(for message: ChatMessage) -> [UInt8] {
        var bytes: [UInt8] = []
        appendLine(for: message, to: &bytes)
        return bytes
    }
}
