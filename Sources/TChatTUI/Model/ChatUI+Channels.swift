import TChatClient
import TChatProtocol

/// Channel operators' commands (`/mode`, `/op`, `/kick`, `/ban`, `/invite`, `/join #channel key`) and the events
/// they cause.
extension ChatUI {
    mutating func runChannelCommand(_ command: Command) -> [Effect] {
        if case .joinKeyed(let channel, let key) = command {
            guard let name = try? ChannelName(validating: channel) else {
                error("'\(channel)' is not a valid channel name")
                return []
            }
            if let existing = index(of: .channel(name.key)) {
                select(existing)
                return []
            }
            return [.session(.joinKeyed(name.name, key: key))]
        }
        switch command {
        case .kill(let nick, let reason):
            return request(.kill(nick: nick, reason: reason), .operatorRequest(done: "\(nick)'s session ended"))
        case .serverBan(let mask, let reason):
            return request(
                .serverBan(mask: mask, reason: reason), .operatorRequest(done: mask.isEmpty ? "" : "\(mask) banned"))
        case .serverUnban(let mask):
            return request(.serverUnban(mask: mask), .operatorRequest(done: "\(mask) may come back"))
        case .closeChannel(let named, let reason):
            guard let channel = named ?? activeBuffer.channelName else {
                error("/closechannel in a channel, or name one: /closechannel #channel reason")
                return []
            }
            return request(.closeChannel(channel: channel, reason: reason), .operatorRequest(done: "\(channel) closed"))
        default:
            break
        }
        if case .invite(let nick, let named) = command {
            guard let channel = named ?? activeBuffer.channelName else {
                error("/invite in a channel, or name one: /invite nick #channel")
                return []
            }
            return request(.invite(channel: channel, nick: nick), .channelRequest)
        }
        guard let channel = commandChannel(command) else {
            error("this works in a channel: switch to one first")
            return []
        }
        switch command {
        case .mode(_, let change):
            if change.isEmpty { return request(.channelMode(channel: channel, change: ""), .modes(show: true)) }
            return request(.channelMode(channel: channel, change: change), .channelRequest)
        case .op(let nick, let on):
            return request(.channelMode(channel: channel, change: (on ? "+o " : "-o ") + nick), .channelRequest)
        case .voice(let nick, let on):
            return request(.channelMode(channel: channel, change: (on ? "+v " : "-v ") + nick), .channelRequest)
        case .ban(let mask, let on):
            return request(.channelMode(channel: channel, change: (on ? "+b " : "-b ") + mask), .channelRequest)
        case .kick(let nick, let reason):
            return request(.kick(channel: channel, nick: nick, reason: reason), .channelRequest)
        default:
            return []
        }
    }

    private func commandChannel(_ command: Command) -> String? {
        if case .mode(let channel?, _) = command { return channel }
        return activeBuffer.channelName
    }

    mutating func channelEvent(_ frame: ServerFrame) -> [Effect] {
        switch frame {
        case .modeChanged(let channel, let by, let change, let time):
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            add(Line(time: time, kind: .event(marker: "--", text: "\(by) sets mode \(change)")), to: index)
            // Keep the sidebar's mark right: ask again rather than work out every letter here.
            return request(.channelMode(channel: channel, change: ""), .modes(show: false))
        case .kicked(let channel, let who, let by, let reason, let time):
            let because = reason.isEmpty ? "" : " (\(reason))"
            if Nick.key(for: who) == Nick.key(for: nick) {
                if let index = index(of: .channel(Self.key(channel))) { remove(index) }
                announce("\(by) kicked you from \(channel)\(because)", error: true)
                return []
            }
            guard let index = index(of: .channel(Self.key(channel))) else { return [] }
            buffers[index].members = max(buffers[index].members - 1, 0)
            speakers.forget(who, in: channel)
            add(Line(time: time, kind: .event(marker: "<--", text: "\(by) kicked \(who)\(because)")), to: index)
        case .invited(let channel, let by, _):
            announce("\(by) invites you to \(channel): /join \(channel)")
        default:
            break
        }
        return []
    }
}
