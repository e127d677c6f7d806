import Logging
import NIOCore
import NIOPosix
import TChatProtocol

/// Channels as the rest of the server sees them: joining and leaving, messages, topics and listings.
///
/// Each channel keeps its state behind its own lock (`ChatChannel`); the directory's lock covers a lookup and the
/// membership index's lock one member's entry. So a message takes its channel's lock and nothing that grows with
/// the number of channels, members or nicks, and two channels never wait for each other. Old history comes from
/// disk on the thread pool, outside every lock.
final class ChannelManager: Sendable {
    /// What a join gives back: the channel and the messages to replay before live ones.
    struct JoinResult: Sendable {
        var info: ChannelInfo
        var replay: [ChatMessage]
        /// False when the session was in the channel already.
        var isNew: Bool
    }

    let directory: ChannelDirectory
    let memberships = MembershipIndex()
    let store: any ChatStorage
    /// Where joins, parts, topics and numbered messages go for the rest of the network.
    let feed: ChangeFeed
    let threadPool: NIOThreadPool
    /// Messages kept in memory per channel; also the most a join can replay.
    let recentCapacity: Int
    let maxChannelsPerClient: Int
    /// The most of a join's replay, in bytes: a client asks HISTORY for the rest, page by page.
    let maxReplayBytes: Int
    let historyMemory: HistoryMemory
    /// Totals for metrics; the message path counts here.
    let counters = ServerCounters()
    let logger: Logger

    /// `loaded` comes from `ChatStorage.loadChannels`, which has checked every name.
    /// `unclaimedFiles` are history files no channel owns; new channels never take their names.
    init(
        store: any ChatStorage, threadPool: NIOThreadPool, loaded: [StoredChannel],
        unclaimedFiles: [String] = [], maxChannelsPerClient: Int, maxReplayBytes: Int = 1 << 20,
        historyMemory: HistoryMemory = HistoryMemory(), feed: ChangeFeed = ChangeFeed(), logger: Logger
    ) throws {
        self.maxReplayBytes = maxReplayBytes
        self.historyMemory = historyMemory
        self.store = store
        self.feed = feed
        self.threadPool = threadPool
        let capacity = min(store.historyLimit, Int(ProtocolLimits.maxHistoryRequest))
        self.recentCapacity = capacity
        self.maxChannelsPerClient = maxChannelsPerClient
        self.logger = logger
        let channels = try loaded.map { entry in
            var state = ChatChannel.State(
                history: HistoryWindow(
                    capacity: capacity, limit: store.historyLimit, firstID: entry.firstID, lastID: entry.lastID,
                    lastTime: entry.lastTime, memory: historyMemory))
            state.topic = entry.record.topic
            state.topicSetBy = entry.record.topicBy
            state.topicSetAt = Timestamp(iso8601: entry.record.topicTime) ?? Timestamp(milliseconds: 0)
            let created = Timestamp(iso8601: entry.record.created) ?? .now()
            state.access = ChatChannel.access(from: entry.record, created: created)
            return ChatChannel(
                name: try ChannelName(validating: entry.record.name), file: entry.record.file, created: created,
                state: state)
        }
        directory = ChannelDirectory(channels, unclaimedFiles: unclaimedFiles)
    }

    /// The channel named `name`, made (and written to `channels.json` soon) if there is none yet.
    func channel(creating name: ChannelName) -> ChatChannel {
        channelReportingNew(creating: name).channel
    }

    /// As `channel(creating:)`, and whether this call made it.
    func channelReportingNew(creating name: ChannelName) -> (channel: ChatChannel, isNew: Bool) {
        let (channel, isNew) = directory.channel(creating: name) { file in
            let now = Timestamp.now()
            var state = ChatChannel.State(
                history: HistoryWindow(capacity: recentCapacity, limit: store.historyLimit, memory: historyMemory))
            state.access.origin = now
            return ChatChannel(name: name, file: file, created: now, state: state)
        }
        if isNew {
            store.channelsChanged()
            logger.info("channel created", metadata: ["channel": "\(name.name)", "file": "\(channel.file)"])
        }
        return (channel, isNew)
    }

    func exists(_ name: ChannelName) -> Bool { directory.channel(name) != nil }

    /// The channel's name as first spelled, as its messages carry it.
    func spelling(of name: ChannelName) -> String? { directory.channel(name)?.name.name }

    func existing(_ name: ChannelName) throws(ProtocolError) -> ChatChannel {
        guard let channel = directory.channel(name) else {
            throw ProtocolError(.noSuchChannel, "there is no channel \(name.name)")
        }
        return channel
    }

    /// The oldest and newest ids of every channel file, for the writer's compaction.
    var fileRanges: [String: StoreWriter.FileRange] {
        var ranges: [String: StoreWriter.FileRange] = [:]
        for channel in directory.all {
            let (first, last) = channel.withState { ($0.history.firstID, $0.history.lastID) }
            if last > 0 { ranges[channel.file] = StoreWriter.FileRange(firstID: first, lastID: last) }
        }
        return ranges
    }

    /// The contents of `channels.json`.
    func snapshot() -> ChannelsFile {
        ChannelsFile(version: 1, channels: directory.all.map(\.record).sorted { $0.name < $1.name }, journal: nil)
    }

    var channelCount: Int { directory.count }

    // MARK: - Joining and leaving

    /// Joins `session` (as `member`, with the channel's `key` if it has one), replaying up to `history` messages,
    /// and with it the `companions` sharing its nick, who hear JOINED. Returns on the session's event loop. The
    /// logged-in member who makes a channel is its first operator.
    ///
    /// With `answering`, the answer (CHANNEL_INFO, the replay, OK, carrying that request id) is posted to the
    /// session under the channel's lock, in the same step that makes it a member: live messages are delivered under
    /// that lock too, so none can reach the joiner before its replay and OK.
    func join(
        _ session: ClientSession, nick: String, channel name: ChannelName, history: Int,
        member: ChannelAccess.Member? = nil, key: String = "", answering requestID: UInt32? = nil,
        companions: @escaping @Sendable () -> [ClientSession] = { [] }
    ) -> EventLoopFuture<JoinResult> {
        let member = member ?? ChannelAccess.Member(nick: nick, account: nil)
        let wanted = min(history, recentCapacity)
        // Fill the in-memory history from disk first if it is short; the join itself then never waits.
        let maxReplayBytes = self.maxReplayBytes
        guard let channel = directory.channel(name),
            let missing = channel.withState({ state -> HistoryWindow.DiskRange? in
                let missing = state.history.missingForReplay(wanted, maxBytes: maxReplayBytes)
                if missing != nil { state.joinsReading += 1 }
                return missing
            })
        else {
            return session.eventLoop.makeCompletedFuture {
                try self.completeJoin(
                    session, nick: nick, channel: name, history: wanted, member: member, key: key,
                    answering: requestID, companions: companions)
            }
        }
        // A member who may not join learns so before the disk is read for it.
        do {
            try channel.withState { (state) throws(ProtocolError) in
                if !state.members.local.contains(session) { try state.access.checkJoin(member, key: key) }
            }
        } catch {
            channel.withState { $0.joinsReading -= 1 }
            return session.eventLoop.makeFailedFuture(error)
        }
        let reading = read(missing, from: channel, on: session.eventLoop)
        reading.whenFailure { _ in channel.withState { $0.joinsReading -= 1 } }
        return reading.flatMapThrowing { older in
            defer { channel.withState { $0.joinsReading -= 1 } }
            channel.withState { $0.history.prepend(older) }
            return try self.completeJoin(
                session, nick: nick, channel: name, history: wanted, member: member, key: key,
                answering: requestID, older: older, companions: companions)
        }
    }

    private func completeJoin(
        _ session: ClientSession, nick: String, channel name: ChannelName, history: Int,
        member: ChannelAccess.Member, key: String, answering requestID: UInt32?, older: [ChatMessage] = [],
        companions: @Sendable () -> [ClientSession]
    ) throws(ProtocolError) -> JoinResult {
        // A join that waited for the disk may complete after the client left (its quit ran on this loop already):
        // it must not come back as a member no one will ever take out.
        guard session.channel.isActive else { throw ProtocolError(.internalError, "the connection has closed") }
        let joinedCount = memberships.count(of: session)
        // Asked now, not when the join was asked for: a companion may have come or gone while the disk was read.
        let sharing = companions().filter { $0.channel.isActive }
        // A join refused for the client's channel count must not leave a channel made for it behind.
        let isMember = directory.channel(name)?.withState { $0.members.local.contains(session) } ?? false
        guard isMember || joinedCount < maxChannelsPerClient else {
            throw ProtocolError(.tooManyChannels, "you are in \(joinedCount) channels, the most this server allows")
        }
        let (channel, created) = channelReportingNew(creating: name)
        let result = try channel.withState { (state) throws(ProtocolError) -> JoinResult in
            let isNew = !state.members.local.contains(session)
            if isNew {
                guard joinedCount < maxChannelsPerClient else {
                    throw ProtocolError(
                        .tooManyChannels, "you are in \(joinedCount) channels, the most this server allows")
                }
                let creator = created ? member.account : nil
                if let creator { state.access.operators[creator] = member.accountName ?? creator }
                try state.access.checkJoin(member, key: key)
                state.access.invited.remove(member.session)
                for companion in sharing { state.access.invited.remove(companion.id) }
                state.members.local.insert(session)
                let time = Timestamp.now()
                Self.tellJoined(
                    channel: channel.name.name, nick: nick, account: member.accountName ?? "", time: time,
                    to: state.members.local, excluding: session.id)
                let companions = state.members.addCompanions(sharing)
                if !companions.isEmpty,
                    let frame = SubscriberSet.encode(.joined(channel: channel.name.name, nick: nick, time: time))
                {
                    for companion in companions { companion.send(frame) }
                }
                feed.emit(.joined(channel: channel.name.name, nick: nick, time: time))
                // After the join, which makes the channel on linked servers: they keep rules of channels they know.
                if creator != nil { shareAccess(of: channel, &state, by: nick, change: "+o \(nick)") }
            }
            let replay = state.history.replay(history, maxBytes: maxReplayBytes, older: older)
            let result = JoinResult(info: channel.info(of: state), replay: replay, isNew: isNew)
            if let requestID {
                let frames =
                    [.channelInfo(result.info)] + result.replay.map { .message(NoticeFallback.shown($0, to: session)) }
                    + [ServerFrame.ok]
                session.send(session.encode(frames, requestID: requestID))
            }
            return result
        }
        if result.isNew {
            memberships.add(session, to: channel)
            for companion in sharing { memberships.add(companion, to: channel) }
            // A session that came to share the nick meanwhile looked for its channels before this one was listed.
            let late = companions().filter { companion in
                companion.channel.isActive && !sharing.contains(companion)
            }
            if !late.isEmpty { attach(late, to: channel, first: session, nick: nick) }
        }
        if created, member.account != nil { store.channelsChanged() }
        return result
    }

    /// Takes `session` and the `companions` sharing its nick out of a channel; the companions hear PARTED too.
    /// `late`, asked once it is done, names the sessions sharing the nick then (one may have come meanwhile).
    func part(
        _ session: ClientSession, nick: String, channel name: ChannelName, reason: String,
        companions: [ClientSession] = [], late: (() -> [ClientSession])? = nil
    ) throws(ProtocolError) {
        let channel = try existing(name)
        try channel.withState { (state) throws(ProtocolError) in
            guard state.members.local.remove(session) else {
                throw state.refusal(toNonMember: name.name, "you are not in \(channel.name.name)")
            }
            let time = Timestamp.now()
            let event = ServerFrame.parted(channel: channel.name.name, nick: nick, reason: reason, time: time)
            if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
            state.members.removeCompanions(companions)
            feed.emit(.parted(channel: channel.name.name, nick: nick, reason: reason, time: time))
        }
        memberships.remove(session, from: channel)
        for companion in companions { memberships.remove(companion, from: channel) }
        if let late { leave(late(), channel: channel, nick: nick, reason: reason) }
    }

    /// Takes out sessions that came to share a nick after its part was decided, telling each PARTED.
    func leave(_ sessions: [ClientSession], channel: ChatChannel, nick: String, reason: String) {
        let removed = channel.withState { $0.members.removeCompanions(sessions) }
        guard !removed.isEmpty else { return }
        let frame = SubscriberSet.encode(
            .parted(channel: channel.name.name, nick: nick, reason: reason, time: .now()))
        for session in removed {
            memberships.remove(session, from: channel)
            if let frame { session.send(frame) }
        }
    }

    /// Takes a session out of every channel, telling everyone who shared one with it, once. `staying`: sessions
    /// that share its nick and stay; where one of them is a member, no one is told anything (the member they see is
    /// still there), elsewhere the nick parts, and QUIT is for no one.
    func remove(_ session: ClientSession, nick: String?, reason: String, staying: [ClientSession] = []) {
        var audience = SubscriberSet()
        let time = Timestamp.now()
        for channel in memberships.removeAll(of: session) {
            let others = channel.withState { state -> [ClientSession] in
                guard !staying.isEmpty else {
                    state.members.local.remove(session)
                    return state.members.local.sessions
                }
                if staying.contains(where: { state.members.local.contains($0) }) {
                    state.members.removeCompanions([session])
                } else if state.members.local.remove(session), let nick {
                    let event = ServerFrame.parted(channel: channel.name.name, nick: nick, reason: reason, time: time)
                    if let frame = SubscriberSet.encode(event) { state.members.local.deliver(frame) }
                    feed.emit(.parted(channel: channel.name.name, nick: nick, reason: reason, time: time))
                }
                return []
            }
            for member in others { audience.insert(member) }
        }
        if let nick, staying.isEmpty, let frame = SubscriberSet.encode(.quitted(nick: nick, reason: reason, time: time))
        {
            audience.deliver(frame)
        }
    }

    /// Puts sessions that came to share `first`'s nick in `channel` (if `first` is in it), telling each JOINED.
    private func attach(_ sessions: [ClientSession], to channel: ChatChannel, first: ClientSession, nick: String) {
        let added = channel.withState { state -> [ClientSession] in
            guard state.members.local.contains(first) else { return [] }
            return state.members.addCompanions(sessions)
        }
        guard !added.isEmpty else { return }
        let frame = SubscriberSet.encode(.joined(channel: channel.name.name, nick: nick, time: .now()))
        for session in added {
            memberships.add(session, to: channel)
            if let frame { session.send(frame) }
        }
    }

    /// Puts `session`, which now shares `first`'s nick, in every channel `first` is in. Returns the JOINED events
    /// that tell it so, for the caller to send in their place among its replies; no one else hears anything.
    func attach(_ session: ClientSession, to first: ClientSession, nick: String) -> [ServerFrame] {
        var events: [ServerFrame] = []
        for channel in memberships.channels(of: first) {
            let added = channel.withState { state -> Bool in
                guard state.members.local.contains(first) else { return false }
                return !state.members.addCompanions([session]).isEmpty
            }
            guard added else { continue }
            memberships.add(session, to: channel)
            events.append(.joined(channel: channel.name.name, nick: nick, time: .now()))
        }
        return events
    }

    /// Tells everyone who shares a channel with `session`, and the `companions` sharing its nick, of its new
    /// nick, once each.
    func announceNickChange(
        _ session: ClientSession, from old: String, to new: String, companions: [ClientSession] = []
    ) {
        var audience = SubscriberSet()
        for channel in memberships.channels(of: session) {
            for member in channel.withState({ $0.members.local.sessions }) where member.id != session.id {
                audience.insert(member)
            }
        }
        for companion in companions { audience.insert(companion) }
        if let frame = SubscriberSet.encode(.nickChanged(old: old, new: new, time: .now())) {
            audience.deliver(frame)
        }
    }

    // MARK: - Reading

    /// Reads from a channel's file on the thread pool; completes on `eventLoop`.
    func read(
        _ range: HistoryWindow.DiskRange, from channel: ChatChannel, on eventLoop: any EventLoop
    ) -> EventLoopFuture<[ChatMessage]> {
        let store = self.store
        let (file, name) = (channel.file, channel.name.name)
        return threadPool.runIfActive(eventLoop: eventLoop) {
            try store.readMessages(
                file: file, channel: name, before: range.before, after: range.after, limit: range.limit)
        }
    }
}
