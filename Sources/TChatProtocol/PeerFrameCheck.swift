/// The rules a linked server's frame must follow before anything acts on it.
///
/// A server on the other end of an authenticated link is still a program that can be buggy or taken over, so each
/// field obeys the rule the same field has when a client sends it (nicks, channel names, topics, reasons, bodies,
/// hello fields), and every number that later code adds to or compares is bounded here: message ids stay at or
/// below `ProtocolLimits.maxMessageID`, times lie between `ProtocolLimits.earliestTime` and a few minutes ahead of
/// this server's clock. What is not the same field as a client's (addresses, server names) gets a rule of its own.
public enum PeerFrameCheck {
    /// Throws the first rule `frame` breaks, naming the field; `now` is this server's clock.
    public static func validate(_ frame: PeerFrame, now: Timestamp) throws(ProtocolError) {
        let clock = Clock(now: now)
        switch frame {
        case .challenge(let challenge):
            guard challenge.serverID != 0 else { throw refuse("a server id cannot be 0") }
        case .proof, .error, .load:
            break
        case .hello(let hello):
            guard hello.serverID != 0 else { throw refuse("a server id cannot be 0") }
            try serverName(hello.name)
            try TextField.check(hello.softwareVersion, "software version", maxBytes: ProtocolLimits.maxServerNameBytes)
            try TextField.check(hello.host, "host", maxBytes: ProtocolLimits.maxHelloFieldBytes)
            try address(hello.clientAddress, "client address", allowingTLS: true)
            try address(hello.peerAddress, "peer address", allowingTLS: false)
            try clock.check(hello.startedAt, "started at")
            try TextField.check(hello.store, "store", maxBytes: ProtocolLimits.maxHelloFieldBytes)
        case .goodbye(let reason):
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
        case .peers(let peers):
            guard peers.count <= ProtocolLimits.maxGossipedServers else {
                throw refuse("PEERS names \(peers.count) servers; at most \(ProtocolLimits.maxGossipedServers)")
            }
            for peer in peers {
                guard peer.serverID != 0 else { throw refuse("a server id cannot be 0") }
                try address(peer.peerAddress, "peer address", allowingTLS: false)
            }
        case .clientAdded(let client):
            try nick(client.nick)
            try address(client.address, "address", allowingTLS: false)
            try clock.check(client.connectedAt, "connected at")
            try TextField.check(client.clientName, "client name", maxBytes: ProtocolLimits.maxHelloFieldBytes)
            try TextField.check(client.clientVersion, "client version", maxBytes: ProtocolLimits.maxHelloFieldBytes)
            try TextField.check(client.host, "host", maxBytes: ProtocolLimits.maxHelloFieldBytes)
        case .clientRemoved(let nick, let reason):
            try self.nick(nick)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
        case .clientRenamed(let old, let new):
            try nick(old)
            try nick(new)
        case .joined(let channel, let nick, let time):
            try self.channel(channel)
            try self.nick(nick)
            try clock.check(time, "time")
        case .parted(let channel, let nick, let reason, let time):
            try self.channel(channel)
            try self.nick(nick)
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            try clock.check(time, "time")
        case .forward(let seq, let channel, let from, let body):
            guard seq != 0 else { throw refuse("a forward's seq counts from 1") }
            try self.channel(channel)
            try nick(from)
            try self.body(body)
        case .forwardOnce(let seq, let channel, let from, let key, let body):
            guard seq != 0 else { throw refuse("a forward's seq counts from 1") }
            try self.channel(channel)
            try nick(from)
            try MessageKey.check(key)
            try self.body(body)
        case .message(_, _, let message):
            try self.channel(message.channel)
            try messageID(message.id, "id")
            guard message.id != 0 else { throw refuse("message ids count from 1") }
            try clock.check(message.time, "time")
            try nick(message.from)
            try body(message.body)
        case .direct(let message):
            try nick(message.from)
            try nick(message.to)
            try clock.check(message.time, "time")
            try body(message.body)
        case .topic(let channel, let topic, let setBy, let time):
            try self.channel(channel)
            try TextField.check(topic, "topic", maxBytes: ProtocolLimits.maxTopicBytes)
            try nick(setBy)
            try clock.check(time, "time")
        case .channelState(let channel, let lastID):
            try self.channel(channel)
            try messageID(lastID, "last id")
        case .syncRequest(let channel, let after, let limit):
            try self.channel(channel)
            try messageID(after, "after")
            guard limit > 0 else { throw refuse("a SYNC_REQUEST asks for at least one message") }
        case .record(let record):
            try validate(record, clock: clock)
        }
    }

    /// Times no earlier than 2020 and no further ahead of this server's clock than the allowed skew.
    struct Clock {
        let now: Timestamp

        func check(_ time: Timestamp, _ field: String) throws(ProtocolError) {
            guard time >= ProtocolLimits.earliestTime else {
                throw refuse("the \(field) \(time.milliseconds) ms is before 2020")
            }
            let (latest, overflow) = now.milliseconds.addingReportingOverflow(ProtocolLimits.maxClockSkew)
            guard overflow || time.milliseconds <= latest else {
                throw refuse("the \(field) \(time) is more than 5 minutes ahead of this server's clock (\(now))")
            }
        }
    }

    static func refuse(_ why: String) -> ProtocolError { ProtocolError(.invalidArgument, why) }

    static func nick(_ text: String) throws(ProtocolError) {
        if let problem = Nick.problem(with: text) { throw ProtocolError(.invalidNick, "'\(text)': \(problem)") }
    }

    static func channel(_ text: String) throws(ProtocolError) {
        // Peers send names as the channel has them, always with the '#'.
        guard text.hasPrefix("#") else { throw ProtocolError(.invalidChannel, "a channel name starts with '#'") }
        if let problem = ChannelName.problem(with: text) { throw ProtocolError(.invalidChannel, problem) }
    }

    static func body(_ body: MessageBody) throws(ProtocolError) {
        guard !body.text.isEmpty else { throw refuse("an empty message") }
    }

    static func messageID(_ id: UInt64, _ field: String) throws(ProtocolError) {
        guard id <= ProtocolLimits.maxMessageID else {
            throw refuse("the \(field) \(id) is beyond the highest message id, \(ProtocolLimits.maxMessageID)")
        }
    }

    static func serverName(_ name: String) throws(ProtocolError) {
        guard !name.isEmpty else { throw refuse("a server name cannot be empty") }
        try TextField.check(name, "server name", maxBytes: ProtocolLimits.maxServerNameBytes)
    }

    /// Empty (not known yet) or `HOST:PORT`, with `tls://` where allowed.
    static func address(_ text: String, _ field: String, allowingTLS: Bool) throws(ProtocolError) {
        guard !text.isEmpty else { return }
        try TextField.check(text, field, maxBytes: ProtocolLimits.maxHelloFieldBytes)
        _ = try ServerAddress(parsing: text, defaultPort: 0, allowingTLS: allowingTLS)
    }
}
