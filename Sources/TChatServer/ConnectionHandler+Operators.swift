import NIOCore
import TChatProtocol

/// Server operators' requests (`--operator` accounts, logged in): ending a session, banning an account or an
/// address from the whole server, and closing a channel. Each is logged with who did it.
extension ConnectionHandler {
    /// Handles KILL, SERVER_BAN, SERVER_UNBAN and CLOSE_CHANNEL; true when answered later.
    func handleOperatorRequest(
        _ frame: ClientFrame, session: ClientSession, nick: Nick, requestID id: UInt32, context: ChannelHandlerContext
    ) throws -> Bool {
        guard viewerIsOperator, let book = server.clients.accounts else {
            throw ProtocolError(.notServerOperator, "only server operators do that")
        }
        switch frame {
        case .kill(let target, let reason):
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            // Every session sharing the nick: they are one client.
            let victims = server.clients.sessions(named: target)
            if victims.isEmpty, case .remote(let serverID, let known)? = server.clients.locate(target) {
                // Its own server ends it.
                server.clients.feed.emit(.record(.kill(nick: known, by: nick.name, reason: reason), serverID: serverID))
                logger.notice("session ended", metadata: ["nick": "\(known)", "by": "\(nick)", "reason": "\(reason)"])
                return false
            }
            guard !victims.isEmpty else {
                throw ProtocolError(.noSuchNick, "no client is connected as \(target)")
            }
            let because = reason.isEmpty ? "" : ": \(reason)"
            for victim in victims {
                Self.end(
                    victim.channel, ProtocolError(.killed, "disconnected by the server operator \(nick.name)\(because)")
                )
            }
            logger.notice("session ended", metadata: ["nick": "\(target)", "by": "\(nick)", "reason": "\(reason)"])
            return false
        case .serverBan(let mask, let reason):
            guard !mask.isEmpty else {
                for ban in book.serverBans {
                    reply(.text("\(ban.mask) by \(ban.by) at \(ban.time): \(ban.reason)"), to: id)
                }
                return false
            }
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            let normalized = try Self.serverBanMask(mask)
            let ban = ServerBan(mask: normalized, reason: reason, by: nick.name, time: Timestamp.now().iso8601)
            // Whoever the ban names is put out by the book's ban handler (`ChatServer`), as for a ban heard from
            // a linked server.
            runOperatorWork(book.addBan(ban, on: context.eventLoop), id, context) { [logger] in
                logger.notice(
                    "server ban", metadata: ["mask": "\(normalized)", "by": "\(nick)", "reason": "\(reason)"])
            }
            return true
        case .serverUnban(let mask):
            let normalized = try Self.serverBanMask(mask)
            runOperatorWork(book.removeBan(normalized, on: context.eventLoop), id, context) { [logger] in
                logger.notice("server ban lifted", metadata: ["mask": "\(normalized)", "by": "\(nick)"])
            }
            return true
        case .closeChannel(let channel, let reason):
            try TextField.check(reason, "reason", maxBytes: ProtocolLimits.maxReasonBytes)
            let name = try ChannelName(validating: channel)
            // Named for linked servers, which hear them leave.
            let nicks = Set(
                (server.channels.members(of: name) ?? []).compactMap { server.clients.currentNick(of: $0)?.name })
            let count = try server.channels.close(name, by: nick.name, reason: reason, nicks: nicks.sorted())
            logger.notice(
                "channel closed", metadata: ["channel": "\(name.name)", "by": "\(nick)", "members": "\(count)"])
            return false
        default:
            return false
        }
    }

    /// `account:NAME` as `account:` and the account's key; `address:IP` with the address checked (IPv4 or IPv6).
    static func serverBanMask(_ mask: String) throws(ProtocolError) -> String {
        let lowered = mask.lowercased()
        if lowered.hasPrefix("account:") {
            let name = String(mask.dropFirst("account:".count))
            guard Nick.problem(with: name) == nil else {
                throw ProtocolError(.invalidArgument, "account:NAME needs an account name (a nick)")
            }
            return "account:" + Nick.key(for: name)
        }
        if lowered.hasPrefix("address:") {
            let ip = String(mask.dropFirst("address:".count))
            guard (try? SocketAddress(ipAddress: ip, port: 0)) != nil else {
                throw ProtocolError(.invalidArgument, "address:IP needs an IP address, like address:203.0.113.9")
            }
            return "address:" + ((try? SocketAddress(ipAddress: ip, port: 0))?.ipAddress ?? ip)
        }
        throw ProtocolError(.invalidArgument, "a server ban is account:NAME or address:IP")
    }

    /// Sends `error` to a connection and closes it, from any thread.
    static func end(_ channel: any Channel, _ error: ProtocolError) {
        // Ahead of the close on the channel's loop: its channels hear why it left (a kill, a ban), not
        // "connection closed".
        channel.pipeline.fireUserInboundEventTriggered(EndedFromOutside(reason: error.message))
        var buffer = channel.allocator.buffer(capacity: 128)
        try? ServerFrame.error(error).encode(requestID: 0, into: &buffer)
        channel.writeLastWords(buffer)
    }

    /// Why a connection is being ended from another thread (`end`).
    struct EndedFromOutside {
        let reason: String
    }

    private func runOperatorWork(
        _ work: EventLoopFuture<Void>, _ id: UInt32, _ context: ChannelHandlerContext,
        then done: @escaping () -> Void
    ) {
        work.assumeIsolated().whenComplete { result in
            guard !self.isClosing else { return }
            switch result {
            case .success:
                done()
                self.reply(.ok, to: id)
            case .failure(let error):
                self.reply(.error(Self.protocolError(error, doing: "the ban")), to: id)
            }
            self.flushPending(context: context)
        }
    }
}
