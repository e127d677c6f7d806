import NIOCore
import Synchronization
public import TChatProtocol

/// What a user interface asks of a session.
public enum SessionCommand: Sendable, Equatable {
    case join(String)
    /// Joins a channel that has a key; the key is used again on every rejoin.
    case joinKeyed(String, key: String)
    case part(String, reason: String)
    case send(channel: String, body: MessageBody)
    case sendDirect(nick: String, body: MessageBody)
    /// Older messages of a channel, before message `before`; answered by `.history` with `tag`.
    case history(channel: String, before: UInt64, limit: UInt16, tag: UInt64)
    /// Any other request; answered by `.reply` with `tag`.
    case request(ClientFrame, tag: UInt64)
    case nick(String)
    case quit(reason: String)
    /// Logs in (SCRAM-SHA-256); the session logs in again with these on every reconnection.
    case login(Credentials)
    /// Makes the session's nick an account with this password, and logs in to it.
    case register(password: String)
    case setPassword(old: String, new: String)
    case dropAccount(password: String)
    /// Ends the connection now and makes a new one (after the usual short back-off), rejoining as always.
    case reconnect
    /// Marks the nick away (empty: back); said again on every reconnection.
    case setAway(String)

    /// The command without its passwords, as failures pass it back to be shown or logged.
    public var redacted: SessionCommand {
        switch self {
        case .login(let credentials): .login(Credentials(account: credentials.account, password: ""))
        case .register: .register(password: "")
        case .setPassword: .setPassword(old: "", new: "")
        case .dropAccount: .dropAccount(password: "")
        default: self
        }
    }
}

/// What a session tells its user interface, in order.
public enum SessionEvent: Sendable, Equatable {
    case connecting(ServerAddress, attempt: Int)
    case connected(Welcome)
    /// The connection was lost or could not be made; `retryIn` is nil when the session has stopped.
    case disconnected(reason: String, retryIn: Duration?)
    /// A channel was joined (again): its description and the messages to show, none already delivered.
    case joined(ChannelInfo, replay: [ChatMessage])
    case parted(String)
    /// A live event from the server; channel messages already delivered are never passed on twice.
    case event(ServerFrame)
    /// Older messages asked for with `.history`, or filling a gap after a reconnection (tag 0).
    case history(channel: String, messages: [ChatMessage], tag: UInt64)
    case reply(tag: UInt64, frames: [ServerFrame])
    /// A command failed: the command (without passwords: `redacted`) and the server's or the session's reason.
    /// The command, not prose, says which request it was, so an interface finds the buffer it came from.
    case failed(SessionCommand, ProtocolError)
    /// The server took a direct message (it is not echoed back, so this is when to show it as sent); `away` is
    /// what the server said of a recipient who is away ("bob is away: lunch"), else empty.
    case directSent(to: String, body: MessageBody, away: String = "")
    /// The server took an away text (empty: back).
    case awayChanged(String)
    case nickChanged(String)
    /// The session is logged in to this account (after `login` or `register`).
    case loggedIn(account: String)
    /// An account request succeeded: what to tell the user.
    case accountChanged(String)
}

/// A session with a server that survives losing it: it reconnects with back-off, rejoins every channel and fills
/// the gap from history, so that the interface sees each channel message exactly once, in order.
///
/// Commands are taken in the order `submit` is called and written in that order. Events go to `onEvent` from
/// whichever thread learns them; they are emitted in the order they happened for each connection.
public final class ChatSession: Sendable {
    private struct State {
        var connection: ChatConnection?
        var nick: String
        /// Channels to be in, in the order joined (by key), with the name to show.
        var channels: [(key: String, name: String)] = []
        /// The newest message id delivered per channel key: anything not newer is a repeat.
        var newest: [String: UInt64] = [:]
        var stopped = false
        /// Servers to try, learnt from the network's server list: when one is lost the next is tried.
        var servers: [ServerAddress] = []
        var next = 0
        /// What the session logs in with on each connection: the options' at first, then the latest login's.
        var credentials: Credentials?
        /// Channel keys by channel key, for rejoining keyed channels.
        var keys: [String: String] = [:]
        /// The nick a NICK sent and not yet answered asks for: events naming it may come before the answer.
        var requestedNick: String?

        /// The nick before the last NICK answered: events naming it may be read after the answer.
        var formerNick: String?
        /// The away text to say again on each connection; empty when not away.
        var away = ""

        /// Whether `nick` is this session's (as it is, was just before, or is about to be).
        func isOwn(_ nick: String) -> Bool {
            let key = Nick.key(for: nick)
            return [self.nick, requestedNick, formerNick].contains { $0.map { Nick.key(for: $0) == key } == true }
        }

        func tracks(_ channel: ChannelName) -> Bool { channels.contains { $0.key == channel.key } }
    }

    public let options: ConnectOptions
    /// Messages replayed on a first join.
    public let initialHistory: UInt16
    /// The delays between reconnection attempts.
    public let backoff: Backoff
    private let state: Mutex<State>
    private let onEvent: @Sendable (SessionEvent) -> Void
    private let commands: AsyncStream<SessionCommand>
    private let commandInput: AsyncStream<SessionCommand>.Continuation

    public init(
        options: ConnectOptions, channels: [String] = [], initialHistory: UInt16 = 50, backoff: Backoff = Backoff(),
        onEvent: @escaping @Sendable (SessionEvent) -> Void
    ) {
        self.options = options
        self.initialHistory = initialHistory
        self.backoff = backoff
        self.onEvent = onEvent
        var initial = State(nick: options.nick)
        initial.servers = [options.server]
        initial.credentials = options.credentials
        for channel in channels {
            guard let name = try? ChannelName(validating: channel),
                !initial.channels.contains(where: { $0.key == name.key })
            else { continue }
            initial.channels.append((name.key, name.name))
        }
        state = Mutex(initial)
        (commands, commandInput) = AsyncStream.makeStream(of: SessionCommand.self, bufferingPolicy: .unbounded)
    }

    /// Queues a command; it is carried out in order, once connected (commands while disconnected fail at once
    /// with a `failed` event rather than waiting unseen).
    public func submit(_ command: SessionCommand) {
        commandInput.yield(command)
    }

    /// Connects and keeps the session up until `quit` or `stop`. Returns when the session has stopped.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.connectionLoop() }
            group.addTask { await self.commandLoop() }
            await group.next()
            group.cancelAll()
        }
    }

    public func stop() {
        let connection = state.withLock { state -> ChatConnection? in
            state.stopped = true
            return state.connection
        }
        commandInput.finish()
        if let connection { Task { await connection.close() } }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Whether a connection is open (a quit waits for it to close).
    public var isRunning: Bool { state.withLock { $0.connection != nil } }

    /// The latest keep-alive round trip of the current connection, for a lag display.
    public var lag: Duration? { state.withLock { $0.connection }?.roundTrip.latest }

    // MARK: - Connecting

    private func connectionLoop() async {
        var backoff = self.backoff
        var attempt = 0
        while !isStopped {
            attempt += 1
            var attemptOptions = options
            (attemptOptions.nick, attemptOptions.server, attemptOptions.credentials) = state.withLock { state in
                defer { state.next += 1 }
                return (state.nick, state.servers[state.next % state.servers.count], state.credentials)
            }
            onEvent(.connecting(attemptOptions.server, attempt: attempt))
            let reason: String
            do {
                let connection = try await ChatConnection.connect(attemptOptions)
                backoff.reset()
                attempt = 0
                reason = await serve(connection, loggedInWith: attemptOptions.credentials)
            } catch let error as ProtocolError
                where error.code == .loginFailed && attemptOptions.credentials != nil && !isStopped
            {
                // The account was dropped, or its password changed, while we were away: the same login would fail
                // on every reconnection.
                state.withLock { if $0.credentials == attemptOptions.credentials { $0.credentials = nil } }
                reason = "\(error.message); reconnecting without logging in (/login to log in again)"
            } catch let error as ProtocolError where error.code == .nickInUse && attempt == 1 && !isStopped {
                // Our previous connection may still hold the nick until the server notices it is gone.
                state.withLock { $0.nick += "_" }
                reason = "\(error.message); trying \(state.withLock { $0.nick })"
            } catch let error as ProtocolError where error.code == .nickRegistered && !isStopped {
                // Someone's account: connect under another nick, from which /login can take it back.
                state.withLock { $0.nick = String($0.nick.prefix(ProtocolLimits.maxNickLength - 1)) + "_" }
                reason = "\(error.message); trying \(state.withLock { $0.nick })"
            } catch let error as ProtocolError {
                reason = error.message
            } catch {
                reason = "\(error)"
            }
            state.withLock { $0.connection = nil }
            if isStopped {
                onEvent(.disconnected(reason: reason, retryIn: nil))
                return
            }
            let delay = backoff.next()
            onEvent(.disconnected(reason: reason, retryIn: delay))
            try? await Task.sleep(for: delay)
        }
    }

    /// Runs one connection: rejoins, then passes events on until it ends. Returns why it ended.
    private func serve(_ connection: ChatConnection, loggedInWith credentials: Credentials?) async -> String {
        let nick = connection.welcome.nick
        let stopped = state.withLock { state -> Bool in
            state.connection = connection
            state.nick = nick
            state.formerNick = nil
            // Start the next round of attempts with the server after this one.
            if let index = state.servers.firstIndex(of: connection.server) {
                state.next = index + 1
            } else {
                state.servers.append(connection.server)
                state.next = state.servers.count
            }
            return state.stopped
        }
        if stopped {
            await connection.close()
            return "stopped"
        }
        onEvent(.connected(connection.welcome))
        await learnServers(from: connection)
        // Away before the channels, so whoever writes at once is told.
        let away = state.withLock { $0.away }
        if !away.isEmpty { _ = try? await connection.request(.setAway(away)) }
        await rejoin(on: connection)
        for await event in connection.events {
            // What names the nick we had comes just before the answer to our NICK (PARTED of its channels, when the
            // new nick is one our account's sessions share); anything else ends that.
            if case .parted = event {} else { state.withLock { $0.formerNick = nil } }
            switch event {
            case .message(let message):
                guard deliverable(message) else { continue }
                onEvent(.event(event))
            case .error(let error):
                return error.message
            case .kicked(let channel, let who, _, _, _)
            where Nick.key(for: who) == Nick.key(for: state.withLock({ $0.nick })):
                // Put out: not rejoined on the next connection.
                if let name = try? ChannelName(validating: channel) {
                    state.withLock { state in
                        state.channels.removeAll { $0.key == name.key }
                        state.newest[name.key] = nil
                    }
                }
                onEvent(.event(event))
            case .joined(let channel, let who, _) where state.withLock({ $0.isOwn(who) }):
                // Another session sharing our nick (our account's, elsewhere) joined a channel, and so have we: joined
                // like any other, for its history and members. One we are in already (a reconnection) is no news.
                if let name = try? ChannelName(validating: channel),
                    state.withLock({ state in
                        guard !state.tracks(name) else { return false }
                        state.channels.append((name.key, name.name))
                        return true
                    })
                {
                    Task { await join(name.name, history: initialHistory, on: connection, since: 0) }
                }
            case .parted(let channel, let who, _, _) where state.withLock({ $0.isOwn(who) }):
                // Left by another session sharing our nick, or by our own nick change onto theirs.
                if let name = try? ChannelName(validating: channel),
                    state.withLock({ state in
                        guard state.tracks(name) else { return false }
                        state.channels.removeAll { $0.key == name.key }
                        state.newest[name.key] = nil
                        state.keys[name.key] = nil
                        return true
                    })
                {
                    onEvent(.parted(name.name))
                }
            case .loggedIn(let account) where account.isEmpty:
                // Our account was dropped (by us, another of its sessions, an operator, or on another server): logged
                // out, and not logging in with it again on reconnecting. Events are read after the replies, so
                // credentials a /login took since this connection began are another account's, and are kept.
                state.withLock { if $0.credentials == credentials { $0.credentials = nil } }
                onEvent(.event(event))
            case .nickChanged(let old, let new, _):
                // The server renamed us (a nick collision between linked servers): keep the new nick for reconnects.
                state.withLock { state in if state.nick.lowercased() == old.lowercased() { state.nick = new } }
                onEvent(.event(event))
            default:
                onEvent(.event(event))
            }
        }
        return "the connection was closed"
    }

    /// Remembers where the network's other servers take clients, to fail over to them: over TLS only TLS ports
    /// (a TLS session never fails over to plaintext), over plaintext only plaintext ones.
    private func learnServers(from connection: ChatConnection) async {
        guard let frames = try? await connection.request(.listServers) else { return }
        let overTLS = options.server.usesTLS
        let addresses = frames.compactMap { frame -> ServerAddress? in
            guard case .serverInfo(let info) = frame, !info.clientAddress.isEmpty,
                let address = try? ServerAddress(
                    parsing: info.clientAddress, defaultPort: ServerAddress.defaultClientPort, allowingTLS: true),
                address.usesTLS == overTLS
            else { return nil }
            return address
        }
        state.withLock { state in
            for address in addresses where !state.servers.contains(address) { state.servers.append(address) }
        }
    }

    /// The servers this session knows of, in the order it tries them.
    public var knownServers: [ServerAddress] { state.withLock { $0.servers } }

    /// Joins every channel the session should be in, asking each for exactly what was missed.
    private func rejoin(on connection: ChatConnection) async {
        let (channels, newest, keys) = state.withLock { ($0.channels, $0.newest, $0.keys) }
        guard !channels.isEmpty else { return }
        var lastIDs: [String: UInt64] = [:]
        if let frames = try? await connection.request(.listChannels) {
            for case .channelInfo(let info) in frames {
                lastIDs[info.name.lowercased()] = info.lastMessageID
            }
        }
        for (key, name) in channels {
            let seen = newest[key] ?? 0
            var history = initialHistory
            if seen > 0 {
                let missed = (lastIDs[key] ?? seen) > seen ? (lastIDs[key] ?? seen) - seen : 0
                history = UInt16(min(missed, UInt64(ProtocolLimits.maxHistoryRequest)))
            }
            await join(name, history: history, key: keys[key] ?? "", on: connection, since: seen)
        }
    }

    private func join(
        _ channel: String, history: UInt16, key: String = "", on connection: ChatConnection, since seen: UInt64
    ) async {
        do {
            let (info, replay) = try await connection.join(channel, history: history, key: key)
            let fresh = replay.filter { deliverable($0) }
            onEvent(.joined(info, replay: fresh))
            // A gap longer than one replay: page back until it is closed.
            var before = replay.first?.id ?? 0
            while seen > 0, before > seen + 1 {
                let limit = UInt16(min(before - seen - 1, UInt64(ProtocolLimits.maxHistoryRequest)))
                let older = try await connection.history(info.name, before: before, limit: limit)
                let missing = older.filter { $0.id > seen }
                guard !missing.isEmpty else { break }
                onEvent(.history(channel: info.name, messages: missing, tag: 0))
                before = older.first?.id ?? 0
            }
        } catch let error as ProtocolError {
            onEvent(.failed(.join(channel), error))
        } catch {
            onEvent(.failed(.join(channel), ProtocolError(.internalError, "\(error)")))
        }
    }

    /// Records a channel message as delivered; false if it (or a newer one) already was.
    private func deliverable(_ message: ChatMessage) -> Bool {
        let key = message.channel.lowercased()
        return state.withLock { state in
            if let newest = state.newest[key], message.id <= newest { return false }
            state.newest[key] = message.id
            return true
        }
    }

    // MARK: - Commands

    private func commandLoop() async {
        for await command in commands {
            perform(command)
            if case .quit = command { return }
        }
    }

    private func perform(_ command: SessionCommand) {
        let connection = state.withLock { $0.connection }
        if case .join(let channel) = command, let name = try? ChannelName(validating: channel) {
            state.withLock { state in
                if !state.channels.contains(where: { $0.key == name.key }) {
                    state.channels.append((name.key, name.name))
                }
            }
        }
        if case .joinKeyed(let channel, let key) = command, let name = try? ChannelName(validating: channel) {
            state.withLock { state in
                if !state.channels.contains(where: { $0.key == name.key }) {
                    state.channels.append((name.key, name.name))
                }
                state.keys[name.key] = key
            }
        }
        if case .part(let channel, _) = command, let name = try? ChannelName(validating: channel) {
            state.withLock { state in
                state.channels.removeAll { $0.key == name.key }
                state.newest[name.key] = nil
                state.keys[name.key] = nil
            }
        }
        if case .quit(let reason) = command {
            state.withLock { $0.stopped = true }
            commandInput.finish()
            if let connection { Task { await connection.quit(reason: reason) } }
            return
        }
        guard let connection else {
            if case .join = command { return }  // joined on connecting
            if case .joinKeyed = command { return }
            if case .reconnect = command { return }  // reconnecting already
            if case .setAway(let text) = command {
                state.withLock { $0.away = text }  // said on connecting
                onEvent(.awayChanged(text))
                return
            }
            if case .part(let channel, _) = command {
                onEvent(.parted(channel))
                return
            }
            onEvent(.failed(command.redacted, ProtocolError(.internalError, "not connected; nothing was sent")))
            return
        }
        switch command {
        case .join(let channel), .joinKeyed(let channel, _):
            // Written now, in order with the commands around it; nothing was seen yet, so no gap to fill.
            let request: ClientFrame =
                if case .joinKeyed(_, let key) = command {
                    .joinKeyed(channel: channel, key: key, history: initialHistory)
                } else {
                    .join(channel: channel, history: initialHistory)
                }
            report(connection.submit(request), command) { [self] frames in
                guard case .channelInfo(let info) = frames.first else { return nil }
                let replay = frames.compactMap { if case .message(let m) = $0 { m } else { nil } }
                return .joined(info, replay: replay.filter { deliverable($0) })
            }
        case .part(let channel, let reason):
            report(connection.submit(.part(channel: channel, reason: reason)), command) { _ in .parted(channel) }
        case .send(let channel, let body):
            report(connection.submit(.send(channel: channel, body: body)), command) { _ in nil }
        case .sendDirect(let nick, let body):
            report(connection.submit(.sendDirect(nick: nick, body: body)), command) { frames in
                let away = frames.compactMap { if case .text(let text) = $0 { text } else { nil } }.first
                return .directSent(to: nick, body: body, away: away ?? "")
            }
        case .setAway(let text):
            // Kept to say again on reconnecting only once the server took it.
            report(connection.submit(.setAway(text)), command) { [self] _ in
                state.withLock { $0.away = text }
                return .awayChanged(text)
            }
        case .history(let channel, let before, let limit, let tag):
            report(connection.submit(.history(channel: channel, before: before, limit: limit)), command) { frames in
                .history(
                    channel: channel,
                    messages: frames.compactMap { if case .message(let m) = $0 { m } else { nil } }, tag: tag)
            }
        case .request(let frame, let tag):
            report(connection.submit(frame), command) { frames in .reply(tag: tag, frames: frames) }
        case .nick(let nick):
            state.withLock { $0.requestedNick = nick }
            let submitted = connection.submit(.nick(nick))
            report(submitted, command) { [self] _ in
                state.withLock { state in
                    state.formerNick = state.nick
                    state.nick = nick
                }
                return .nickChanged(nick)
            }
            submitted.whenComplete { [self] _ in state.withLock { $0.requestedNick = nil } }
        case .quit:
            break
        case .reconnect:
            // A goodbye first, so the server frees the nick before the next hello asks for it.
            Task { await connection.quit(reason: "reconnecting") }
        case .login(let credentials):
            let onEvent = self.onEvent
            Task { [self] in
                do {
                    let account = try await connection.login(credentials)
                    state.withLock { $0.credentials = credentials }
                    onEvent(.loggedIn(account: account))
                } catch {
                    onEvent(.failed(command.redacted, Self.protocolError(error)))
                }
            }
        case .register(let password):
            report(connection.submit(.register(password: password)), command) { [self] frames in
                for case .loggedIn(let account) in frames {
                    state.withLock { $0.credentials = Credentials(account: account, password: password) }
                    return .loggedIn(account: account)
                }
                return nil
            }
        case .setPassword(let old, let new):
            report(connection.submit(.setPassword(old: old, new: new)), command) { [self] _ in
                state.withLock { $0.credentials?.password = new }
                return .accountChanged("password changed")
            }
        case .dropAccount(let password):
            report(connection.submit(.dropAccount(password: password)), command) { [self] _ in
                state.withLock { $0.credentials = nil }
                return .accountChanged("account dropped: your nick is free for anyone now")
            }
        }
    }

    static func protocolError(_ error: any Error) -> ProtocolError {
        if let error = error as? ProtocolError { return error }
        return ProtocolError(.internalError, "\(error)")
    }

    private func report(
        _ reply: EventLoopFuture<[ServerFrame]>, _ command: SessionCommand,
        success: @escaping @Sendable ([ServerFrame]) -> SessionEvent?
    ) {
        let onEvent = self.onEvent
        reply.whenComplete { result in
            switch result {
            case .success(let frames):
                if let event = success(frames) { onEvent(event) }
            case .failure(let error as ProtocolError):
                onEvent(.failed(command.redacted, error))
            case .failure(let error):
                onEvent(.failed(command.redacted, ProtocolError(.internalError, "\(error)")))
            }
        }
    }

    /// A command in a few words, for failure messages.
    public static func describe(_ command: SessionCommand) -> String {
        switch command {
        case .join(let channel), .joinKeyed(let channel, _): "join \(channel)"
        case .part(let channel, _): "part \(channel)"
        case .send(let channel, _): "message to \(channel)"
        case .sendDirect(let nick, _): "message to \(nick)"
        case .history(let channel, _, _, _): "history of \(channel)"
        case .request(let frame, _): frame.type.description.lowercased()
        case .nick(let nick): "nick \(nick)"
        case .quit: "quit"
        // Never a password: these words are shown and may be logged.
        case .login(let credentials): "login to \(credentials.account)"
        case .register: "register"
        case .setPassword: "password change"
        case .dropAccount: "dropping the account"
        case .reconnect: "reconnect"
        case .setAway(let text): text.isEmpty ? "coming back" : "going away"
        }
    }
}
