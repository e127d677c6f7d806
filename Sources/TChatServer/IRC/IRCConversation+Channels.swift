import TChatIRC
import TChatProtocol

/// JOIN, PART, TOPIC, NAMES, LIST, KICK and INVITE.
extension IRCConversation {
    mutating func join(_ message: IRCMessage) {
        if message.params[0] == "0" {
            for channel in channels.values.map(\.name).sorted() {
                request(.part(channel: channel, reason: ""), .part(channel: channel, reason: ""))
            }
            return
        }
        let names = Self.targets(message.params[0])
        let keys = message.params.count > 1 ? message.params[1].split(separator: ",").map(String.init) : []
        guard names.count <= Self.maxTargets else {
            numeric(.tooManyTargets, IRCMessage.word(message.params[0]), "Too many channels at once")
            return
        }
        for (index, name) in names.enumerated() {
            guard name.hasPrefix("#") else {
                numeric(.noSuchChannel, IRCMessage.word(name), "No such channel")
                continue
            }
            let key = index < keys.count ? keys[index] : ""
            let frame: ClientFrame =
                key.isEmpty
                ? .join(channel: name, history: 0) : .joinKeyed(channel: name, key: key, history: 0)
            request(frame, .join(channel: name))
        }
    }

    mutating func part(_ message: IRCMessage) {
        let reason = Self.fitted(
            message.params.count > 1 ? message.params[1] : "", maxBytes: ProtocolLimits.maxReasonBytes)
        for name in Self.targets(message.params[0]).prefix(Self.maxTargets) {
            request(.part(channel: name, reason: reason), .part(channel: name, reason: reason))
        }
    }

    mutating func topic(_ message: IRCMessage) {
        let name = message.params[0]
        if message.params.count > 1 {
            let topic = Self.fitted(message.params[1], maxBytes: ProtocolLimits.maxTopicBytes)
            request(.setTopic(channel: name, topic: topic), .setTopic(channel: name, topic: topic))
            return
        }
        if let joined = channels[name.lowercased()] {
            sendTopic(of: joined, always: true)
            return
        }
        request(.listChannels, .topicQuery(channel: name))
    }

    /// 332 and 333 for a channel with a topic; 331 (when `always`) for one without.
    mutating func sendTopic(of channel: IRCJoinedChannel, always: Bool) {
        guard !channel.topic.isEmpty else {
            if always { numeric(.noTopic, channel.name, "No topic is set") }
            return
        }
        numeric(.topic, channel.name, channel.topic)
        if !channel.topicSetBy.isEmpty {
            numeric(
                .topicWhoTime, channel.name, Self.mask(channel.topicSetBy),
                String(channel.topicSetAt.milliseconds / 1000))
        }
    }

    mutating func names(_ message: IRCMessage) {
        for name in Self.targets(message.params[0]).prefix(Self.maxTargets) {
            askNames(of: name, afterJoin: false)
        }
    }

    /// NAMES needs the operators first (CHANNEL_MODE), then the members (LIST_CLIENTS).
    mutating func askNames(of channel: String, afterJoin: Bool) {
        request(.channelMode(channel: channel, change: ""), .namesModes(channel: channel, afterJoin: afterJoin))
    }

    /// 353 lines of as many members as fit, then 366.
    mutating func sendNames(of channel: String, members: [String]) {
        let joined = channels[channel.lowercased()]
        let shown = joined?.name ?? channel
        let all = capabilities.contains(.multiPrefix)
        let masks = capabilities.contains(.userhostInNames)
        var line: [String] = []
        var bytes = 0
        for member in members {
            let entry = (joined?.prefix(of: member, all: all) ?? "") + (masks ? Self.mask(member) : member)
            if bytes + entry.utf8.count + 1 > 400, !line.isEmpty {
                numeric(.namesReply, "=", shown, line.joined(separator: " "))
                line.removeAll()
                bytes = 0
            }
            line.append(entry)
            bytes += entry.utf8.count + 1
        }
        if !line.isEmpty { numeric(.namesReply, "=", shown, line.joined(separator: " ")) }
        numeric(.endOfNames, shown, "End of /NAMES list.")
    }

    mutating func list(_ message: IRCMessage) {
        let only = message.params.first.map { Set(Self.targets($0).map { $0.lowercased() }) }
        if request(.listChannels, .list(only: only?.isEmpty == true ? nil : only)) {
            numeric(.listStart, "Channel", "Users  Name")
        }
    }

    mutating func kick(_ message: IRCMessage) {
        let channel = message.params[0]
        let reason = Self.fitted(
            message.params.count > 2 ? message.params[2] : currentNick, maxBytes: ProtocolLimits.maxReasonBytes)
        for target in Self.targets(message.params[1]).prefix(Self.maxTargets) {
            request(.kick(channel: channel, nick: target, reason: reason), .kick(channel: channel, nick: target))
        }
    }

    mutating func invite(_ message: IRCMessage) {
        let (target, channel) = (message.params[0], message.params[1])
        request(.invite(channel: channel, nick: target), .invite(nick: target, channel: channel))
    }

    /// `a,b,,c` as `a`, `b`, `c`.
    static func targets(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
    }
}
