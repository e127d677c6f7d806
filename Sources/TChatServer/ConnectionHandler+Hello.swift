import Logging
import NIOCore
import TChatProtocol

/// HELLO: the checks before a client is admitted (version, fields, where it should be instead, limits, bans,
/// required accounts), then its welcome.
extension ConnectionHandler {
    func handleHello(_ hello: Hello, requestID id: UInt32, context: ChannelHandlerContext) {
        guard ProtocolVersion.supported.contains(hello.version) else {
            let versions = ProtocolVersion.supported.map(String.init).joined(separator: ", ")
            closeWithError(
                context: context,
                ProtocolError(
                    .unsupportedVersion,
                    "protocol version \(hello.version) is not supported; this server speaks version \(versions)"),
                requestID: id)
            return
        }
        do {
            let nick = try Nick(validating: hello.nick)
            for (field, value) in [
                ("client name", hello.clientName), ("client version", hello.clientVersion), ("host", hello.host),
            ] {
                try TextField.check(value, field, maxBytes: ProtocolLimits.maxHelloFieldBytes)
            }
            guard let connectionID else { throw ProtocolError(.internalError, "connection not registered") }
            // A login proved before the hello counts only if its account is still the one it proved (not dropped,
            // not re-made, its password unchanged), up to the moment it is recorded (`RecentDrops`); otherwise the
            // hello is refused, and the client may come again without it.
            let dropMark = server.clients.dropMark
            if let proof = loginAccount, server.clients.accounts?.account(forKey: proof.account)?.scram != proof.keys {
                throw ProtocolError(
                    .loginFailed, "the account you logged in to was dropped or its password changed: log in again")
            }
            let account = loginAccount?.account
            let local = server.clients.count
            // An account's sessions share its nick on one server: one that arrives where another server holds the
            // nick (only its own sessions can, every server refusing it to others) goes there.
            if hello.acceptsRedirect, let account, account == nick.key,
                case .remote(let serverID, _)? = server.clients.locate(nick.name),
                let target = server.servers.clientAddress(of: serverID, overTLS: overTLS)
            {
                logger.info("client sent to its nick", metadata: ["address": "\(address)", "to": "\(target.name)"])
                reply(.redirect(address: target.address, server: target.name), to: id)
                closeWithError(
                    context: context,
                    ProtocolError(
                        .redirected,
                        "your account's nick is in use on \(target.name): connect there, at \(target.address), to share it"
                    ),
                    requestID: id)
                return
            }
            let target =
                hello.acceptsRedirect ? server.servers.redirectTarget(localClients: local, overTLS: overTLS) : nil
            if let target {
                logger.info("client redirected", metadata: ["address": "\(address)", "to": "\(target.name)"])
                reply(.redirect(address: target.address, server: target.name), to: id)
                let why =
                    server.servers.takesClients.load(ordering: .relaxed)
                    ? "is busy" : "cannot reach the message store"
                closeWithError(
                    context: context,
                    ProtocolError(
                        .redirected,
                        "\(server.servers.name) \(why): connect to \(target.name) at \(target.address)"),
                    requestID: id)
                return
            }
            guard local < server.configuration.maxClients else {
                throw ProtocolError(.serverFull, "the server is full (\(server.configuration.maxClients) clients)")
            }
            if let account, let ban = server.clients.accounts?.ban(forAccount: account) {
                throw ProtocolError(.serverBanned, "your account is banned from this server: \(ban.reason)")
            }
            if server.configuration.requireAccount, account == nil {
                throw ProtocolError(
                    .accountRequired,
                    "this server admits logged-in clients only: LOGIN before HELLO (tchat --password-file)")
            }
            let session = ClientSession(
                id: connectionID, channel: context.channel, address: address, connectedAt: .now(), hello: hello,
                overTLS: overTLS, mailbox: server.mailbox(for: context.eventLoop))
            let welcome = { (text: String) in
                Welcome(
                    version: hello.version, serverName: self.server.servers.name,
                    serverVersion: TChatVersion.current, nick: nick.name, address: self.address,
                    connectedAt: session.connectedAt, maxFrameLength: UInt32(self.server.configuration.maxFrameLength),
                    welcomeText: text, motd: self.server.live.current.motd)
            }
            flushPending(context: context)  // answers to requests before the hello go before its welcome
            let admission = try server.clients.admit(
                session, nick: nick, account: account, keys: loginAccount?.keys, checkedAt: dropMark
            ) {
                text in
                session.encode([.welcome(welcome(text)), .ok], requestID: id)
            }
            phase = .welcomed(session, nick)
            server.handshakeFinished(connectionID)
            logger.info(
                "client connected",
                metadata: [
                    "nick": "\(nick)", "address": "\(address)",
                    "client": "\(hello.clientName) \(hello.clientVersion)",
                ])
            // Sharing its account's nick: it is in that nick's channels, as it hears after the welcome.
            if let first = admission.companions.first {
                for event in server.channels.attach(session, to: first, nick: nick.name) { reply(event, to: 0) }
            }
        } catch let error as ProtocolError {
            if retriesRefusedNick, [.nickInUse, .nickRegistered, .invalidNick].contains(error.code) {
                reply(.error(error), to: id)
                return
            }
            closeWithError(context: context, error, requestID: id)
        } catch {
            closeWithError(context: context, ProtocolError(.internalError, "\(error)"), requestID: id)
        }
    }
}
