import DequeModule
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TChatProtocol

/// Channels: who is in each, their topics, their newest messages, and publishing to their members.
///
/// All channel state sits behind one lock. Message ids are assigned, the history write is queued and the
/// delivery tasks are queued while holding it, so ids, file order and what every member receives agree. The lock
/// is never held across I/O: old history comes from disk on the thread pool, outside it.
final class ChannelManager: Sendable {
    /// A reference type, so the lock's holder changes it in place: a struct copied out of the dictionary and
    /// written back would copy its members and recent messages on every message (copy on write).
    final class Channel {
        let name: ChannelName
        /// The history file under `channels/`.
        let file: String
        let created: Timestamp
        var topic = ""
        var topicSetBy = ""
        var topicSetAt = Timestamp(milliseconds: 0)
        var members = SubscriberSet()
        /// Members connected to linked servers: nick key to nick.
        var remoteMembers: [String: String] = [:]
        /// The newest messages, contiguous ids ending at `lastID`; older ones are on disk.
        var recent: Deque<ChatMessage> = []
        /// The oldest message id stored, 0 while there is none.
        var firstID: UInt64 = 0
        var lastID: UInt64 = 0
        /// The newest message's time (the sequencer's clock), when there is one.
        var lastTime: Timestamp?

        init(name: ChannelName, file: String, created: Timestamp) {
            self.name = name
            self.file = file
            self.created = created
        }

        var info: ChannelInfo {
            ChannelInfo(
                name: name.name, members: UInt32(members.count + remoteMembers.count), topic: topic,
                topicSetBy: topicSetBy,
                topicSetAt: topicSetAt, lastMessageID: lastID)
        }

        /// The id of the oldest message still served, given the history limit.
        func oldestServed(limit: Int) -> UInt64 {
            let bound = lastID > UInt64(limit) ? lastID - UInt64(limit) + 1 : 1
            return max(firstID, bound)
        }

        /// The id of the oldest message held in memory, or the next id when none is.
        var recentStart: UInt64 { recent.first?.id ?? lastID + 1 }

        var record: ChannelRecord {
            ChannelRecord(
                name: name.name, file: file, created: created.iso8601, topic: topic, topicBy: topicSetBy,
                topicTime: topicSetBy.isEmpty ? "" : topicSetAt.iso8601)
        }
    }

    private struct State {
        var channels: [String: Channel] = [:]
        /// Channel keys per session, for quits and nick changes.
        var memberships: [UInt64: Set<String>] = [:]
        var files: Set<String> = []
    }

    /// Messages to fetch from a channel's file: ids in `after+1 ..< before`, the newest `limit` of them.
    private struct DiskRead: Sendable {
        var file: String
        var before: UInt64
        var after: UInt64
        var limit: Int
    }

    /// What a join gives back: the channel and the messages to replay before live ones.
    struct JoinResult: Sendable {
        var info: ChannelInfo
        var replay: [ChatMessage]
        /// False when the session was in the channel already.
        var isNew: Bool
    }

    private let state = Mutex(State())
    private let store: HistoryStore
    private let threadPool: NIOThreadPool
    /// Messages kept in memory per channel; also the most a join can replay.
    let recentCapacity: Int
    let maxChannelsPerClient: Int
    private let logger: Logger

    /// `loaded` comes from `HistoryStore.loadChannels`, which has checked every name.
    /// `unclaimedFiles` are history files no channel owns; new channels never take their names.
    init(
        store: HistoryStore, threadPool: NIOThreadPool, loaded: [HistoryStore.LoadedChannel],
        unclaimedFiles: [String] = [], maxChannelsPerClient: Int, logger: Logger
    ) throws {
        self.store = store
        self.threadPool = threadPool
        self.recentCapacity = min(store.historyLimit, Int(ProtocolLimits.maxHistoryRequest))
        self.maxChannelsPerClient = maxChannelsPerClient
        self.logger = logger
        try state.withLock { state in
            for entry in loaded {
                let name = try ChannelName(validating: entry.record.name)
                let channel = Channel(
                    name: name, file: entry.record.file,
                    created: Timestamp(iso8601: entry.record.created) ?? .now())
                channel.topic = entry.record.topic
                channel.topicSetBy = entry.record.topicBy
                channel.topicSetAt = Timestamp(iso8601: entry.record.topicTime) ?? Timestamp(milliseconds: 0)
                channel.firstID = entry.firstID
                channel.lastID = entry.lastID
                channel.lastTime = entry.lastTime
                state.channels[name.key] = channel
                state.files.insert(entry.record.file)
            }
            state.files.formUnion(unclaimedFiles)
        }
    }

    /// The oldest and newest ids of every channel file, for the writer's compaction.
    var fileRanges: [String: StoreWriter.FileRange] {
        state.withLock { state in
            var ranges: [String: StoreWriter.FileRange] = [:]
            for channel in state.channels.values where channel.lastID > 0 {
                ranges[channel.file] = StoreWriter.FileRange(firstID: channel.firstID, lastID: channel.lastID)
            }
            return ranges
        }
    }

    /// The contents of `channels.json`.
    func snapshot() -> ChannelsFile {
        let records = state.withLock { $0.channels.values.map(\.record) }
        return ChannelsFile(version: 1, channels: records.sorted { $0.name < $1.name })
    }

    var channelCount: Int { state.withLock { $0.channels.count } }

    // MARK: - Joining and leaving

    /// Joins `session`, replaying up to `history` messages. Returns on the session's event loop.
    func join(
        _ session: ClientSession, nick: String, channel name: ChannelName, history: Int
    ) -> EventLoopFuture<JoinResult> {
        let wanted = min(history, recentCapacity)
        // Fill the in-memory history from disk first if it is short; the join itself then never waits.
        let missing: DiskRead? = state.withLock { state in
            guard let channel = state.channels[name.key], wanted > channel.recent.count else { return nil }
            let oldest = channel.oldestServed(limit: store.historyLimit)
            guard channel.lastID > 0, channel.recentStart > oldest else { return nil }
            return DiskRead(
                file: channel.file, before: channel.recentStart, after: oldest - 1,
                limit: wanted - channel.recent.count)
        }
        guard let missing else {
            return session.eventLoop.makeCompletedFuture {
                try self.completeJoin(session, nick: nick, channel: name, history: wanted)
            }
        }
        return read(missing, channel: name, on: session.eventLoop).flatMapThrowing { older in
            self.prepend(older, to: name)
            return try self.completeJoin(session, nick: nick, channel: name, history: wanted)
        }
    }

    private func prepend(_ older: [ChatMessage], to name: ChannelName) {
        state.withLock { state in
            guard let channel = state.channels[name.key] else { return }
            // Only messages that extend the in-memory run backwards, without a gap, are kept.
            for message in older.reversed() where message.id + 1 == channel.recentStart {
                guard channel.recent.count < recentCapacity else { break }
                channel.recent.prepend(message)
            }
        }
    }

    private func completeJoin(
        _ session: ClientSession, nick: String, channel name: ChannelName, history: Int
    ) throws(ProtocolError) -> JoinResult {
        try state.withLock { (state) throws(ProtocolError) -> JoinResult in
            let joinedCount = state.memberships[session.id]?.count ?? 0
            let channel = state.channels[name.key] ?? createChannel(name, &state)
            let isNew = !channel.members.contains(session)
            if isNew {
                guard joinedCount < maxChannelsPerClient else {
                    throw ProtocolError(
                        .tooManyChannels, "you are in \(joinedCount) channels, the most this server allows")
                }
                channel.members.insert(session)
                state.memberships[session.id, default: []].insert(name.key)
                if let frame = SubscriberSet.encode(.joined(channel: channel.name.name, nick: nick, time: .now())) {
                    channel.members.deliver(frame, excluding: session.id)
                }
            }
            let replay = Array(channel.recent.suffix(history))
            return JoinResult(info: channel.info, replay: replay, isNew: isNew)
        }
    }

    private func createChannel(_ name: ChannelName, _ state: inout State) -> Channel {
        var file = ChannelFileName.make(for: name)
        // Two names can only share a file name through the hash suffix; never let them share a file.
        var attempt = 1
        while state.files.contains(file) {
            attempt += 1
            file = String(file.dropLast(".jsonl".count)) + "~\(attempt).jsonl"
        }
        state.files.insert(file)
        let channel = Channel(name: name, file: file, created: .now())
        state.channels[name.key] = channel
        store.writer.markChannelsChanged()
        logger.info("channel created", metadata: ["channel": "\(name.name)", "file": "\(file)"])
        return channel
    }

    func part(_ session: ClientSession, nick: String, channel name: ChannelName, reason: String) throws(ProtocolError) {
        try state.withLock { (state) throws(ProtocolError) in
            guard let channel = state.channels[name.key] else {
                throw ProtocolError(.noSuchChannel, "there is no channel \(name.name)")
            }
            guard channel.members.remove(session) else {
                throw ProtocolError(.notOnChannel, "you are not in \(channel.name.name)")
            }
            state.memberships[session.id]?.remove(name.key)
            let event = ServerFrame.parted(channel: channel.name.name, nick: nick, reason: reason, time: .now())
            if let frame = SubscriberSet.encode(event) { channel.members.deliver(frame) }
        }
    }

    /// Takes a session out of every channel, telling everyone who shared one with it, once.
    func remove(_ session: ClientSession, nick: String?, reason: String) {
        state.withLock { state in
            guard let keys = state.memberships.removeValue(forKey: session.id) else { return }
            var audience = SubscriberSet()
            for key in keys {
                guard let channel = state.channels[key] else { continue }
                channel.members.remove(session)
                for member in channel.members.sessions { audience.insert(member) }
            }
            if let nick, let frame = SubscriberSet.encode(.quitted(nick: nick, reason: reason, time: .now())) {
                audience.deliver(frame)
            }
        }
    }

    /// Tells everyone who shares a channel with `session` of its new nick, once each.
    func announceNickChange(_ session: ClientSession, from old: String, to new: String) {
        state.withLock { state in
            guard let keys = state.memberships[session.id] else { return }
            var audience = SubscriberSet()
            for key in keys {
                for member in state.channels[key]?.members.sessions ?? [] where member.id != session.id {
                    audience.insert(member)
                }
            }
            if let frame = SubscriberSet.encode(.nickChanged(old: old, new: new, time: .now())) {
                audience.deliver(frame)
            }
        }
    }

    // MARK: - Messages

    /// What applying a message numbered elsewhere did.
    enum ApplyOutcome: Equatable {
        case applied
        /// Already held (its id is not newer than the channel's last).
        case duplicate
        /// Messages are missing before it: the channel's next id is `expected`.
        case gap(expected: UInt64)
        /// It could not be stored (the history writer is overloaded); `ack` has failed.
        case failed
        /// Its id is further on than any sequencer could have numbered since the channel's last message
        /// (`IDGrowth`): refused.
        case implausible
    }

    /// Numbers, stores and delivers a message, creating the channel if needed (senders need not be members, so
    /// scripts can notify without joining). Only the network's sequencer does this. `ack` completes when the
    /// history writer has it as `--fsync` asks.
    ///
    /// `replicate` is called with the numbered message while the lock is held, so that what it queues for the
    /// other servers is queued in id order too.
    func sequence(
        channel name: ChannelName, from nick: String, body: MessageBody, ack: EventLoopPromise<Void>?,
        replicate: (ChatMessage) -> Void = { _ in }
    ) throws(ProtocolError) -> ChatMessage {
        try state.withLock { (state) throws(ProtocolError) -> ChatMessage in
            let channel = state.channels[name.key] ?? createChannel(name, &state)
            guard channel.lastID < ProtocolLimits.maxMessageID else {
                throw ProtocolError(.storageFailure, "\(channel.name.name) has used up its message ids")
            }
            let message = ChatMessage(
                channel: channel.name.name, id: channel.lastID + 1, time: .now(), from: nick, body: body)
            try keep(message, in: channel, ack: ack)
            replicate(message)
            return message
        }
    }

    /// Stores and delivers a message the sequencer numbered, if it is the channel's next one. With `allowGap`
    /// (history sent to fill a gap, which may start after messages compacted away) an id further on is taken too.
    func apply(_ message: ChatMessage, allowGap: Bool = false, ack: EventLoopPromise<Void>?) -> ApplyOutcome {
        guard let name = try? ChannelName(validating: message.channel) else { return .duplicate }
        return state.withLock { state in
            let channel = state.channels[name.key] ?? createChannel(name, &state)
            guard message.id > channel.lastID else { return .duplicate }
            guard IDGrowth.isPlausible(message, after: channel.lastID, at: channel.lastTime) else {
                return .implausible
            }
            if message.id > channel.lastID + 1 && !allowGap {
                return .gap(expected: channel.lastID + 1)
            }
            if message.id > channel.lastID + 1 { channel.recent.removeAll() }  // keep the run in memory contiguous
            var stored = message
            stored.channel = channel.name.name
            do {
                try keep(stored, in: channel, ack: ack)
            } catch {
                ack?.fail(error)
                return .failed
            }
            return .applied
        }
    }

    /// Queues a numbered message for the disk, adds it to the channel's recent run and delivers it to the members
    /// here; called with the lock held, so ids, file order and delivery order agree.
    private func keep(_ message: ChatMessage, in channel: Channel, ack: EventLoopPromise<Void>?)
        throws(ProtocolError)
    {
        // The sender's acknowledgement waits for the disk and for every loop's hand-off (`DeliveryReceipt`).
        let frame = SubscriberSet.encode(.message(message))
        let receipt = ack.map {
            DeliveryReceipt(parties: 1 + (frame == nil ? 0 : channel.members.loopCount), promise: $0)
        }
        guard store.writer.enqueue(.message(file: channel.file, message, ack: receipt)) else {
            receipt?.report(ProtocolError(.storageFailure, "not stored"))
            throw ProtocolError(.storageFailure, "the history writer is overloaded; message not sent, try again")
        }
        channel.lastID = message.id
        channel.lastTime = message.time
        if channel.firstID == 0 { channel.firstID = message.id }
        channel.recent.append(message)
        if channel.recent.count > recentCapacity { channel.recent.removeFirst() }
        if let frame { channel.members.deliver(frame, receipt: receipt) }
    }

    /// Messages with ids after `after`, oldest first, for a linked server catching up. Returns on `eventLoop`.
    func messages(channel name: ChannelName, after: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<
        [ChatMessage]
    > {
        let plan: (inMemory: [ChatMessage], disk: DiskRead?)? = state.withLock { state in
            guard let channel = state.channels[name.key], channel.lastID > after else { return nil }
            let inMemory = channel.recent.filter { $0.id > after }
            guard channel.recentStart > after + 1, channel.firstID > 0 else { return (Array(inMemory), nil) }
            let lower = max(after, channel.oldestServed(limit: store.historyLimit) - 1)
            return (
                Array(inMemory), DiskRead(file: channel.file, before: channel.recentStart, after: lower, limit: Int.max)
            )
        }
        guard let plan else { return eventLoop.makeSucceededFuture([]) }
        guard let disk = plan.disk else { return eventLoop.makeSucceededFuture(plan.inMemory) }
        return read(disk, channel: name, on: eventLoop).map { older in older + plan.inMemory }
    }

    /// Every channel's name and newest id, to tell a newly linked server.
    func states() -> [(name: String, lastID: UInt64, topic: String, topicSetBy: String, topicSetAt: Timestamp)] {
        state.withLock { state in
            state.channels.values.map { ($0.name.name, $0.lastID, $0.topic, $0.topicSetBy, $0.topicSetAt) }
        }
    }

    /// Creates a channel a linked server told of, so it is listed here too.
    func ensure(_ name: ChannelName) {
        state.withLock { state in
            if state.channels[name.key] == nil { _ = createChannel(name, &state) }
        }
    }

    /// The newest id of a channel, 0 if it has none or does not exist.
    func lastID(of name: ChannelName) -> UInt64 {
        state.withLock { $0.channels[name.key]?.lastID ?? 0 }
    }

    // MARK: - Members on linked servers

    func remoteJoin(channel text: String, nick: String, time: Timestamp) {
        guard let name = try? ChannelName(validating: text) else { return }
        state.withLock { state in
            let channel = state.channels[name.key] ?? createChannel(name, &state)
            if channel.remoteMembers.updateValue(nick, forKey: Nick.key(for: nick)) == nil,
                let frame = SubscriberSet.encode(.joined(channel: channel.name.name, nick: nick, time: time))
            {
                channel.members.deliver(frame)
            }
        }
    }

    func remotePart(channel text: String, nick: String, reason: String, time: Timestamp) {
        guard let name = try? ChannelName(validating: text) else { return }
        state.withLock { state in
            guard let channel = state.channels[name.key],
                channel.remoteMembers.removeValue(forKey: Nick.key(for: nick)) != nil
            else { return }
            let event = ServerFrame.parted(channel: channel.name.name, nick: nick, reason: reason, time: time)
            if let frame = SubscriberSet.encode(event) { channel.members.deliver(frame) }
        }
    }

    /// Takes remote nicks out of every channel, telling the local members who shared one with each, once.
    func remoteQuit(_ nicks: [String], reason: String) {
        state.withLock { state in
            for nick in nicks {
                let key = Nick.key(for: nick)
                var audience = SubscriberSet()
                for channel in state.channels.values where channel.remoteMembers[key] != nil {
                    channel.remoteMembers[key] = nil
                    for member in channel.members.sessions { audience.insert(member) }
                }
                if let frame = SubscriberSet.encode(.quitted(nick: nick, reason: reason, time: .now())) {
                    audience.deliver(frame)
                }
            }
        }
    }

    /// A remote member changed nick: renamed in every channel, and the local members who share one told once.
    func remoteRename(from old: String, to new: String) {
        state.withLock { state in
            let oldKey = Nick.key(for: old)
            var audience = SubscriberSet()
            for channel in state.channels.values where channel.remoteMembers[oldKey] != nil {
                channel.remoteMembers[oldKey] = nil
                channel.remoteMembers[Nick.key(for: new)] = new
                for member in channel.members.sessions { audience.insert(member) }
            }
            if let frame = SubscriberSet.encode(.nickChanged(old: old, new: new, time: .now())) {
                audience.deliver(frame)
            }
        }
    }

    /// The remote members of a channel.
    func remoteMembers(of name: ChannelName) -> [String] {
        state.withLock { Array($0.channels[name.key]?.remoteMembers.values ?? [:].values) }
    }

    /// The channels a remote nick is in, sorted by name.
    func channels(ofRemote nick: String) -> [ChannelInfo] {
        let key = Nick.key(for: nick)
        return state.withLock { state in
            state.channels.values.filter { $0.remoteMembers[key] != nil }.map(\.info)
        }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    /// A topic set on a linked server; the latest setting wins, the same on every server.
    func applyTopic(channel text: String, topic: String, setBy: String, time: Timestamp) {
        guard let name = try? ChannelName(validating: text) else { return }
        let changed: Bool = state.withLock { state in
            let channel = state.channels[name.key] ?? createChannel(name, &state)
            guard (time, setBy) > (channel.topicSetAt, channel.topicSetBy) else { return false }
            channel.topic = topic
            channel.topicSetBy = setBy
            channel.topicSetAt = time
            let event = ServerFrame.topic(channel: channel.name.name, topic: topic, setBy: setBy, time: time)
            if let frame = SubscriberSet.encode(event) { channel.members.deliver(frame) }
            return true
        }
        if changed { store.writer.markChannelsChanged() }
    }

    /// Up to `limit` messages with ids below `before` (0: the newest), oldest first, from memory and, where
    /// needed, from disk. Returns on `eventLoop`.
    func history(
        channel name: ChannelName, before: UInt64, limit: Int, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[ChatMessage]> {
        let plan: Result<(fromMemory: [ChatMessage], disk: DiskRead?), ProtocolError> = state.withLock { state in
            guard let channel = state.channels[name.key] else {
                return .failure(ProtocolError(.noSuchChannel, "there is no channel \(name.name)"))
            }
            let upper = before == 0 ? channel.lastID + 1 : min(before, channel.lastID + 1)
            let oldest = channel.oldestServed(limit: store.historyLimit)
            let inMemory = Array(channel.recent.filter { $0.id < upper && $0.id >= oldest }.suffix(limit))
            let diskUpper = min(upper, channel.recentStart)
            guard inMemory.count < limit, diskUpper > oldest, channel.lastID > 0 else {
                return .success((inMemory, nil))
            }
            let disk = DiskRead(file: channel.file, before: diskUpper, after: oldest - 1, limit: limit - inMemory.count)
            return .success((inMemory, disk))
        }
        switch plan {
        case .failure(let error):
            return eventLoop.makeFailedFuture(error)
        case .success(let plan):
            guard let disk = plan.disk else { return eventLoop.makeSucceededFuture(plan.fromMemory) }
            return read(disk, channel: name, on: eventLoop).map { older in older + plan.fromMemory }
        }
    }

    /// Reads from a channel's file on the thread pool; completes on `eventLoop`.
    private func read(
        _ disk: DiskRead, channel: ChannelName, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[ChatMessage]> {
        let store = self.store
        return threadPool.runIfActive(eventLoop: eventLoop) {
            try store.readMessages(
                file: disk.file, channel: channel.name, before: disk.before, after: disk.after, limit: disk.limit)
        }
    }

    // MARK: - Topics and listings

    /// Sets a topic; returns the time it was set (the latest setting wins across the network).
    @discardableResult
    func setTopic(
        _ session: ClientSession, nick: String, channel name: ChannelName, topic: String
    ) throws(ProtocolError) -> Timestamp {
        let time = try state.withLock { (state) throws(ProtocolError) -> Timestamp in
            guard let channel = state.channels[name.key] else {
                throw ProtocolError(.noSuchChannel, "there is no channel \(name.name)")
            }
            guard channel.members.contains(session) else {
                throw ProtocolError(.notOnChannel, "join \(channel.name.name) to set its topic")
            }
            channel.topic = topic
            channel.topicSetBy = nick
            channel.topicSetAt = .now()
            let event = ServerFrame.topic(
                channel: channel.name.name, topic: topic, setBy: nick, time: channel.topicSetAt)
            if let frame = SubscriberSet.encode(event) { channel.members.deliver(frame, excluding: session.id) }
            return channel.topicSetAt
        }
        store.writer.markChannelsChanged()
        return time
    }

    /// Every channel, sorted by name.
    func list() -> [ChannelInfo] {
        state.withLock { $0.channels.values.map(\.info) }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    func info(_ name: ChannelName) -> ChannelInfo? {
        state.withLock { $0.channels[name.key]?.info }
    }

    /// The sessions in a channel, or nil if there is no such channel.
    func members(of name: ChannelName) -> [ClientSession]? {
        state.withLock { $0.channels[name.key]?.members.sessions }
    }

    /// The channels a session is in, sorted by name.
    func channels(of session: ClientSession) -> [ChannelInfo] {
        state.withLock { state in
            (state.memberships[session.id] ?? []).compactMap { state.channels[$0]?.info }
        }.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }
}
