import Synchronization
import TChatProtocol

/// The channels each member is in, so that a quit or a nick change reaches every channel of one member without
/// looking through all channels.
///
/// Lock order: a channel's lock, then this index's, never the other way round (a quit or rename reads the index,
/// lets it go, then takes each channel). A session's entries change on its own event loop, one at a time, after its
/// channel's lock is released; a remote nick's change under the channel's lock, because a nick collision on one
/// link renames a client of another from that other link's loop.
final class MembershipIndex: Sendable {
    /// One member's channels. An array, not a dictionary by name: a member is in few channels (at most
    /// `--max-channels`), these change only on join, part and quit, and an idle client's dictionary cost about 120
    /// bytes where a one-channel array costs 48.
    struct Channels {
        private(set) var all: [ChatChannel] = []

        var isEmpty: Bool { all.isEmpty }
        var count: Int { all.count }

        /// Adds `channel`, in place of one of the same name.
        mutating func insert(_ channel: ChatChannel) {
            if let index = all.firstIndex(where: { $0.name.key == channel.name.key }) {
                all[index] = channel
            } else {
                all.append(channel)
            }
        }

        mutating func remove(_ channel: ChatChannel) {
            all.removeAll { $0.name.key == channel.name.key }
        }

        /// Adds `other`'s channels whose names are not here.
        mutating func merge(_ other: Channels) {
            for channel in other.all where !all.contains(where: { $0.name.key == channel.name.key }) {
                all.append(channel)
            }
        }
    }

    private struct State {
        /// Session id to its channels.
        var sessions: [UInt64: Channels] = [:]
        /// Remote nick key to its channels.
        var remote: [String: Channels] = [:]
    }

    private let state = Mutex(State())

    func count(of session: ClientSession) -> Int {
        state.withLock { $0.sessions[session.id]?.count ?? 0 }
    }

    func add(_ session: ClientSession, to channel: ChatChannel) {
        state.withLock { $0.sessions[session.id, default: Channels()].insert(channel) }
    }

    func remove(_ session: ClientSession, from channel: ChatChannel) {
        state.withLock { state in
            state.sessions[session.id]?.remove(channel)
            if state.sessions[session.id]?.isEmpty == true { state.sessions[session.id] = nil }
        }
    }

    func channels(of session: ClientSession) -> [ChatChannel] {
        state.withLock { $0.sessions[session.id]?.all ?? [] }
    }

    /// Forgets a session; returns the channels it was in.
    func removeAll(of session: ClientSession) -> [ChatChannel] {
        state.withLock { $0.sessions.removeValue(forKey: session.id)?.all ?? [] }
    }

    func add(remote nick: String, to channel: ChatChannel) {
        state.withLock { $0.remote[Nick.key(for: nick), default: Channels()].insert(channel) }
    }

    func remove(remote nick: String, from channel: ChatChannel) {
        let key = Nick.key(for: nick)
        state.withLock { state in
            state.remote[key]?.remove(channel)
            if state.remote[key]?.isEmpty == true { state.remote[key] = nil }
        }
    }

    func channels(ofRemote nick: String) -> [ChatChannel] {
        state.withLock { $0.remote[Nick.key(for: nick)]?.all ?? [] }
    }

    /// Forgets a remote nick; returns the channels it was in.
    func removeAll(ofRemote nick: String) -> [ChatChannel] {
        state.withLock { $0.remote.removeValue(forKey: Nick.key(for: nick))?.all ?? [] }
    }

    /// A remote member's new nick takes over its channels; returns them.
    func rename(remote old: String, to new: String) -> [ChatChannel] {
        state.withLock { state in
            guard let channels = state.remote.removeValue(forKey: Nick.key(for: old)) else { return [] }
            state.remote[Nick.key(for: new), default: Channels()].merge(channels)
            return channels.all
        }
    }
}
