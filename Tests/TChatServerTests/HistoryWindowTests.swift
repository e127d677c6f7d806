import TChatProtocol
import Testing

@testable import TChatServer

/// A channel's history window as a value: numbering, what stays in memory, and which ids it asks the disk for.
@Suite struct HistoryWindowTests {
    func message(_ id: Int) -> ChatMessage {
        ChatMessage(
            channel: "#w", id: UInt64(id), time: Timestamp(milliseconds: 1_700_000_000_000 + UInt64(id)), from: "ann",
            body: .text("m\(id)"))
    }

    func ids(_ range: ClosedRange<Int>) -> [UInt64] { range.map { UInt64($0) } }

    @Test func numbersFromOneAndKeepsTheNewestUpToItsCapacity() {
        var window = HistoryWindow(capacity: 3, limit: 100)
        #expect(window.nextID == 1)
        for id in 1...5 { window.append(message(id)) }
        #expect(window.nextID == 6)
        #expect(window.recent.map(\.id) == [3, 4, 5])
        #expect(window.firstID == 1)
        #expect(window.lastTime == message(5).time)
        #expect(window.newest(2).map(\.id) == [4, 5])
    }

    @Test func idsStopAtTheLargestTheWireAllows() {
        let window = HistoryWindow(
            capacity: 3, limit: 100, firstID: 1, lastID: ProtocolLimits.maxMessageID, lastTime: nil)
        #expect(window.nextID == nil)
    }

    @Test func aJumpPastAGapEmptiesTheRunInMemorySoItStaysContiguous() {
        var window = HistoryWindow(capacity: 10, limit: 100)
        for id in 1...3 { window.append(message(id)) }
        window.append(message(9))
        #expect(window.recent.map(\.id) == [9])
        #expect(window.recentStart == 9)
        #expect(window.firstID == 1)
    }

    @Test func aJoinAsksTheDiskOnlyForWhatMemoryLacksAndTakesItBack() {
        // 50 stored before start-up, none in memory.
        var window = HistoryWindow(capacity: 20, limit: 100, firstID: 1, lastID: 50, lastTime: nil)
        #expect(window.missingForReplay(0) == nil)
        #expect(window.missingForReplay(10) == .init(before: 51, after: 0, limit: 10))
        window.prepend((41...50).map(message))
        #expect(window.recent.map(\.id) == ids(41...50))
        #expect(window.missingForReplay(10) == nil)
        // Only messages that extend the run backwards without a gap are taken.
        window.prepend([message(30), message(39), message(40)])
        #expect(window.recent.first?.id == 39)
    }

    @Test func prependingStopsAtCapacity() {
        var window = HistoryWindow(capacity: 5, limit: 100, firstID: 1, lastID: 50, lastTime: nil)
        window.prepend((41...50).map(message))
        #expect(window.recent.map(\.id) == ids(46...50))
    }

    @Test func pagesComeFromMemoryThenDiskWithinTheHistoryLimit() {
        var window = HistoryWindow(capacity: 5, limit: 20, firstID: 1, lastID: 30, lastTime: nil)
        for id in 31...35 { window.append(message(id)) }
        // Served: ids 16...35 (the newest 20).
        #expect(window.oldestServed == 16)
        let newest = window.page(before: 0, count: 3)
        #expect(newest.inMemory.map(\.id) == [33, 34, 35])
        #expect(newest.disk == nil)
        let deeper = window.page(before: 0, count: 8)
        #expect(deeper.inMemory.map(\.id) == ids(31...35))
        #expect(deeper.disk == .init(before: 31, after: 15, limit: 3))
        let older = window.page(before: 20, count: 10)
        #expect(older.inMemory.isEmpty)
        #expect(older.disk == .init(before: 20, after: 15, limit: 10))
        #expect(window.page(before: 16, count: 10).disk == nil)
    }

    @Test func aLinkedServerCatchingUpGetsEverythingAfterItsLastID() {
        var window = HistoryWindow(capacity: 5, limit: 1000, firstID: 1, lastID: 30, lastTime: nil)
        for id in 31...35 { window.append(message(id)) }
        #expect(window.since(35).inMemory.isEmpty)
        #expect(window.since(35).disk == nil)
        #expect(window.since(32).inMemory.map(\.id) == [33, 34, 35])
        #expect(window.since(32).disk == nil)
        let far = window.since(10)
        #expect(far.inMemory.map(\.id) == ids(31...35))
        #expect(far.disk == .init(before: 31, after: 10, limit: Int.max))
    }
}
