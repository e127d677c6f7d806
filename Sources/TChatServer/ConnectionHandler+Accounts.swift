import Foundation
import NIOCore
import TChatAuth
import TChatProtocol

/// Registering, logging in, and what belongs to an account. Every answer that needs a password hashed or the store
/// written comes back later, from the accounts' own thread pool; one such request runs at a time per connection.
extension ConnectionHandler {
    /// The mechanisms LOGIN accepts, as the error for an unknown one lists them.
    static let scramMechanism = "SCRAM-SHA-256"
    static let plainMechanism = "PLAIN"

    /// Handles an account request; true when it is answered later (the caller then sends no OK).
    func handleAccountRequest(
        _ frame: ClientFrame, requestID id: UInt32, session: ClientSession?, context: ChannelHandlerContext
    ) throws -> Bool {
        guard let book = server.clients.accounts else {
            throw ProtocolError(.invalidArgument, "this server has no accounts (--registration off)")
        }
        guard !accountRequestRunning else {
            throw ProtocolError(.invalidArgument, "an account request is still running; wait for its answer")
        }
        switch frame {
        case .login(let mechanism, let data):
            return try startLogin(mechanism: mechanism, data: data, book: book, requestID: id, context: context)
        case .loginContinue(let data):
            try continueLogin(data: data, book: book, requestID: id)
            return false
        case .register(let password):
            guard let session else { return false }
            try register(password: password, book: book, session: session, requestID: id, context: context)
            return true
        case .setPassword(let old, let new):
            guard let session else { return false }
            let key = try loggedIn(session, book: book)
            try requireSecureTransport()
            try AccountBook.checkPassword(old)
            try AccountBook.checkNewPassword(new)
            try checkThrottle(key, book: book)
            runAccountWork(book.changePassword(key: key, old: old, new: new, on: context.eventLoop), id, context) {
                [address = ipAddress] result in
                if case .failure(let error as ProtocolError) = result, error.code == .loginFailed {
                    book.loginFailed(account: key, address: address)
                }
                try result.get()
                return [.ok]
            }
            return true
        case .dropAccount(let password):
            guard let session else { return false }
            let key = try loggedIn(session, book: book)
            try requireSecureTransport()
            try AccountBook.checkPassword(password)
            try checkThrottle(key, book: book)
            runAccountWork(book.drop(key: key, password: password, on: context.eventLoop), id, context) {
                [address = ipAddress, logger] result in
                switch result {
                case .success:
                    logger.notice("account dropped", metadata: ["account": "\(key)"])  // the book told everyone
                case .failure(let error as ProtocolError) where error.code == .loginFailed:
                    book.loginFailed(account: key, address: address)
                case .failure:
                    break
                }
                try result.get()
                return [.ok]
            }
            return true
        default:
            return false
        }
    }

    // MARK: - Logging in

    private func startLogin(
        mechanism: String, data: String, book: AccountBook, requestID id: UInt32, context: ChannelHandlerContext
    ) throws -> Bool {
        let isLoggedIn = welcomedSession.map { server.clients.account(of: $0) != nil } ?? (loginAccount != nil)
        guard !isLoggedIn else { throw ProtocolError(.invalidArgument, "this session is logged in already") }
        guard data.utf8.count <= ProtocolLimits.maxAuthDataBytes else {
            throw ProtocolError(.fieldTooLong, "login data is at most \(ProtocolLimits.maxAuthDataBytes) bytes")
        }
        scramLogin = nil
        switch mechanism {
        case Self.scramMechanism:
            var scram = ScramServer()
            let account: String
            do {
                account = try scram.receiveClientFirst(data)
            } catch {
                throw ProtocolError(.loginFailed, "the SCRAM client-first message was refused: \(error)")
            }
            let key = Nick.key(for: account)
            try checkThrottle(key, book: book)
            let (keys, decoy) = book.scramKeys(forKey: key)
            let first: String
            do {
                first = try scram.serverFirst(keys: keys, decoy: decoy, serverNonce: RandomBytes.nonce())
            } catch {
                throw ProtocolError(.loginFailed, "the SCRAM exchange failed: \(error)")
            }
            scramLogin = ScramLogin(exchange: scram, account: key, keys: keys, started: .now())
            reply(.authData(first), to: id)
            return false
        case Self.plainMechanism:
            guard overTLS else {
                throw ProtocolError(
                    .insecureTransport,
                    "PLAIN sends the password itself and is accepted over TLS only; use SCRAM-SHA-256")
            }
            let parts = data.split(separator: "\0", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].isEmpty || parts[0] == parts[1], !parts[1].isEmpty else {
                throw ProtocolError(
                    .loginFailed, "PLAIN data is: an empty authorization id, NUL, account, NUL, password")
            }
            let key = Nick.key(for: String(parts[1]))
            let password = String(parts[2])
            try AccountBook.checkPassword(password)
            try checkThrottle(key, book: book)
            let verifying = book.verify(key: key, password: password, on: context.eventLoop)
            runAccountWork(verifying, id, context) { result in
                // A refusal as busy is no failed login: only a password checked and wrong counts.
                let checked = try result.get()
                // Guesses sent together all passed the first check: what the ones before them started, the answer
                // keeps to itself.
                try self.checkThrottle(key, book: book)
                guard let account = checked else {
                    book.loginFailed(account: key, address: self.ipAddress)
                    throw Self.loginRefusal
                }
                try self.completeLogin(account, book: book)
                return [.loggedIn(account: account.name), .ok]
            }
            return true
        default:
            throw ProtocolError(
                .invalidArgument,
                "unknown login mechanism; this server offers \(Self.scramMechanism)"
                    + (overTLS ? " and \(Self.plainMechanism)" : " (and \(Self.plainMechanism) over TLS)"))
        }
    }

    private func continueLogin(data: String, book: AccountBook, requestID id: UInt32) throws {
        guard let login = scramLogin else {
            throw ProtocolError(.invalidArgument, "no login is in progress: send LOGIN first")
        }
        scramLogin = nil
        guard data.utf8.count <= ProtocolLimits.maxAuthDataBytes else {
            throw ProtocolError(.fieldTooLong, "login data is at most \(ProtocolLimits.maxAuthDataBytes) bytes")
        }
        // An exchange is for a moment: one held open cannot be finished after the password changed or the account
        // was dropped and made again.
        guard Timestamp.now().milliseconds(since: login.started) <= Self.scramLifetime else {
            throw ProtocolError(.loginFailed, "the login took too long; start again with LOGIN")
        }
        // Asked again: exchanges held open while the count was low are checked one wait at a time, as new ones are.
        try checkThrottle(login.account, book: book)
        var scram = login.exchange
        let final: String
        do {
            final = try scram.receiveClientFinal(data)
        } catch {
            book.loginFailed(account: login.account, address: ipAddress)
            logger.notice("login failed", metadata: ["account": "\(login.account)", "address": "\(address)"])
            throw Self.loginRefusal
        }
        guard let account = book.account(forKey: login.account), account.scram == login.keys else {
            throw Self.loginRefusal
        }
        try completeLogin(account, book: book)
        reply(.authData(final), to: id)
        reply(.loggedIn(account: account.name), to: id)
    }

    /// How long a SCRAM exchange may stay between its two steps, in milliseconds.
    static let scramLifetime: UInt64 = 30_000

    /// The same words whether the account exists or not.
    static var loginRefusal: ProtocolError {
        ProtocolError(.loginFailed, "the account or the password is wrong")
    }

    private func completeLogin(_ account: Account, book: AccountBook) throws(ProtocolError) {
        // The password was checked against these keys: a change or a drop since then undoes the login, up to
        // the moment it is recorded (`RecentDrops`).
        let mark = server.clients.dropMark
        guard book.account(forKey: account.key)?.scram == account.scram else { throw Self.loginRefusal }
        book.loginSucceeded(account: account.key)
        if let ban = book.ban(forAccount: account.key) {
            throw ProtocolError(.serverBanned, "the account \(account.name) is banned from this server: \(ban.reason)")
        }
        if let session = welcomedSession {
            let loggedIn = ClientManager.LoggedIn(key: account.key, name: account.name)
            if let change = try server.clients.setAccount(loggedIn, for: session, checkedAt: mark) {
                server.channels.announceAccount(change)
            }
        } else {
            loginAccount = LoginProof(account: account.key, keys: account.scram)
        }
        logger.info("logged in", metadata: ["account": "\(account.name)", "address": "\(address)"])
    }

    // MARK: - Registering

    private func register(
        password: String, book: AccountBook, session: ClientSession, requestID id: UInt32,
        context: ChannelHandlerContext
    ) throws {
        guard book.policy == .open else {
            throw ProtocolError(
                .registrationClosed, "accounts are created by this server's operator (--registration closed)")
        }
        try requireSecureTransport()
        if let current = server.clients.account(of: session) {
            throw ProtocolError(.alreadyRegistered, "you are logged in to \(current) already")
        }
        guard let nick = server.clients.currentNick(of: session) else { return }
        try AccountBook.checkNewPassword(password)
        if book.isOperator(nick.key) {
            throw ProtocolError(
                .registrationClosed,
                "\(nick.name) is a server operator's name: its account is made with tchatd account add")
        }
        // Nobody takes every free nick in a loop: registrations from one address are slowed after five.
        if let wait = book.registrationWait(address: ipAddress) {
            throw ProtocolError(
                .loginThrottled, "too many registrations from your address; try again in \((wait + 999) / 1000) s")
        }
        book.registered(address: ipAddress)
        let (clients, channels) = (server.clients, server.channels)
        let mark = clients.dropMark
        runAccountWork(book.register(nick, password: password, on: context.eventLoop), id, context) {
            [logger, address] result in
            let account = try result.get()
            let loggedIn = ClientManager.LoggedIn(key: account.key, name: account.name)
            if let change = try clients.setAccount(loggedIn, for: session, checkedAt: mark) {
                channels.announceAccount(change)
            }
            logger.notice("account registered", metadata: ["account": "\(account.name)", "address": "\(address)"])
            return [.loggedIn(account: account.name), .ok]
        }
    }

    // MARK: - Welcome texts, when they belong to accounts

    func getWelcome(session: ClientSession, nick: Nick, requestID id: UInt32) throws {
        guard let book = server.clients.accounts else {
            reply(.text(server.clients.welcomeText(for: nick)), to: id)
            return
        }
        let key = try loggedIn(session, book: book)
        reply(.text(book.account(forKey: key)?.welcome ?? ""), to: id)
    }

    /// True when answered later.
    func setWelcome(
        _ text: String, session: ClientSession, nick: Nick, requestID id: UInt32, context: ChannelHandlerContext
    ) throws -> Bool {
        try TextField.check(text, "welcome text", maxBytes: ProtocolLimits.maxWelcomeBytes, allowNewlines: true)
        guard let book = server.clients.accounts else {
            server.clients.setWelcomeText(text, for: nick)
            return false
        }
        let key = try loggedIn(session, book: book)
        guard !accountRequestRunning else {
            throw ProtocolError(.invalidArgument, "an account request is still running; wait for its answer")
        }
        runAccountWork(book.setWelcome(text, key: key, on: context.eventLoop), id, context) { result in
            try result.get()
            return [.ok]
        }
        return true
    }

    // MARK: - Helpers

    private var welcomedSession: ClientSession? {
        if case .welcomed(let session, _) = phase { return session }
        return nil
    }

    private func loggedIn(_ session: ClientSession, book: AccountBook) throws(ProtocolError) -> String {
        guard let key = server.clients.account(of: session), book.account(forKey: key) != nil else {
            throw ProtocolError(.notLoggedIn, "log in first (LOGIN, or /login in tchat)")
        }
        return key
    }

    /// Passwords cross the wire only encrypted, or not at all: TLS, or a connection from this host.
    private func requireSecureTransport() throws(ProtocolError) {
        guard overTLS || isLoopbackPeer else {
            throw ProtocolError(
                .insecureTransport, "a password is sent only over TLS or from this host: connect with tls://")
        }
    }

    func checkThrottle(_ key: String, book: AccountBook) throws(ProtocolError) {
        if let wait = book.throttleWait(account: key, address: ipAddress) {
            throw ProtocolError(
                .loginThrottled,
                "too many failed logins for this account or from your address; try again in \((wait + 999) / 1000) s")
        }
    }

    /// Runs `work`, then answers with what `finish` makes of its result (on this connection's loop); a thrown
    /// error is the answer instead. Marks an account request as running until then.
    private func runAccountWork<T>(
        _ work: EventLoopFuture<T>, _ id: UInt32, _ context: ChannelHandlerContext,
        finish: @escaping (Result<T, any Error>) throws -> [ServerFrame]
    ) {
        accountRequestRunning = true
        work.assumeIsolated().whenComplete { result in
            self.accountRequestRunning = false
            guard !self.isClosing else { return }
            do {
                for frame in try finish(result) { self.reply(frame, to: id) }
            } catch {
                let refusal = Self.protocolError(error, doing: "the account request")
                guard !refusal.code.closesConnection else {
                    self.closeWithError(context: context, refusal, requestID: id)
                    return
                }
                self.reply(.error(refusal), to: id)
            }
            self.flushPending(context: context)
        }
    }
}
