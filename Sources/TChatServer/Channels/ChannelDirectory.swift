import Synchronization
import TChatProtocol

/// The server's channels by name, behind a short lock: a lookup, or an insertion when a channel is made; nothing
/// that grows with the number of channels is done under it on the way of a message.
final class ChannelDirectory: Sendable {
    private struct State {
        var channels: [String: ChatChannel] = [:]
        /// Every history file name taken, by a channel or by a file no channel owns.
        var files: Set<String> = []
    }

    private let state = Mutex(State())

    /// `unclaimedFiles`: history files no channel owns; new channels never take their names.
    init(_ channels: [ChatChannel] = [], unclaimedFiles: [String] = []) {
        state.withLock { state in
            for channel in channels {
                state.channels[channel.name.key] = channel
                state.files.insert(channel.file)
            }
            state.files.formUnion(unclaimedFiles)
        }
    }

    func channel(_ name: ChannelName) -> ChatChannel? {
        state.withLock { $0.channels[name.key] }
    }

    /// The channel named `name`, made with `make` (given a file name no other channel has) if there is none yet.
    func channel(
        creating name: ChannelName, _ make: (_ file: String) -> ChatChannel
    ) -> (channel: ChatChannel, isNew: Bool) {
        state.withLock { state in
            if let existing = state.channels[name.key] { return (existing, false) }
            var file = ChannelFileName.make(for: name)
            // Two names can only share a file name through the hash suffix; never let them share a file.
            var attempt = 1
            while state.files.contains(file) {
                attempt += 1
                file = String(file.dropLast(".jsonl".count)) + "~\(attempt).jsonl"
            }
            state.files.insert(file)
            let channel = make(file)
            state.channels[name.key] = channel
            return (channel, true)
        }
    }

    /// Every channel, in no particular order.
    var all: [ChatChannel] { state.withLock { Array($0.channels.values) } }

    var count: Int { state.withLock { $0.channels.count } }
}
