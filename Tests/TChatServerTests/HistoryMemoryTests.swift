import Foundation
import NIOCore
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// History in memory and in answers stays within its bounds (`--channel-history-memory`, `--history-memory`,
/// `--history-answer-memory`), and nothing asked for is lost to them: what memory does not keep is read from disk.
@Suite(.serialized)
struct HistoryMemoryTests {
    func message(_ id: Int, bytes: Int, channel: String = "#w") -> ChatMessage {
        ChatMessage(
            channel: channel, id: UInt64(id), time: Timestamp(milliseconds: 1_700_000_000_000 + UInt64(id)),
            from: "ann", body: .text(String(repeating: "x", count: bytes)))
    }

    @Test func aWindowKeepsNoMoreBytesThanItsChannelsBound() {
        let memory = HistoryMemory(limit: 1 << 20, perChannel: 10_000, floor: 2_000)
        var window = HistoryWindow(capacity: 1000, limit: 10_000, memory: memory)
        for id in 1...50 { window.append(message(id, bytes: 900)) }
        #expect(window.recent.count == 9 && window.recent.last?.id == 50, "9 of 1,001 bytes each")
        #expect(window.held.bytes <= 10_000 && memory.bytes == window.held.bytes)
        // A message larger than the bound is still numbered and told; memory keeps none, the disk has it.
        window.append(message(51, bytes: 20_000))
        #expect(window.recent.isEmpty && window.nextID == 52 && memory.bytes == 0)
        #expect(window.missingForReplay(5) != nil, "a join reads from disk what memory does not hold")
    }

    @Test func pastTheServersBoundAChannelKeepsOnlyItsFloor() {
        let memory = HistoryMemory(limit: 20_000, perChannel: 15_000, floor: 2_000)
        var first = HistoryWindow(capacity: 1000, limit: 10_000, memory: memory)
        var second = HistoryWindow(capacity: 1000, limit: 10_000, memory: memory)
        for id in 1...14 { first.append(message(id, bytes: 900)) }
        var most = 0
        for id in 1...14 {
            second.append(message(id, bytes: 900, channel: "#v"))
            most = max(most, memory.bytes)
        }
        #expect(most <= 20_000 + 1_001, "over the bound by one message at most")
        #expect(first.held.bytes == 14_014 && second.held.bytes < 6_006, "the channel that went over gave way")
        #expect(second.recent.last?.id == 14)
        do {
            var gone = HistoryWindow(capacity: 1000, limit: 10_000, memory: memory)
            gone.append(message(1, bytes: 500))
        }
        #expect(memory.bytes == first.held.bytes + second.held.bytes, "a channel that goes gives its bytes back")
    }

    @Test func aJoinsReplayIsTheNewestThatFitItsBytesWithDiskBeforeMemory() {
        var window = HistoryWindow(capacity: 1000, limit: 10_000, firstID: 1, lastID: 10, lastTime: nil)
        for id in 11...15 { window.append(message(id, bytes: 100)) }
        let older = (6...10).map { message($0, bytes: 100) }
        #expect(window.replay(8, maxBytes: 100_000, older: older).map(\.id) == (8...15).map(UInt64.init))
        #expect(window.replay(8, maxBytes: 700).map(\.id) == (13...15).map(UInt64.init))
        #expect(window.replay(8, maxBytes: 10).map(\.id) == [15], "the newest always fits")
        let gapped = [message(3, bytes: 100)]
        #expect(window.replay(8, maxBytes: 100_000, older: gapped).map(\.id) == (11...15).map(UInt64.init))
    }

    /// Found by review: with memory bounded, a join read up to 1,000 messages (64 MB) from disk to replay 1 MiB.
    @Test func aJoinReadsFromDiskNoMoreThanItsReplayLacks() {
        let memory = HistoryMemory(limit: 1 << 30, perChannel: 4 << 20, floor: 8 << 10)
        var full = HistoryWindow(capacity: 1000, limit: 10_000, firstID: 1, lastID: 500, lastTime: nil, memory: memory)
        for id in 501...520 { full.append(message(id, bytes: 60_000)) }
        #expect(full.missingForReplay(1000, maxBytes: 1 << 20) == nil, "memory holds a whole replay already")
        var small = HistoryWindow(capacity: 1000, limit: 10_000, firstID: 1, lastID: 500, lastTime: nil, memory: memory)
        for id in 501...505 { small.append(message(id, bytes: 60_000)) }
        let range = small.missingForReplay(1000, maxBytes: 1 << 20)
        #expect(range != nil && range!.limit <= 13, "about what 1 MiB less 300 KB holds: \(range?.limit ?? -1)")
        let empty = HistoryWindow(capacity: 1000, limit: 10_000, firstID: 1, lastID: 500, lastTime: nil, memory: memory)
        #expect(
            empty.missingForReplay(1000, maxBytes: 1 << 20)?.limit == 64,
            "none in memory to judge by: 1 MiB at 16 KiB each (a join's usual 50 fit)")
        #expect(empty.missingForReplay(1000, maxBytes: 100_000)?.limit == 16, "never fewer than 16")
    }

    @Test func aLargeHistoryRequestThatWaitedGoesFirst() {
        let answers = HistoryAnswers(limit: 1000)
        #expect(answers.reserve(600, for: 1))
        #expect(!answers.reserve(900, for: 2, waitedLong: true), "does not fit; now it goes first")
        #expect(!answers.reserve(100, for: 3), "a small one would fit, but waits behind it")
        answers.release(600)
        #expect(answers.reserve(900, for: 2, waitedLong: true))
        #expect(answers.reserve(100, for: 3))
        answers.release(1000)
        #expect(answers.reserve(2000, for: 4), "one is let through when nothing is held, however large")
        answers.release(2000)
        _ = answers.reserve(900, for: 6)
        #expect(!answers.reserve(900, for: 7, waitedLong: true))
        answers.withdraw(7)
        #expect(answers.reserve(100, for: 8), "a connection that went stops going first")
        // A turn to go first lasts 5 s at most, and the same request waits as long again before another.
        let start = ContinuousClock.now
        answers.release(answers.bytes)
        _ = answers.reserve(900, for: 9, now: start)
        #expect(!answers.reserve(900, for: 10, waitedLong: true, now: start))
        #expect(!answers.reserve(50, for: 11, now: start + .seconds(1)), "behind the one going first")
        #expect(answers.reserve(50, for: 11, now: start + .seconds(6)), "its turn ran out")
        #expect(!answers.reserve(900, for: 10, waitedLong: true, now: start + .seconds(7)))
        #expect(answers.reserve(40, for: 12, now: start + .seconds(7)), "resting, it does not go first again at once")
    }

    /// 100 messages of 60 KB: an answer of 6 MB, over the 4 MB a client may have queued. It comes whole, at the
    /// reader's pace, and a join replays the newest that fit its bound.
    @Test func aLargeHistoryAnswerIsWrittenAtTheReadersPaceNotCutOff() async throws {
        let server = try await TestServer { $0.historyAnswerMemory = 1 << 20 }
        defer { server.removeData() }
        let alice = try await server.connect("alice", events: false)
        let large = String(repeating: "y", count: 60_000)
        for index in 1...100 { _ = try await alice.send(.text("\(index) " + large), to: "#big") }
        // Clients that ask and do not read hold no more than the bound (or one answer) on the server.
        var stuck: [RawConnection] = []
        for index in 0..<5 {
            let connection = try await RawConnection.connect(to: server.address, reading: false, receiveBuffer: 4096)
            stuck.append(connection)
            try await connection.send(
                .hello(Hello(nick: "stuck\(index)", clientName: "r", clientVersion: "1", processID: 1, host: "h")),
                id: 1)
            try await connection.send(.history(channel: "#big", before: 0, limit: 100), id: 2)
        }
        try await Task.sleep(for: .milliseconds(500))
        let held = server.server.context?.historyAnswers.bytes ?? -1
        #expect(held <= 100 * ((64 << 10) + 128), "one answer's worst case at most: \(held)")
        let bob = try await server.connect("bob", events: false)
        let (_, replay) = try await bob.join("#big", history: 100)
        #expect(!replay.isEmpty && replay.count < 100 && replay.last?.id == 100)
        for connection in stuck { try? await connection.channel.close() }
        let history = try await bob.history("#big", before: 0, limit: 100)
        #expect(history.map(\.id) == (1...100).map(UInt64.init))
        #expect(await eventually { server.server.context?.historyAnswers.bytes == 0 })
        await server.stop()
    }
}
