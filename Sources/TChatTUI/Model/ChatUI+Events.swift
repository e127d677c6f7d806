public import TChatClient
import TChatProtocol

/// The session-event reducer: what the session reports, folded into buffers, counts and the connection state.
extension ChatUI {
    public mutating func handle(_ event: SessionEvent) -> [Effect] {
        switch event {
        case .connecting(_, let attempt):
            connection = .connecting(attempt: attempt)
        case .connected(let welcome):
            connection = .connected
            outageAnnounced = false
            nick = welcome.nick
            serverName = welcome.serverName
            maxFrameLength = Int(welcome.maxFrameLength)
            buffers[0].name = welcome.serverName
            info("connected to \(welcome.serverName) (tchatd \(welcome.serverVersion)) as \(welcome.nick)", in: 0)
            if !welcome.welcomeText.isEmpty { info(welcome.welcomeText, in: 0) }
            if !welcome.motd.isEmpty {
                for line in welcome.motd.split(separator: "\n", omittingEmptySubsequences: false) {
                    info(String(line), in: 0)
                }
            }
        case .disconnected(let reason, let retryIn):
            disconnected(reason: reason, retryIn: retryIn)
        case .joined(let channel, let replay):
            joined(channel, replay: replay)
            // The modes, for the sidebar's mark of a private channel.
            return request(.channelMode(channel: channel.name, change: ""), .modes(show: false))
        case .parted(let channel):
            if let index = index(of: .channel(Self.key(channel))) { remove(index) }
            speakers.forgetChannel(channel)
        case .event(let frame):
            return apply(frame)
        case .history(let channel, let messages, let tag):
            return history(channel: channel, messages: messages, tag: tag)
        case .reply(let tag, let frames):
            reply(tag: tag, frames: frames)
        case .failed(let command, let error):
            failed(command, error)
        case .directSent(let peer, let body, let awayNote):
            let wanted = switchOnDirect.remove(Self.key(peer)) != nil
            // To ourselves, the server's DIRECT shows it already.
            guard !isOwn(peer) else { return [] }
            let index = index(of: .direct(Self.key(peer)), create: peer)!
            add(
                Line(
                    time: .now(), kind: .message(nick: nick, text: body.text, style: body.contentType),
                    own: true), to: index)
            if !awayNote.isEmpty, buffers[index].lastAwayNote != awayNote {
                // Said once per conversation until the text changes, not after every line.
                buffers[index].lastAwayNote = awayNote
                info(awayNote, in: index)
            }
            if wanted { select(index) }
        case .awayChanged(let text):
            away = text
            announce(text.isEmpty ? "you are back" : "you are marked away: \(text) (/away alone to come back)")
        case .nickChanged(let new):
            // Our old nick is nobody's now: Tab must not offer it.
            speakers.forgetEverywhere(nick)
            info("you are now known as \(new)")
            nick = new
        case .loggedIn(let account):
            return loggedIn(account)
        case .accountChanged(let text):
            info(text)
        }
        return []
    }

    /// One line per outage in every buffer; the attempts after it only change the status line.
    private mutating func disconnected(reason: String, retryIn: Duration?) {
        for index in buffers.indices { buffers[index].fetchingOlder = false }
        guard let retryIn else {
            connection = .stopped(reason: reason)
            info("disconnected: \(reason)", in: 0)
            return
        }
        connection = .reconnecting(reason: reason, retryIn: retryIn)
        guard !outageAnnounced else { return }
        outageAnnounced = true
        for index in buffers.indices where buffers[index].kind != .help {
            info("disconnected: \(reason); reconnecting (the status line shows how it goes)", in: index)
        }
    }

    /// A failure shows in the buffer its request came from: the tag names it for requests, the command's
    /// channel or nick for the rest.
    private mutating func failed(_ command: SessionCommand, _ failure: ProtocolError) {
        switch command {
        case .history(let channel, _, _, let tag):
            _ = requests.take(tag)
            guard let index = index(of: .channel(Self.key(channel))) else { return }
            buffers[index].fetchingOlder = false
            error(ReplyFormatter.failure(of: .history(0), failure), in: index)
        case .request(_, let tag):
            guard let entry = requests.take(tag) else {
                error(ReplyFormatter.failure(of: command, failure))
                return
            }
            // The modes asked for the sidebar's mark alone were never asked for by the user.
            if entry.purpose == .modes(show: false) { return }
            error(ReplyFormatter.failure(of: entry.purpose, failure), in: index(of: entry.buffer) ?? active)
        case .send(let channel, _):
            error(ReplyFormatter.failure(of: command, failure), in: index(of: .channel(Self.key(channel))) ?? active)
        case .sendDirect(let peer, _):
            switchOnDirect.remove(Self.key(peer))
            error(ReplyFormatter.failure(of: command, failure), in: index(of: .direct(Self.key(peer))) ?? active)
        case .join(let channel), .joinKeyed(let channel, _):
            switchOnJoin.remove(Self.key(channel))
            error(ReplyFormatter.failure(of: command, failure))
        default:
            error(ReplyFormatter.failure(of: command, failure))
        }
    }

    private mutating func joined(_ channel: ChannelInfo, replay: [ChatMessage]) {
        let key = Self.key(channel.name)
        let existed = index(of: .channel(key)) != nil
        let index = index(of: .channel(key), create: channel.name)!
        buffers[index].topic = channel.topic
        buffers[index].members = Int(channel.members)
        // A rejoin's replay is what was missed: it counts, as live messages do.
        for message in replay where !isIgnored(message.from) {
            remember(message)
            add(line(for: message), to: index, counts: existed && !isOwn(message.from))
        }
        if !existed {
            info("you joined \(channel.name)" + (channel.topic.isEmpty ? "" : " — \(channel.topic)"), in: index)
        }
        // Show a channel the user asked for, and the first one joined at start-up instead of the status buffer.
        if switchOnJoin.remove(key) != nil || (!existed && active == 0) { select(index) }
    }

    private mutating func history(channel: String, messages: [ChatMessage], tag: UInt64) -> [Effect] {
        if tag != 0 { _ = requests.take(tag) }
        guard let index = index(of: .channel(Self.key(channel))) else { return [] }
        if tag == 0 {
            // Filling the gap after a reconnection: newer than what was shown, and unread like any live message.
            var mentioned = false
            for message in messages where !isIgnored(message.from) {
                remember(message)
                let line = line(for: message)
                if add(line, to: index, counts: !line.own), line.mention { mentioned = true }
            }
            return mentioned ? [.bell] : []
        }
        buffers[index].fetchingOlder = false
        let shown = messages.filter { !isIgnored($0.from) }
        if let oldest = messages.map(\.id).min() { buffers[index].oldestFetched = oldest }
        let added = buffers[index].insertOlder(shown.map { line(for: $0) })
        if messages.isEmpty || (added == 0 && !shown.isEmpty) {
            buffers[index].hasOlder = false
            // Where the history ends: above the oldest line, not below the newest.
            buffers[index].prepend(.info("no older messages in \(channel)"))
            if index == active { buffers[index].scroll = window.maximumScroll }
        } else if index == active {
            // Keep the view where it was, now that lines were added above it.
            buffers[index].scroll = min(buffers[index].scroll, window.maximumScroll)
        }
        return []
    }

    func isOwn(_ from: String) -> Bool { Nick.key(for: from) == Nick.key(for: nick) }

    mutating func remember(_ message: ChatMessage) {
        if !isOwn(message.from) { speakers.remember(message.from, in: message.channel) }
    }

    func line(for message: ChatMessage) -> Line {
        let own = isOwn(message.from)
        return Line(
            time: message.time, id: message.id,
            kind: .message(nick: message.from, text: message.body.text, style: message.body.contentType),
            mention: !own && Mention.names(nick, in: message.body.text), own: own)
    }

    private mutating func reply(tag: UInt64, frames: [ServerFrame]) {
        guard let entry = requests.take(tag) else { return }
        let index = index(of: entry.buffer) ?? active
        switch entry.purpose {
        case .setTopic(let topic):
            // The TOPIC event does not come back to us: the title bar and /topic take it from here.
            buffers[index].topic = topic
            if let channel = buffers[index].channelName {
                info(topic.isEmpty ? "you cleared the topic of \(channel)" : "you set the topic: \(topic)", in: index)
            }
        case .modes:
            for case .channelModes(let channel, let modes, _, _, _) in frames {
                if let bufferIndex = self.index(of: .channel(Self.key(channel))) {
                    buffers[bufferIndex].modes = String(modes.prefix { $0 != " " })
                }
            }
            var target: Int?
            for case .channelModes(let channel, _, _, _, _) in frames where target == nil {
                target = self.index(of: .channel(Self.key(channel)))
            }
            for text in ReplyFormatter.lines(for: entry.purpose, frames) { info(text, in: target ?? index) }
        default:
            for text in ReplyFormatter.lines(for: entry.purpose, frames) { info(text, in: index) }
        }
    }
}
