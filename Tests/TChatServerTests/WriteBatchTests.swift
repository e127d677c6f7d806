import Foundation
import Logging
import NIOPosix
import TChatProtocol
import Testing

@testable import TChatServer

/// The writer thread's parts that need no thread: grouping a turn's jobs, and the descriptor cache.
@Suite struct WriteBatchTests {
    static func message(_ channel: String, _ id: UInt64) -> ChatMessage {
        ChatMessage(channel: channel, id: id, time: Timestamp(milliseconds: 1_000), from: "a", body: .text("m\(id)"))
    }

    @Test func jobsAreGroupedPerFileKeepingEachFilesOrder() throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let barrier = loop.makePromise(of: Void.self)
        let record = ConnectionRecord(
            nick: "a", address: "127.0.0.1:1", connected: "c", disconnected: "d", durationMs: 5, client: "x",
            clientVersion: "1", host: "h", pid: 1, reason: "quit")
        let batch = WriteBatch([
            .message(file: "a.jsonl", Self.message("#a", 7), ack: nil),
            .connection(record),
            .message(file: "b.jsonl", Self.message("#b", 1), ack: nil),
            .message(file: "a.jsonl", Self.message("#a", 8), ack: nil),
            .barrier(barrier),
        ])
        #expect(batch.files.map(\.path) == ["channels/a.jsonl", StoreWriter.clientsFile, "channels/b.jsonl"])
        let a = batch.files[0]
        #expect((a.firstID, a.lastID, a.lines) == (7, 8, 2))
        let lines = String(decoding: a.bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("\"m7\"") && lines[1].contains("\"m8\""))
        #expect(batch.files[1].file == nil && batch.files[1].bytes == record.line)
        #expect(batch.barriers.count == 1)
        barrier.succeed()
        #expect(
            WriteBatch.writesUnnamed([.message(file: "b.jsonl", Self.message("#b", 2), ack: nil)], named: ["a.jsonl"]))
        #expect(!WriteBatch.writesUnnamed([.connection(record)], named: []))
    }

    @Test func openFilesStayWithinTheirLimitAndLoseNothing() throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var files = OpenFiles(directory: directory, limit: 2)
        for round in 0..<3 {
            for name in ["a", "b", "c"] { try files.append(Array("\(name)\(round)\n".utf8), to: name) }
        }
        // Three files through two descriptors: the one closed to make room was synced first.
        #expect(files.unsynced.count == 2)
        #expect(files.syncAll(logger: Logger(label: "test")).isEmpty && files.unsynced.isEmpty)
        files.closeAll()
        for name in ["a", "b", "c"] {
            let text = try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
            #expect(text == "\(name)0\n\(name)1\n\(name)2\n")
        }
    }

    @Test func theFileClosedToMakeRoomIsTheLeastRecentlyUsed() throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var files = OpenFiles(directory: directory, limit: 2)
        for name in ["a", "b", "a", "c"] { try files.append(Array("\(name)\n".utf8), to: name) }
        // b, written before a's second line, made room for c (and was synced as it closed); a stays open.
        #expect(files.unsynced == ["a", "c"])
        files.closeAll()
        #expect(try String(contentsOfFile: "\(directory)/a", encoding: .utf8) == "a\na\n")
    }

    @Test func theWriterKeepsAnEighthOfTheOpenFileLimitForHistory() {
        #expect(StoreWriter.openFileBudget(softLimit: 1024) == 256)
        #expect(StoreWriter.openFileBudget(softLimit: 256) == 128, "never more than half")
        #expect(StoreWriter.openFileBudget(softLimit: 8192) == 1024)
        #expect(StoreWriter.openFileBudget(softLimit: 1 << 20) == 4096)
    }
}
