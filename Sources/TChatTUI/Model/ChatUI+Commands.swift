import TChatClient
import TChatProtocol

/// Lines typed: text to the buffer's channel or conversation, and slash commands.
extension ChatUI {
    mutating func submit(_ line: String) -> [Effect] {
        guard !line.isEmpty else { return [] }
        // Whatever a line asks, its answer is at the bottom: show the live end.
        buffers[active].scroll = 0
        if line.hasPrefix("/") && !line.hasPrefix("//") {
            switch CommandSpec.parse(line) {
            case .success(let command): return run(command)
            case .failure(let error):
                self.error(error.description)
                return []
            }
        }
        return say(line.hasPrefix("//") ? String(line.dropFirst()) : line)
    }

    /// Sends text to the active channel or conversation.
    mutating func say(_ text: String, action: Bool = false) -> [Effect] {
        guard !text.isEmpty else { return [] }
        switch activeBuffer.kind {
        case .channel: return send(text, action: action, toChannel: activeBuffer.name)
        // Shown once the server has taken it (`directSent`): a message that went nowhere never looks sent.
        case .direct: return send(text, action: action, toNick: activeBuffer.name)
        case .status, .help:
            error("this is not a channel: /join #channel to talk, or /msg nick text")
            return []
        }
    }

    /// Text for a channel, cut into messages the server's frame limit takes (its MESSAGE must fit, with the
    /// longest nick a sender can have).
    func send(_ text: String, action: Bool = false, toChannel channel: String) -> [Effect] {
        let room =
            maxFrameLength - ProtocolLimits.messageFrameLength(channel: channel, from: Self.longestNick, bodyBytes: 0)
        return MessageSplitter.split(text, maxBytes: room).map {
            .session(.send(channel: channel, body: MessageBody(action ? .action : .text, $0)))
        }
    }

    /// Text for a nick, cut likewise to fit its DIRECT.
    func send(_ text: String, action: Bool = false, toNick nick: String) -> [Effect] {
        let room = maxFrameLength - ProtocolLimits.directFrameLength(from: Self.longestNick, to: nick, bodyBytes: 0)
        return MessageSplitter.split(text, maxBytes: room).map {
            .session(.sendDirect(nick: nick, body: MessageBody(action ? .action : .text, $0)))
        }
    }

    static let longestNick = String(repeating: "x", count: ProtocolLimits.maxNickLength)

    mutating func paste(_ text: String) -> [Effect] {
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
            .map(String.init)
        guard text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            input.insert(text)
            return []
        }
        if lines.count > Self.pasteConfirmationThreshold {
            pendingPaste = lines
            return []
        }
        return lines.flatMap { say($0) }
    }

    mutating func run(_ command: Command) -> [Effect] {
        switch command {
        case .join(let channel):
            guard let name = try? ChannelName(validating: channel) else {
                error("'\(channel)' is not a valid channel name")
                return []
            }
            if let existing = index(of: .channel(name.key)) {
                select(existing)
                return []
            }
            switchOnJoin.insert(name.key)
            if connection != .connected { info("not connected: \(name.name) will be joined once connected") }
            return [.session(.join(name.name))]
        case .part(let channel, let reason):
            if channel == nil, activeBuffer.channelName == nil { return close(reason: reason) }
            guard let name = channel ?? activeBuffer.channelName else { return [] }
            return [.session(.part(name, reason: reason))]
        case .close(let reason):
            return close(reason: reason)
        case .msg(let target, let text):
            if target.hasPrefix("#") { return send(text, toChannel: target) }
            guard Nick.problem(with: target) == nil else {
                error("'\(target)' is not a valid nick")
                return []
            }
            // The conversation opens when the server takes the message, not before: a nick that is not there
            // leaves no empty conversation behind.
            if let index = index(of: .direct(Self.key(target))) {
                select(index)
            } else {
                switchOnDirect.insert(Self.key(target))
            }
            return send(text, toNick: target)
        case .query(let target, let text):
            guard Nick.problem(with: target) == nil else {
                error("'\(target)' is not a valid nick")
                return []
            }
            select(index(of: .direct(Self.key(target)), create: target)!)
            return say(text)
        case .window(let number):
            selectEntry(number)
            return []
        case .me(let text):
            return say(text, action: true)
        case .nick(let new):
            if let problem = Nick.problem(with: new) {
                error("invalid nick: \(problem)")
                return []
            }
            return [.session(.nick(new))]
        case .topic(let text):
            guard let channel = activeBuffer.channelName else {
                error("/topic works in a channel")
                return []
            }
            guard let text else {
                let topic = activeBuffer.topic
                info(topic.isEmpty ? "\(channel) has no topic" : "topic of \(channel): \(topic)")
                return []
            }
            return request(.setTopic(channel: channel, topic: text), .setTopic(text))
        case .list: return request(.listChannels, .list)
        case .who(let named):
            let channel = named ?? activeBuffer.channelName ?? ""
            return request(.listClients(channel: channel), .who(channel: channel))
        case .whois(let target): return request(.whois(nick: target), .whois)
        case .servers: return request(.listServers, .servers)
        case .welcome(let text):
            if let text { return request(.setWelcome(text), .setWelcome) }
            return request(.getWelcome, .welcome)
        case .reverse(let text): return request(.reverse(text), .reverse)
        case .history(let count):
            guard activeBuffer.channelName != nil else {
                error("/history works in a channel")
                return []
            }
            buffers[active].hasOlder = true
            return fetchOlder(count: count)
        case .clear:
            buffers[active].clear()
            return []
        case .help:
            showHelp()
            return []
        case .quit(let reason):
            return quit(reason: reason)
        case .reconnect:
            switch connection {
            case .connected:
                info("reconnecting…")
                return [.session(.reconnect)]
            case .stopped:
                error("the session has ended: start tchat again")
            case .connecting, .reconnecting:
                info("not connected: reconnecting already")
            }
            return []
        case .mouse(let wanted):
            mouse = wanted ?? !mouse
            info(
                mouse
                    ? "the mouse is tchat's: the wheel scrolls, a click on the sidebar switches"
                    : "the mouse is the terminal's: select and copy as usual; /mouse takes it back")
            return [.mouse(mouse)]
        case .away(let text):
            do {
                try TextField.check(text, "away text", maxBytes: ProtocolLimits.maxAwayBytes)
            } catch {
                self.error(error.message)
                return []
            }
            return [.session(.setAway(text))]
        case .ignore(let target):
            guard let target else {
                info(ignored.isEmpty ? "you ignore no one" : "you ignore: \(ignored.joined(separator: " "))")
                return []
            }
            guard Nick.problem(with: target) == nil else {
                error("'\(target)' is not a valid nick")
                return []
            }
            guard !isIgnored(target) else {
                info("you ignore \(target) already")
                return []
            }
            guard !isOwn(target) else {
                error("that is you")
                return []
            }
            ignored.append(target.lowercased())
            info("ignoring \(target): their lines are not shown; /unignore \(target) shows them again")
            return [.saveIgnored(ignored)]
        case .unignore(let target):
            guard isIgnored(target) else {
                error("you do not ignore \(target)")
                return []
            }
            ignored.removeAll { Nick.key(for: $0) == Nick.key(for: target) }
            info("\(target) is shown again")
            return [.saveIgnored(ignored)]
        case .register, .login, .changePassword, .unregister:
            startAccountCommand(command)
            return []
        case .joinKeyed, .mode, .op, .voice, .kick, .ban, .invite, .kill, .serverBan, .serverUnban, .closeChannel:
            return runChannelCommand(command)
        }
    }

    /// `/close`: a channel is left (its entry goes when the server says so); a conversation or the help closes.
    private mutating func close(reason: String) -> [Effect] {
        switch activeBuffer.kind {
        case .channel:
            return [.session(.part(activeBuffer.name, reason: reason))]
        case .direct, .help:
            remove(active)
            return []
        case .status:
            error("the status buffer stays open; /quit leaves tchat")
            return []
        }
    }

    mutating func request(_ frame: ClientFrame, _ purpose: RequestPurpose) -> [Effect] {
        let tag = requests.register(purpose, in: activeBuffer.kind)
        return [.session(.request(frame, tag: tag))]
    }

    mutating func quit(reason: String) -> [Effect] {
        [.session(.quit(reason: reason)), .quit]
    }

    private mutating func showHelp() {
        let index = index(of: .help, create: "help")!
        select(index)
        guard buffers[index].lines.isEmpty else { return }
        for line in HelpText.lines {
            buffers[index].append(Line(time: .now(), kind: .text(line.text, indent: line.indent)))
        }
        // The help reads from the top.
        buffers[index].scroll = window.maximumScroll
    }
}
