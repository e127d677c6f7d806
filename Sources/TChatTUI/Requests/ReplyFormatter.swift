import TChatClient
import TChatProtocol

/// The lines an answer or a failure is shown as. Pure: the frames in, sentences out, so every wording is tested
/// without a session or a screen.
enum ReplyFormatter {
    /// What to show for the answer to a request made for `purpose`; empty for those shown otherwise.
    static func lines(for purpose: RequestPurpose, _ frames: [ServerFrame]) -> [String] {
        switch purpose {
        case .list:
            var lines = [frames.count == 1 ? "1 channel:" : "\(frames.count) channels:"]
            for case .channelInfo(let channel) in frames {
                let topic = channel.topic.isEmpty ? "" : " — \(channel.topic)"
                lines.append("  \(channel.name) (\(channel.members))\(topic)")
            }
            return lines
        case .who(let channel):
            let clients = frames.compactMap { if case .clientInfo(let c) = $0 { c } else { nil } }
            let count = clients.count
            var lines = [
                channel.isEmpty
                    ? "\(count) connected:"
                    : "\(channel): \(count) \(count == 1 ? "member" : "members")" + (count == 0 ? "" : ":")
            ]
            // A server shows others' addresses to no one but themselves: an empty one is left out.
            for client in clients {
                let from = client.address.isEmpty ? "" : " from \(client.address)"
                lines.append("  \(client.nick)\(from), for \(duration(client.durationMilliseconds))")
            }
            return lines
        case .whois:
            var lines: [String] = []
            for case .clientInfo(let client) in frames {
                let from = client.address.isEmpty ? "" : " from \(client.address)"
                let host = client.host.isEmpty ? "" : " on \(client.host)"
                lines.append(
                    "\(client.nick) is connected\(from) to \(client.server) since "
                        + "\(client.connectedAt.iso8601) (\(duration(client.durationMilliseconds))), "
                        + "using \(client.clientName) \(client.clientVersion)\(host)")
            }
            let channels = frames.compactMap { if case .channelInfo(let c) = $0 { c.name } else { nil } }
            if !channels.isEmpty { lines.append("  in \(channels.joined(separator: " "))") }
            for case .text(let text) in frames { lines.append("  \(text)") }
            return lines
        case .servers:
            return frames.compactMap {
                guard case .serverInfo(let server) = $0 else { return nil }
                let this = server.isThisServer ? " (this server)" : ""
                return "\(server.name)\(this) at \(server.clientAddress): \(server.clients)/\(server.capacity) "
                    + "clients, up since \(server.startedAt.iso8601)"
            }
        case .welcome:
            return frames.compactMap {
                guard case .text(let text) = $0 else { return nil }
                return text.isEmpty ? "you have no welcome text; /welcome text sets one" : "your welcome text: \(text)"
            }
        case .setWelcome:
            return ["welcome text saved: it greets your next connections"]
        case .reverse:
            return frames.compactMap { if case .text(let text) = $0 { text } else { nil } }
        case .operatorRequest(let done):
            let texts = frames.compactMap { if case .text(let text) = $0 { text } else { nil } }
            return texts + (done.isEmpty ? [] : [done])
        case .modes(let show):
            guard show else { return [] }
            return frames.compactMap {
                guard case .channelModes(let channel, let modes, let operators, let voiced, let bans) = $0 else {
                    return nil
                }
                var parts = ["modes of \(channel): \(modes == "+" ? "none" : modes)"]
                parts.append("operators: \(operators.isEmpty ? "none" : operators)")
                if !voiced.isEmpty { parts.append("voiced: \(voiced)") }
                if !bans.isEmpty { parts.append("bans: \(bans)") }
                return parts.joined(separator: "; ")
            }
        case .setTopic, .history, .channelRequest:
            return []
        }
    }

    /// A failed request, in the words of what the user asked for.
    static func failure(of purpose: RequestPurpose, _ error: ProtocolError) -> String {
        let what: String
        switch purpose {
        case .list: what = "cannot list the channels"
        case .who(let channel): what = channel.isEmpty ? "cannot list who is connected" : "cannot list \(channel)"
        case .whois: what = "no whois"
        case .servers: what = "cannot list the servers"
        case .welcome, .setWelcome: what = "welcome text"
        case .reverse: what = "reverse"
        case .history: what = "no older messages"
        case .setTopic: what = "topic not set"
        case .modes: what = "modes"
        case .channelRequest, .operatorRequest: what = "refused"
        }
        return "\(what): \(error.message)"
    }

    /// A failed command that is not a tagged request.
    static func failure(of command: SessionCommand, _ error: ProtocolError) -> String {
        switch command {
        case .send(let channel, _): "message to \(channel) not sent: \(error.message)"
        case .sendDirect(let nick, _): "message to \(nick) not sent: \(error.message)"
        case .join(let channel), .joinKeyed(let channel, _): "cannot join \(channel): \(error.message)"
        case .nick(let nick): "cannot change your nick to \(nick): \(error.message)"
        default: "\(ChatSession.describe(command)) failed: \(error.message)"
        }
    }

    static func duration(_ milliseconds: UInt64) -> String {
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min" }
        if seconds < 86_400 { return "\(seconds / 3600) h \(seconds / 60 % 60) min" }
        return "\(seconds / 86_400) d \(seconds / 3600 % 24) h"
    }
}
