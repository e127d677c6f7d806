import TChatIRC
import TChatProtocol

/// The tchat server's answers to the requests IRC commands became, told as IRC replies.
extension IRCConversation {
    /// One frame from the tchat side: an answer (its request id) or an event (id 0).
    mutating func receive(_ frame: ServerFrame, requestID: UInt32) {
        guard phase != .closing || requestID != 0 else { return }
        guard requestID != 0 else {
            event(frame)
            return
        }
        guard var request = pending[requestID] else { return }
        switch frame {
        case .ok:
            pending[requestID] = nil
            completed(request)
        case .error(let error):
            pending[requestID] = nil
            failed(request, error)
        case .pong:
            // PONG is PING's whole answer; it comes in order after the answers to what was sent before it.
            pending[requestID] = nil
            if case .ping(let token) = request.kind {
                send(IRCMessage(source: facts.serverName, "PONG", [facts.serverName, token]))
            }
        default:
            result(frame, &request)
            pending[requestID] = request
        }
    }

    private mutating func result(_ frame: ServerFrame, _ request: inout IRCPendingRequest) {
        switch (frame, request.kind) {
        case (.welcome(let welcome), .hello):
            request.welcome = welcome
        case (.authData(let data), .login):
            loginData(data)
        case (.loggedIn(let name), _):
            account = name
        case (.message(let message), .history), (.message(let message), .historySeek):
            request.messages.append(message)
        case (.channelInfo(let info), .join):
            request.channelInfo = info
        case (.channelInfo(let info), .topicQuery(let channel)) where info.name.lowercased() == channel.lowercased():
            request.found = true
            var shown = IRCJoinedChannel(name: info.name)
            (shown.topic, shown.topicSetBy, shown.topicSetAt) = (info.topic, info.topicSetBy, info.topicSetAt)
            sendTopic(of: shown, always: true)
        case (.channelInfo(let info), .list(let only)):
            if only == nil || only!.contains(info.name.lowercased()) {
                numeric(.list, info.name, String(info.members), info.topic)
            }
        case (.serverInfo(let info), .lusers), (.serverInfo(let info), .links):
            request.servers.append(info)
        case (.clientInfo(let info), .names):
            request.members.append(info.nick)
        case (.clientInfo(let info), .who):
            request.whoEntries.append(IRCWhoQuery.Entry(info: info))
        case (.awayChanged(let nick, let text, _), .who) where request.whoEntries.last?.info.nick == nick:
            request.whoEntries[request.whoEntries.count - 1].away = text.isEmpty ? nil : text
        case (.accountChanged(let nick, let account, _), .who) where request.whoEntries.last?.info.nick == nick:
            request.whoEntries[request.whoEntries.count - 1].account = account.isEmpty ? nil : account
        case (.clientInfo(let info), .whois), (.clientInfo(let info), .whoNick), (.clientInfo(let info), .lookup):
            request.clientInfo = info
        case (.text(let text), .whois) where text.hasPrefix("away: "),
            (.text(let text), .whoNick) where text.hasPrefix("away: "),
            (.text(let text), .lookup) where text.hasPrefix("away: "):
            request.awayText = String(text.dropFirst("away: ".count))
        case (.text(let text), .whois) where text.hasPrefix("account: "),
            (.text(let text), .whoNick) where text.hasPrefix("account: "),
            (.text(let text), .lookup) where text.hasPrefix("account: "):
            request.accountName = String(text.dropFirst("account: ".count))
        case (.channelModes(let channel, _, let operators, let voiced, _), .namesModes):
            if var joined = channels[channel.lowercased()] {
                joined.operators = Set(operators.split(separator: " ").map { Nick.key(for: String($0)) })
                joined.voiced = Set(voiced.split(separator: " ").map { Nick.key(for: String($0)) })
                channels[channel.lowercased()] = joined
            }
        case (.channelModes(let channel, let modes, _, _, _), .modeQuery):
            numeric(.channelModeIs, parameters: [channel] + modes.split(separator: " ").map(String.init))
        case (.channelModes(let channel, _, _, _, let bans), .banList):
            for ban in bans.split(separator: " ") {
                numeric(.banList, channel, ircBan(String(ban)))
            }
        case (.text(let text), _), (.notice(let text), _):
            notice(text)
        default:
            break  // SENT, a replay's MESSAGE frames (JOIN asks for none), REDIRECT: nothing IRC shows
        }
    }

    private mutating func completed(_ request: IRCPendingRequest) {
        let me = Self.mask(currentNick)
        switch request.kind {
        case .lusers:
            sendUserCounts(request.servers)
        case .links:
            sendLinks(request.servers)
        case .hello:
            if let welcome = request.welcome { self.welcome(welcome, text: welcome.welcomeText) }
            readHeldLines()
        case .login(let final):
            loginStepDone(final: final)
        case .join:
            guard let info = request.channelInfo else { return }
            joinedChannel(info)
        case .namesModes(let channel, _):
            self.request(.listClients(channel: channel), .names(channel: channel))
        case .names(let channel):
            sendNames(of: channel, members: request.members)
        case .part(let channel, let reason):
            let shown = channels.removeValue(forKey: channel.lowercased())?.name ?? channel
            send(IRCMessage(source: me, "PART", reason.isEmpty ? [shown] : [shown, reason]))
        case .message(let target, let text, let isNotice) where !target.hasPrefix("#"):
            if capabilities.contains(.echoMessage) {
                // As a message from this client to the target, a multiline batch's text whole.
                deliver(
                    from: currentNick, to: target, body: Self.body(of: text, isNotice: isNotice), time: facts.now(),
                    messageID: nil)
            }
        case .message:
            break  // a channel's: its copy, with echo-message, is the echo
        case .setTopic(let channel, let topic):
            let key = channel.lowercased()
            let (setter, now) = (currentNick, facts.now())
            channels[key]?.topic = topic
            channels[key]?.topicSetBy = setter
            channels[key]?.topicSetAt = now
            send(IRCMessage(source: me, "TOPIC", [channels[key]?.name ?? channel, topic]))
        case .topicQuery(let channel):
            if !request.found { numeric(.noTopic, channel, "No topic is set") }
        case .list:
            numeric(.listEnd, "End of /LIST")
        case .who(let mask, let query):
            let joined = channels[mask.lowercased()]
            for entry in request.whoEntries where !query.operatorsOnly {
                let prefix = joined?.prefix(of: entry.info.nick, all: capabilities.contains(.multiPrefix)) ?? ""
                whoReply(entry, channel: joined?.name ?? mask, prefix: prefix, query: query)
            }
            numeric(.endOfWho, mask, "End of /WHO list.")
        case .lookup(let group, let index):
            lookupAnswered(
                group: group, index: index, nick: request.clientInfo?.nick, away: request.awayText != nil)
        case .whoNick(let nick, let query):
            if let info = request.clientInfo, !query.operatorsOnly {
                let entry = IRCWhoQuery.Entry(info: info, away: request.awayText, account: request.accountName)
                whoReply(entry, channel: "*", prefix: "", query: query)
            }
            numeric(.endOfWho, nick, "End of /WHO list.")
        case .whois(let nick):
            if let info = request.clientInfo {
                numeric(.whoisUser, info.nick, info.nick, Self.userHost, "*", Self.realName(of: info))
                numeric(.whoisServer, info.nick, info.server, "a tchat server")
                if let account = request.accountName { numeric(.whoisAccount, info.nick, account, "is logged in as") }
                if let away = request.awayText { numeric(.away, info.nick, away) }
            }
            numeric(.endOfWhois, nick, "End of /WHOIS list.")
        case .banList(let channel):
            numeric(.endOfBanList, channel, "End of channel ban list")
        case .modeQuery, .modeChange, .kick, .kill:
            break  // MODE_CHANGED, KICKED and QUITTED tell everyone
        case .invite(let nick, let channel):
            numeric(.inviting, nick, channel)
        case .away(let text):
            if text.isEmpty {
                numeric(.unaway, "You are no longer marked as being away")
            } else {
                numeric(.nowAway, "You have been marked as being away")
            }
        case .nick(let new):
            let old = currentNick
            nick = new
            send(IRCMessage(source: Self.mask(old), "NICK", [new]))
        case .quit(let reason):
            closeLink("Quit: \(reason)")
        case .history(let target, let after, let limit):
            sendHistory(target: target, after: after, limit: limit, messages: request.messages)
        case .historySeek(let target, var lookup):
            lookup.take(request.messages.last)
            askHistory(lookup, of: target)
        case .ping:
            break
        }
    }

    /// JOIN's answer: the JOIN line, the topic, then NAMES.
    mutating func joinedChannel(_ info: ChannelInfo) {
        var joined = channels[info.name.lowercased()] ?? IRCJoinedChannel(name: info.name)
        (joined.topic, joined.topicSetBy, joined.topicSetAt) = (info.topic, info.topicSetBy, info.topicSetAt)
        channels[info.name.lowercased()] = joined
        send(IRCMessage(source: Self.mask(currentNick), "JOIN", joinParameters(info.name, account: account ?? "")))
        sendTopic(of: joined, always: false)
        askNames(of: info.name, afterJoin: true)
    }
}
