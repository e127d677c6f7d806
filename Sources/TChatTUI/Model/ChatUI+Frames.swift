import TChatClient
import TChatProtocol

/// Live events from the server: messages, direct messages, joins, parts, quits, nick and topic changes.
extension ChatUI {
    mutating func apply(_ frame: ServerFrame) -> [Effect] {
        // An ignored nick's lines are not shown, but the counts and names they change are kept right.
        let hidden = Self.actor(of: frame).map(isIgnored) ?? false
        switch frame {
        case .message(let message):
            guard !hidden else { return [] }
            guard let index = index(of: .channel(Self.key(message.channel))) else { return [] }
            let line = line(for: message)
            remember(message)
            let added = add(line, to: index, counts: !line.own)
            return added && line.mention ? [.bell] : []
        case .direct(let message):
            guard !hidden else { return [] }
            // One we sent from another session of our account: it belongs with the one we wrote to.
            let own = isOwn(message.from)
            let peer = own ? message.to : message.from
            let index = index(of: .direct(Self.key(peer)), create: peer)!
            let line = Line(
                time: message.time,
                kind: .message(nick: message.from, text: message.body.text, style: message.body.contentType),
                mention: !own, own: own)
            add(line, to: index, counts: !own)
            return own ? [] : [.bell]
        case .joined(let channel, let who, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].members += 1
            speakers.remember(who, in: channel)
            if !hidden {
                add(Line(time: time, kind: .event(marker: "-->", text: "\(who) joined \(channel)")), to: index)
            }
        case .parted(let channel, let who, let reason, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].members = max(buffers[index].members - 1, 0)
            speakers.forget(who, in: channel)
            let text = "\(who) left \(channel)" + (reason.isEmpty ? "" : " (\(reason))")
            if !hidden { add(Line(time: time, kind: .event(marker: "<--", text: text)), to: index) }
        case .quitted(let who, let reason, let time):
            for index in buffers.indices where sharesChannel(index, with: who) {
                buffers[index].members = max(buffers[index].members - 1, 0)
                speakers.forget(who, in: buffers[index].name)
                let text = "\(who) quit" + (reason.isEmpty ? "" : " (\(reason))")
                if !hidden { add(Line(time: time, kind: .event(marker: "<--", text: text)), to: index) }
            }
        case .nickChanged(let old, let new, let time):
            var effects: [Effect] = []
            if hidden {
                // The ignore follows the person to their new nick.
                ignored.removeAll { Nick.key(for: $0) == Nick.key(for: old) }
                if !isIgnored(new) { ignored.append(new.lowercased()) }
                effects.append(.saveIgnored(ignored))
            }
            if isOwn(old) {
                speakers.forgetEverywhere(old)
                nick = new
                info("you are now known as \(new)")
            }
            for index in buffers.indices where sharesChannel(index, with: old) {
                speakers.forget(old, in: buffers[index].name)
                speakers.remember(new, in: buffers[index].name)
                if !hidden {
                    add(Line(time: time, kind: .event(marker: "--", text: "\(old) is now known as \(new)")), to: index)
                }
            }
            if let index = index(of: .direct(Self.key(old))), self.index(of: .direct(Self.key(new))) == nil {
                buffers[index] = renamed(buffers[index], to: new)
            }
            return effects
        case .topic(let channel, let topic, let setBy, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].topic = topic
            add(Line(time: time, kind: .event(marker: "--", text: "\(setBy) set the topic: \(topic)")), to: index)
        case .notice(let text):
            announce(text)
        case .loggedIn(let account) where account.isEmpty:
            announce("you are logged out: your account was dropped")
        case .error(let error):
            self.error(error.message, in: 0)
        case .invited:
            return hidden ? [] : channelEvent(frame)
        case .modeChanged, .kicked:
            return channelEvent(frame)
        default:
            break
        }
        return []
    }

    /// Whose doing an event is, for `/ignore`.
    static func actor(of frame: ServerFrame) -> String? {
        switch frame {
        case .message(let message): message.from
        case .direct(let message): message.from
        case .joined(_, let who, _), .parted(_, let who, _, _), .quitted(let who, _, _): who
        case .nickChanged(let old, _, _): old
        case .invited(_, let by, _): by
        default: nil
        }
    }

    private func sharesChannel(_ index: Int, with who: String) -> Bool {
        guard let channel = buffers[index].channelName else { return false }
        return speakers.contains(who, in: channel)
    }

    private func renamed(_ buffer: ChatBuffer, to name: String) -> ChatBuffer {
        var copy = ChatBuffer(kind: .direct(Self.key(name)), name: name, limit: buffer.limit)
        for line in buffer.lines { copy.append(line) }
        copy.unread = buffer.unread
        copy.mentions = buffer.mentions
        return copy
    }
}
