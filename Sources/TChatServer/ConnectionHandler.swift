import DequeModule
import Logging
import NIOCore
import TChatAuth
import TChatProtocol

/// One client connection: reads frames, answers requests, keeps the connection alive or ends it.
///
/// Replies produced while handling one read are gathered in one buffer and written and flushed once when the read
/// completes, so a burst of pipelined requests costs one system call. Replies that wait for something (the disk,
/// the history writer) are written on their own when it arrives.
final class ConnectionHandler: ChannelInboundHandler {
    /// A login proved before the hello.
    struct LoginProof {
        let account: String
        let keys: ScramKeys
    }

    /// A SCRAM exchange between LOGIN and LOGIN_CONTINUE: the account asked for and its keys then (nil: no such
    /// account, answered with a decoy).
    struct ScramLogin {
        let exchange: ScramServer
        let account: String
        let keys: ScramKeys?
        let started: Timestamp
    }

    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case awaitingHello
        case welcomed(ClientSession, Nick)
    }

    let server: ServerContext
    var phase = Phase.awaitingHello
    /// Set once the connection is ending: no further request is handled.
    var isClosing = false
    var connectionID: UInt64?
    var address = "unknown"
    /// Replies gathered during the current read.
    var pending = ByteBuffer()
    var lastActivity = NIODeadline.now()
    /// When the connection arrived: it has `--hello-timeout` from then to say HELLO.
    let arrived = NIODeadline.now()
    /// A quarter of `--hello-timeout` at most, taken off this connection's deadline: connections that arrived in one
    /// burst (a flood, reconnecting as fast as it is closed) are ended spread out instead of all at once, so their
    /// return does not fill the kernel's accept queue in one go, where a real client's connection would wait.
    let helloJitter = Double.random(in: 0..<0.25)
    /// The channel name a SEND named last, as sent and as checked.
    var lastChannel: (text: String, name: ChannelName)?
    /// The last channel found to exist when a JOIN or SEND might have made it.
    var knownChannel: ChannelName?
    /// Watches for silence once the connection is admitted.
    var keepAlive: KeepAliveSweep?
    /// Why the connection ended, for the connection log and (unless the client said why) the quit event.
    var closeReason: String?
    /// Whether this connection's channel messages come back to it (`OwnCopies`): a tchat client's always do.
    var wantsOwnCopies = true
    /// The client's own words in its QUIT, passed on to the others as they are.
    var quitMessage: String?

    /// What the client may still ask for before it is refused with `rate-limited` (`--rate`, `--burst`).
    var budget: RequestBudget
    /// Bytes of a frame not yet whole, and since when (`--frame-timeout`).
    var inbound: InboundFrames
    /// Whether the client came over TLS: it is redirected only to TLS ports, a plaintext one only to plaintext.
    let overTLS: Bool
    /// The client's IP address alone (logins are throttled per address), and whether it is this host's.
    var ipAddress = "unknown"
    var isLoopbackPeer = false
    /// The account a login before HELLO proved; the session is admitted logged in to it, if it still has the keys
    /// it was proved with (not dropped, its password not changed, meanwhile).
    var loginAccount: LoginProof?
    /// A SCRAM login between its two steps.
    var scramLogin: ScramLogin?
    /// Set while an account request waits for the accounts' thread pool: one at a time per connection.
    var accountRequestRunning = false
    /// HISTORY requests not yet begun, and whether one is being answered (one at a time per connection).
    var historyWaiting = Deque<HistoryRequest>()
    var historyRunning = false
    /// Since when the first waiting request has waited for room (`HistoryAnswers`).
    var historyWaitingSince: NIODeadline?

    /// IRC's way: a HELLO refused for its nick (taken, registered, invalid) leaves the connection open for another
    /// try, as 433 does, instead of ending it.
    let retriesRefusedNick: Bool

    init(server: ServerContext, overTLS: Bool = false, retriesRefusedNick: Bool = false) {
        self.server = server
        self.retriesRefusedNick = retriesRefusedNick
        inbound = InboundFrames(maxFrameLength: server.configuration.maxFrameLength)
        self.overTLS = overTLS
        // The limits in force when it connects (a reload changes them for the connections to come).
        let limits = server.live.configuration
        budget = RequestBudget(rate: limits.requestRate, burst: limits.requestBurst)

    }

    var logger: Logger { server.logger }

    // MARK: - Lifecycle

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.remoteAddress, let ip = remote.ipAddress, let port = remote.port {
            address = ServerAddress(host: ip, port: port).description
            ipAddress = ip
            isLoopbackPeer = ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
        }
        let refusal: ProtocolError
        switch server.admitConnection(context.channel, from: context.remoteAddress?.ipAddress ?? "unknown") {
        case .admitted(let id, let evicted):
            server.counters.accepted.add(1, ordering: .relaxed)
            if let evicted {
                server.counters.evictedHandshakes.add(1, ordering: .relaxed)
                if let held = server.evictionLog.admit() {
                    logger.notice(
                        "unfinished handshake ended to make room",
                        metadata: ["newcomer": "\(address)", "alike in the last second": "\(held)"])
                }
                ConnectionHandler.end(
                    evicted,
                    ProtocolError(
                        .serverFull,
                        "too many connections have not said HELLO: yours, the oldest of the most numerous, was ended"))
            }
            connectionID = id
            let sweep = server.keepAlive(on: context.eventLoop)
            sweep.add(id, handler: self, context: context)
            keepAlive = sweep
            context.fireChannelActive()
            return
        case .shuttingDown:
            refusal = ProtocolError(.shuttingDown, "the server is shutting down")
        case .full:
            refusal = ProtocolError(.serverFull, "the server is full (\(server.configuration.maxClients) clients)")
        case .tooManyFromAddress:
            refusal = ProtocolError(
                .tooManyConnections,
                "\(server.live.configuration.maxConnectionsPerAddress) connections from your address are open already")
        case .connectingTooFast:
            let limits = server.live.configuration
            refusal = ProtocolError(
                .tooManyConnections,
                "your address opened more than \(limits.connectBurst) connections at once, or more than "
                    + "\(Self.rateText(limits.connectRate)) a second: wait a second, then connect again")
        case .banned(let ban):
            refusal = ProtocolError(.serverBanned, "your address is banned from this server: \(ban.reason)")
        }
        server.counters.refusedConnections.add(1, ordering: .relaxed)
        if let held = server.refusalLog.admit() {
            logger.notice(
                "connection refused",
                metadata: [
                    "address": "\(address)", "reason": "\(refusal.code)", "others in the last second": "\(held)",
                ])
        }
        closeWithError(context: context, refusal)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connectionID {
            keepAlive?.remove(connectionID)
            server.connectionClosed(connectionID)
            server.historyAnswers.withdraw(connectionID)
        }
        keepAlive = nil
        // At most a reason's 300 bytes: it goes to linked servers, which refuse a longer one (and would keep a client
        // that left); an operator's KILL message with its reason can be longer.
        let reason = TextField.truncated(
            closeReason ?? (server.isShuttingDown ? "server shutting down" : "connection closed"),
            maxBytes: ProtocolLimits.maxReasonBytes)
        if case .welcomed(let session, let welcomed) = phase {
            let nick = server.clients.currentNick(of: session) ?? welcomed
            // While sessions that stay share its nick, its channels hear nothing; of sessions leaving together, the
            // last to begin tells them.
            let staying = server.clients.beginLeaving(session)
            server.channels.remove(session, nick: nick.name, reason: quitMessage ?? reason, staying: staying)
            server.clients.remove(session, reason: reason, quitMessage: quitMessage)
            logger.info(
                "client disconnected",
                metadata: ["nick": "\(nick)", "address": "\(address)", "reason": "\(reason)"])
        }
        isClosing = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosing else { return }
        var bytes = unwrapInboundIn(data)
        inbound.receive(&bytes)
        // Handling a frame may close the connection; what follows it is then ignored.
        while !isClosing {
            let frame: FrameDecoder.InboundOut
            do {
                guard let next = try inbound.next() else { break }
                frame = next
            } catch {
                refuse(error, context: context)
                return
            }
            handleFrame(frame, context: context)
        }
        inbound.settle(now: .now())
    }

    private func handleFrame(_ frame: FrameDecoder.InboundOut, context: ChannelHandlerContext) {
        // Every request counts against the budget, malformed ones too; a PONG answers the server and does not.
        let isPong = (try? frame.get())?.type == FrameType.pong.rawValue
        if !isPong, !budget.spend() {
            let requestID = (try? frame.get())?.requestID ?? 0
            // Every refused HELLO ends the connection, this one too.
            if (try? frame.get())?.type == FrameType.hello.rawValue, case .awaitingHello = phase {
                closeWithError(context: context, rateLimitError(), requestID: requestID)
            } else {
                reply(.error(rateLimitError()), to: requestID)
            }
            return
        }
        switch frame {
        case .failure(let error):
            reply(.error(error), to: 0)
        case .success(let raw):
            let isHello = raw.type == FrameType.hello.rawValue
            if raw.requestID == 0, raw.type != FrameType.ping.rawValue, !isPong {
                let refusal = ProtocolError(
                    .malformedFrame, "request id 0 is kept for events: number requests from 1; not carried out")
                if isHello { closeWithError(context: context, refusal) } else { reply(.error(refusal), to: 0) }
                return
            }
            do {
                let frame = try ClientFrame(decoding: raw)
                handle(frame, requestID: raw.requestID, context: context)
            } catch {
                // Every refused HELLO ends the connection, a malformed one too: the client learns at once that it
                // was not admitted, and nothing it sends before another HELLO can be misread.
                if isHello, case .awaitingHello = phase {
                    closeWithError(context: context, error, requestID: raw.requestID)
                } else {
                    reply(.error(error), to: raw.requestID)
                }
            }
        }
    }

    /// Once per read from the socket, however many frames it held: note the activity, send the gathered replies.
    func channelReadComplete(context: ChannelHandlerContext) {
        lastActivity = .now()
        flushPending(context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let ownCopies = event as? OwnCopies {
            wantsOwnCopies = ownCopies.wanted
            return
        }
        if let ended = event as? EndedFromOutside {
            closeReason = closeReason ?? ended.reason
            isClosing = true  // nothing more it sends is handled (a HELLO least of all)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        refuse(error, context: context)
    }

    /// Ends the connection over a stream error: an oversize length field, or one from the layers below.
    private func refuse(_ error: any Error, context: ChannelHandlerContext) {
        if let tooLarge = error as? FrameDecoder.FrameTooLarge {
            logger.notice(
                "oversize frame refused",
                metadata: ["address": "\(address)", "length": "\(tooLarge.length)"])
            closeReason = "oversize frame"
            closeWithError(context: context, tooLarge.protocolError)
            return
        }
        logger.debug("connection error", metadata: ["address": "\(address)", "error": "\(error)"])
        closeReason = closeReason ?? "connection error"  // the details are logged, not told to the channels
        isClosing = true
        context.close(promise: nil)
    }

    /// A client that stops reading fills its outbound queue past the bound; it is cut off rather than allowed to
    /// hold memory or slow the others.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, !isClosing {
            logger.warning(
                "client cut off: it stopped reading",
                metadata: [
                    "address": "\(address)", "nick": "\(nickForLog)",
                    "bound": "\(server.configuration.maxOutboundBytes)",
                ])
            closeReason = "send queue exceeded \(server.configuration.maxOutboundBytes) bytes"
            isClosing = true
            context.close(promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    var nickForLog: String {
        if case .welcomed(_, let nick) = phase { return nick.name }
        return "-"
    }

    /// `20`, or `0.5` when the rate has a fraction.
    static func rateText(_ rate: Double) -> String {
        rate == rate.rounded() && abs(rate) < 1e15 ? String(Int(rate)) : String(rate)
    }

    private func rateLimitError() -> ProtocolError {
        ProtocolError(
            .rateLimited,
            "more than \(Self.rateText(budget.rate)) requests per second (after a burst of \(Int(budget.burst))): "
                + "not carried out; send nothing for \(Int((budget.pause * 1000).rounded(.up))) ms, then send it again")
    }

    // MARK: - Keep-alive (called by the loop's `KeepAliveSweep`)

    /// Asks a quiet client for a sign of life.
    func ping(context: ChannelHandlerContext) {
        guard !isClosing else { return }
        reply(.ping(token: UInt64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds)), to: 0)
        flushPending(context: context)
    }

    /// A frame begun `--frame-timeout` ago is still not complete.
    func closeForUnfinishedFrame(context: ChannelHandlerContext) {
        guard !isClosing else { return }
        closeReason = "frame timeout"
        let seconds = server.configuration.frameTimeout.components.seconds
        closeWithError(
            context: context, ProtocolError(.frameTimeout, "a frame was begun but not finished within \(seconds) s"))
    }

    /// No HELLO within `--hello-timeout` of connecting.
    func closeForMissingHello(context: ChannelHandlerContext) {
        guard !isClosing, case .awaitingHello = phase else { return }
        closeReason = "hello timeout"
        let seconds = server.configuration.helloTimeout.secondsText
        closeWithError(
            context: context, ProtocolError(.idleTimeout, "no HELLO within \(seconds) s of connecting; closing"))
    }

    func closeForIdleness(context: ChannelHandlerContext, after timeout: TimeAmount) {
        guard !isClosing else { return }
        closeReason = "idle timeout"
        closeWithError(
            context: context,
            ProtocolError(.idleTimeout, "no data for \(timeout.nanoseconds / 1_000_000_000) s; closing"))
    }

    // MARK: - Writing

    /// Queues a reply for the end of the current read.
    func reply(_ frame: ServerFrame, to requestID: UInt32) {
        if case .error(let error) = frame { server.counters.countError(error.code) }
        do {
            try frame.encode(requestID: requestID, into: &pending)
        } catch {
            // Only a reply field longer than the wire allows gets here; say so instead of sending nothing.
            logger.error("reply too large to encode", metadata: ["frame": "\(frame.type)", "error": "\(error)"])
            try? ServerFrame.error(ProtocolError(.internalError, "the reply was too large to send"))
                .encode(requestID: requestID, into: &pending)
        }
    }

    /// Sends the gathered replies: through the loop's mailbox once welcomed, so they keep their place among deliveries.
    func flushPending(context: ChannelHandlerContext) {
        guard pending.readableBytes > 0 else { return }
        if case .welcomed(let session, _) = phase {
            session.send(pending)
        } else {
            context.writeAndFlush(wrapOutboundOut(pending), promise: nil)
        }
        // Empty until the next reply: an idle client should not hold a buffer.
        pending = context.channel.allocator.buffer(capacity: 0)
    }

    /// Sends replies from outside a read (a completed disk read or store acknowledgement), at once.
    static func send(_ frames: [ServerFrame], to requestID: UInt32, on session: ClientSession) {
        session.send(session.encode(frames, requestID: requestID))
    }

    /// Sends an error and closes once it is written; no request is handled after it.
    func closeWithError(context: ChannelHandlerContext, _ error: ProtocolError, requestID: UInt32 = 0) {
        reply(.error(error), to: requestID)
        let channel = context.channel
        let buffer = pending
        pending = context.channel.allocator.buffer(capacity: 0)
        isClosing = true
        closeReason = closeReason ?? error.message
        // What was sent before goes first.
        if case .welcomed(let session, _) = phase { session.mailbox.drainNow() }
        channel.writeLastWords(buffer)
    }
}
