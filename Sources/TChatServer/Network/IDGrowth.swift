import TChatProtocol

/// How far a channel's ids can have moved on: no sequencer numbers more than `perMillisecond` messages a
/// millisecond, so a message numbered `id` at time `t` cannot be more than that rate times the time since the
/// channel's last message ahead of it (since 2020 for a channel with none).
///
/// Without this a linked sequencer could jump a channel to id 2^53 − 1 (the highest) in one message: every later
/// message would be refused, and every earlier one fall out of the history window. With it, a lie can only move
/// the ids as fast as an honest server could, which would take centuries to use them up.
enum IDGrowth {
    /// Far above any real rate (the benchmark's fastest is about 10 a millisecond).
    static let perMillisecond: UInt64 = 1000
    /// Allowed on top, for clocks and the first messages.
    static let slack: UInt64 = 1000

    static func isPlausible(_ message: ChatMessage, after lastID: UInt64, at lastTime: Timestamp?) -> Bool {
        guard message.id > lastID + slack else { return true }
        let since = lastTime ?? ProtocolLimits.earliestTime
        let elapsed = message.time.milliseconds(since: since)
        let (room, overflow) = elapsed.multipliedReportingOverflow(by: perMillisecond)
        let (limit, beyond) = room.addingReportingOverflow(slack)
        return overflow || beyond || message.id - lastID <= limit
    }
}
