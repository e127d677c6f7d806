import Synchronization
import TChatProtocol

/// One channel: its identity, fixed when it is made, and its state behind a lock of its own, so that a message
/// in one channel never waits for another channel.
///
/// Under the lock a message is numbered, queued for the disk and posted to the members' loops, so ids, file order
/// and what every member receives agree. The lock is never held across I/O or a wait.
final class ChatChannel: Sendable {
    struct State {
        var topic = ""
        var topicSetBy = ""
        var topicSetAt = Timestamp(milliseconds: 0)
        var members = ChannelMembers()
        var history: HistoryWindow
        var access = ChannelAccess()
        /// Joins reading older history from the store before they make their member: a channel with one is not
        /// moved on without its messages (`HistoryWindow.skip`), or the joiner's replay would not reach them.
        var joinsReading = 0

        /// What a client that is not a member is told: that it is not in the channel, or, for a secret channel,
        /// that there is no such channel (as for a name nobody uses).
        func refusal(toNonMember name: String, _ message: String) -> ProtocolError {
            access.secret
                ? ProtocolError(.noSuchChannel, "there is no channel \(name)") : ProtocolError(.notOnChannel, message)
        }

        /// Refuses `member` (on `session`) unless it is in the channel and one of its operators: kicking and
        /// inviting, here or on a linked server.
        func checkOperatorHere(_ member: ChannelAccess.Member, session: ClientSession, channel name: String)
            throws(ProtocolError)
        {
            guard members.local.contains(session) else {
                throw refusal(toNonMember: name, "you are not in \(name)")
            }
            try access.checkOperator(member)
        }

        /// Takes a topic unless the one held was set later: the latest setting wins, the same on every server.
        mutating func takeTopic(_ topic: String, setBy: String, at time: Timestamp) -> Bool {
            guard (time, setBy) > (topicSetAt, topicSetBy) else { return false }
            self.topic = topic
            topicSetBy = setBy
            topicSetAt = time
            return true
        }
    }

    let name: ChannelName
    /// The history file under `channels/`.
    let file: String
    let created: Timestamp
    private let state: Mutex<State>

    init(name: ChannelName, file: String, created: Timestamp, state: State) {
        self.name = name
        self.file = file
        self.created = created
        self.state = Mutex(state)
    }

    func withState<Result: Sendable, E: Error>(_ body: (inout State) throws(E) -> Result) throws(E) -> Result {
        try state.withLock { (state) throws(E) -> Result in try body(&state) }
    }

    var info: ChannelInfo { withState { info(of: $0) } }

    func info(of state: State) -> ChannelInfo {
        ChannelInfo(
            name: name.name, members: UInt32(clamping: state.members.count), topic: state.topic,
            topicSetBy: state.topicSetBy, topicSetAt: state.topicSetAt, lastMessageID: state.history.lastID)
    }

    /// The channel's line in `channels.json`.
    var record: ChannelRecord {
        withState { state in
            var record = ChannelRecord(
                name: name.name, file: file, created: created.iso8601, topic: state.topic, topicBy: state.topicSetBy,
                topicTime: state.topicSetBy.isEmpty ? "" : state.topicSetAt.iso8601)
            let access = state.access
            let modes = access.modeString(showKey: false)
            record.modes = modes == "+" ? nil : modes
            record.key = access.key
            record.operators = access.operators.isEmpty ? nil : access.operators.values.sorted()
            // A guest's voice is its session's, and ends with it.
            let voiced = access.voiced.filter { !$0.key.hasPrefix("session:") }.values.sorted()
            record.voiced = voiced.isEmpty ? nil : voiced
            record.bans = access.bans.isEmpty ? nil : access.bans
            record.orphaned = access.orphaned ? true : nil
            record.accessTime = access.changed.milliseconds == 0 ? nil : access.changed.iso8601
            record.accessOrigin = access.origin == created ? nil : access.origin.iso8601
            return record
        }
    }

    /// A channel's access as `channels.json` recorded it.
    static func access(from record: ChannelRecord, created: Timestamp) -> ChannelAccess {
        var access = ChannelAccess()
        let modes = record.modes ?? ""
        access.inviteOnly = modes.contains("i")
        access.secret = modes.contains("s")
        access.topicLock = modes.contains("t")
        access.moderated = modes.contains("m")
        access.key = record.key
        for name in record.operators ?? [] { access.operators[Nick.key(for: name)] = name }
        for name in record.voiced ?? [] { access.voiced[Nick.key(for: name)] = name }
        access.bans = Array((record.bans ?? []).prefix(ChannelAccess.maxBans))
        access.orphaned = record.orphaned ?? false
        access.origin = record.accessOrigin.flatMap(Timestamp.init(iso8601:)) ?? created
        access.changed = record.accessTime.flatMap(Timestamp.init(iso8601:)) ?? Timestamp(milliseconds: 0)
        // Set before changes were stamped: dated from the channel's making, so linked servers hear of it.
        if access.changed.milliseconds == 0, access.isSet {
            access.changed = max(created, ProtocolLimits.earliestTime)
        }
        return access
    }
}
