import Synchronization
import TChatProtocol

/// The bytes of history all channels hold in memory, against the server-wide bound (`--history-memory`).
///
/// Each channel keeps its newest messages in memory up to its own bound (`--channel-history-memory`); past the
/// server-wide one, a channel that takes a message keeps no more than `floor` bytes. Large messages in a few hundred
/// channels (60 MB each at most before) could otherwise exhaust the machine. What memory does not hold is read
/// from the channel's file when asked for.
final class HistoryMemory: Sendable {
    let limit: Int
    let perChannel: Int
    /// What a channel may keep while the server is over `limit`: its newest message or two, for joins.
    let floor: Int
    private let total = Atomic<Int>(0)

    init(limit: Int = 256 << 20, perChannel: Int = 4 << 20, floor: Int = 8 << 10) {
        self.limit = limit
        self.perChannel = perChannel
        self.floor = min(floor, perChannel)
    }

    var bytes: Int { total.load(ordering: .relaxed) }

    var isOver: Bool { bytes > limit }

    func add(_ count: Int) { total.add(count, ordering: .relaxed) }

    func remove(_ count: Int) { total.subtract(count, ordering: .relaxed) }

    /// What a message costs held in memory: its body and names, and the record around them.
    static func cost(of message: ChatMessage) -> Int {
        message.body.text.utf8.count + message.from.utf8.count + message.channel.utf8.count + 96
    }
}

/// One channel's share of `HistoryMemory`, given back when the channel goes.
final class WindowBytes: Sendable {
    let memory: HistoryMemory
    private let held = Atomic<Int>(0)

    init(memory: HistoryMemory) { self.memory = memory }

    var bytes: Int { held.load(ordering: .relaxed) }

    func add(_ count: Int) {
        held.add(count, ordering: .relaxed)
        memory.add(count)
    }

    func remove(_ count: Int) {
        held.subtract(count, ordering: .relaxed)
        memory.remove(count)
    }

    deinit { memory.remove(held.load(ordering: .relaxed)) }
}
