import DequeModule
import TChatProtocol

/// A channel's ids and its newest messages: a run in memory, contiguous and ending at the newest id, the rest on
/// disk. A value without I/O: it says which ids to read from disk, and takes what was read.
struct HistoryWindow: Sendable {
    /// Which stored messages to read from the channel's file: ids in `after+1 ..< before`, the newest `limit`.
    struct DiskRange: Sendable, Equatable {
        var before: UInt64
        var after: UInt64
        var limit: Int
    }

    /// Messages kept in memory; also the most a join replays.
    let capacity: Int
    /// Messages served at most (`--history-limit`): older ones are no longer read, even if still on disk.
    let limit: Int
    private(set) var recent: Deque<ChatMessage> = []
    /// The oldest id stored, 0 while there is none.
    private(set) var firstID: UInt64
    private(set) var lastID: UInt64
    /// The newest message's time (the sequencer's clock), when there is one.
    private(set) var lastTime: Timestamp?
    /// The bytes `recent` holds, counted against the channel's and the server's bounds.
    let held: WindowBytes

    init(
        capacity: Int, limit: Int, firstID: UInt64 = 0, lastID: UInt64 = 0, lastTime: Timestamp? = nil,
        memory: HistoryMemory = HistoryMemory()
    ) {
        self.capacity = capacity
        self.limit = limit
        self.firstID = firstID
        self.lastID = lastID
        self.lastTime = lastTime
        held = WindowBytes(memory: memory)
    }

    /// The id the next message gets, or nil once ids are used up.
    var nextID: UInt64? { lastID < ProtocolLimits.maxMessageID ? lastID + 1 : nil }

    /// The id of the oldest message still served.
    var oldestServed: UInt64 {
        let bound = lastID > UInt64(limit) ? lastID - UInt64(limit) + 1 : 1
        return max(firstID, bound)
    }

    /// The id of the oldest message held in memory, or the next id when none is.
    var recentStart: UInt64 { recent.first?.id ?? lastID + 1 }

    /// Takes the channel's newest message. An id beyond the next one (history after a gap that cannot be filled)
    /// empties the run in memory, which must stay contiguous.
    mutating func append(_ message: ChatMessage) {
        if message.id != lastID + 1 { dropOldest(recent.count) }
        lastID = message.id
        lastTime = message.time
        if firstID == 0 { firstID = message.id }
        recent.append(message)
        held.add(HistoryMemory.cost(of: message))
        let memory = held.memory
        let bound = memory.isOver ? memory.floor : memory.perChannel
        var excess = 0
        var bytes = held.bytes
        for kept in recent {
            guard recent.count - excess > capacity || bytes > bound else { break }
            bytes -= HistoryMemory.cost(of: kept)
            excess += 1
        }
        dropOldest(excess)
    }

    /// Moves on to `lastID` without the messages between (another server committed them, and nobody here needs
    /// them now): memory empties, and what a join or HISTORY asks for is read from the store. `time` is the
    /// newest message's, or about it.
    mutating func skip(to lastID: UInt64, time: Timestamp) {
        guard lastID > self.lastID else { return }
        dropOldest(recent.count)
        if firstID == 0 { firstID = 1 }
        self.lastID = lastID
        lastTime = time
    }

    private mutating func dropOldest(_ count: Int) {
        guard count > 0 else { return }
        var freed = 0
        for _ in 0..<count { freed += HistoryMemory.cost(of: recent.removeFirst()) }
        held.remove(freed)
    }

    /// Takes older messages read from disk, as far as they extend the run in memory backwards without a gap.
    mutating func prepend(_ older: [ChatMessage]) {
        for message in older.reversed() where message.id + 1 == recentStart {
            let cost = HistoryMemory.cost(of: message)
            guard recent.count < capacity, held.bytes + cost <= held.memory.perChannel, !held.memory.isOver else {
                break
            }
            recent.prepend(message)
            held.add(cost)
        }
    }

    /// The newest `count` messages in memory, oldest first.
    func newest(_ count: Int) -> [ChatMessage] { Array(recent.suffix(count)) }

    /// A join's replay: the newest `count` messages, oldest first, and no more of them than fit in `maxBytes` (the
    /// newest always does). `older`, read from disk for the join, goes before memory's where it continues them
    /// without a gap, so a replay is whole even when memory may not keep what was read.
    func replay(_ count: Int, maxBytes: Int, older: [ChatMessage] = []) -> [ChatMessage] {
        var run = Array(recent.suffix(count))
        if run.count < count {
            let before = older.filter { $0.id < recentStart }
            if let last = before.last, last.id + 1 == recentStart {
                run = Array((before + run).suffix(count))
            }
        }
        var bytes = 0
        var kept = 0
        for message in run.reversed() {
            bytes += HistoryMemory.cost(of: message)
            guard kept == 0 || bytes <= maxBytes else { break }
            kept += 1
        }
        return Array(run.suffix(kept))
    }

    /// What a join wanting `wanted` messages, at most `maxBytes` of them, must read first, if memory holds fewer and
    /// more are stored. No more is read than the bytes memory lacks can hold, judged by the messages in memory (or
    /// 16 when there are none): a join on a channel of large messages used to read 1,000 of them (64 MB) from disk
    /// to replay 1 MiB.
    func missingForReplay(_ wanted: Int, maxBytes: Int = .max) -> DiskRange? {
        guard wanted > recent.count, lastID > 0, recentStart > oldestServed, held.bytes < maxBytes else { return nil }
        var limit = wanted - recent.count
        if maxBytes < .max {
            let lacking = maxBytes - held.bytes
            // With nothing in memory to judge by (a channel moved on without its messages, say), as many as fit
            // at 16 KiB each, no fewer than 16: 64 for a 1 MiB replay, enough for a join's usual 50, and a read of
            // 4 MB at worst for messages of 64 KiB.
            let guess = max(16, maxBytes / 16_384)
            limit = min(limit, recent.isEmpty ? guess : lacking / max(held.bytes / recent.count, 1) + 1)
        }
        return DiskRange(before: recentStart, after: oldestServed - 1, limit: limit)
    }

    /// Up to `count` messages below `before` (0: the newest): those in memory, and the range to read for the rest.
    func page(before: UInt64, count: Int) -> (inMemory: [ChatMessage], disk: DiskRange?) {
        let upper = before == 0 ? lastID + 1 : min(before, lastID + 1)
        let oldest = oldestServed
        let inMemory = Array(recent.filter { $0.id < upper && $0.id >= oldest }.suffix(count))
        let diskUpper = min(upper, recentStart)
        guard inMemory.count < count, diskUpper > oldest, lastID > 0 else { return (inMemory, nil) }
        return (inMemory, DiskRange(before: diskUpper, after: oldest - 1, limit: count - inMemory.count))
    }

    /// Every message after `after`, for a linked server catching up: those in memory, and the range to read.
    func since(_ after: UInt64) -> (inMemory: [ChatMessage], disk: DiskRange?) {
        guard lastID > after else { return ([], nil) }
        let inMemory = Array(recent.filter { $0.id > after })
        guard recentStart > after + 1, firstID > 0 else { return (inMemory, nil) }
        let lower = max(after, oldestServed - 1)
        return (inMemory, DiskRange(before: recentStart, after: lower, limit: Int.max))
    }
}
