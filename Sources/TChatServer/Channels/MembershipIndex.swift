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
    private struct State {
        /// Session id to channel key to channel.
        var sessions: [UInt64: [String: ChatChannel]] = [:]
        /// Remote nick key to channel key to channel.
        var remote: [String: [String: ChatChannel]] = [:]
    }

    private let state = Mutex(State())

    func count(of session: ClientSession) -> Int {
        state.withLock { $0.sessions[session.id]?.count ?? 0 }
    }

    func add(_ session: ClientSession, to channel: ChatChannel) {
        state.withLock { $0.sessions[session.id, default: [:]][channel.name.key] = channel }
    }

    func remove(_ session: ClientSession, from channel: ChatChannel) {
        state.withLock { state in
            state.sessions[session.id]?[channel.name.key] = nil
            if state.sessions[session.id]?.isEmpty == true { state.sessions[session.id] = nil }
        }
    }

    func channels(of session: ClientSession) -> [ChatChannel] {
        state.withLock { Array(($0.sessions[session.id] ?? [:]).values) }
    }

    /// Forgets a session; returns the channels it was in.
    func removeAll(of session: ClientSession) -> [ChatChannel] {
        state.withLock { Array(($0.sessions.removeValue(forKey: session.id) ?? [:]).values) }
    }

    func add(remote nick: String, to channel: ChatChannel) {
        state.withLock { $0.remote[Nick.key(for: nick), default: [:]][channel.name.key] = channel }
    }

    func remove(remote nick: String, from channel: ChatChannel) {
        let key = Nick.key(for: nick)
        state.withLock { state in
            state.remote[key]?[channel.name.key] = nil
            if state.remote[key]?.isEmpty == true { state.remote[key] = nil }
        }
    }

    func channels(ofRemote nick: String) -> [ChatChannel] {
        state.withLock { Array(($0.remote[Nick.key(for: nick)] ?? [:]).values) }
    }

    /// Forgets a remote nick; returns the channels it was in.
    func removeAll(ofRemote nick: String) -> [ChatChannel] {
        state.withLock { Array(($0.remote.removeValue(forKey: Nick.key(for: nick)) ?? [:]).values) }
    }

    /// A remote member's new nick takes over its channels; returns them.
    func rename(remote old: String, to new: String) -> [ChatChannel] {
        state.withLock { state in
            guard let channels = state.remote.removeValue(forKey: Nick.key(for: old)) else { return [] }
            state.remote[Nick.key(for: new), default: [:]].merge(channels) { current, _ in current }
            return Array(channels.values)
        }
    }
}
