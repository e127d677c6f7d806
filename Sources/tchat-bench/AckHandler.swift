import NIOCore
import Synchronization
import TChatProtocol

/// What every `AckHandler` of a run adds to: acknowledgements, refusals and their latencies.
final class AckTally: Sendable {
    private struct Figures {
        var sent = 0
        var acknowledged = 0
        var refused = 0
        /// SENDs still unanswered half a second after the run.
        var unanswered = 0
        /// Paced SENDs due within the run that a full window held back past its end.
        var notSent = 0
        var failures: [String] = []
        /// Microseconds from when a SEND was due to when its SENT was read.
        var latencies: [UInt64] = []
    }

    private let figures = Mutex(Figures())

    func add(sent: Int, acknowledged: Int, refused: Int, unanswered: Int, notSent: Int, latencies: [UInt64]) {
        figures.withLock {
            $0.sent += sent
            $0.unanswered += unanswered
            $0.notSent += notSent
            $0.acknowledged += acknowledged
            $0.refused += refused
            $0.latencies.append(contentsOf: latencies)
        }
    }

    func fail(_ text: String) { figures.withLock { $0.failures.append(text) } }

    var snapshot:
        (
            sent: Int, acknowledged: Int, refused: Int, unanswered: Int, notSent: Int, failures: [String],
            latencies: [UInt64]
        )
    {
        figures.withLock {
            ($0.sent, $0.acknowledged, $0.refused, $0.unanswered, $0.notSent, $0.failures, $0.latencies)
        }
    }
}

/// One sender of `tchat-bench acks`: registers, then sends SENDs to one channel, paced (each timed from when it was
/// due, so a sender held back by a full window or a late loop does not hide the wait) or keeping a window of them
/// unanswered, and times each until its SENT.
///
/// It never joins the channel, as a script posting to a channel need not: what is measured is the path from SEND to
/// acknowledgement, not fan-out.
final class AckHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Plan {
        let channel: String
        let body: MessageBody
        /// Messages a second for this sender; 0: as fast as the window lets.
        let rate: Double
        let window: Int
    }

    private let nick: String
    private let plan: Plan
    private let tally: AckTally
    private let registered: EventLoopPromise<Void>
    private var context: ChannelHandlerContext?
    private var carry: ByteBuffer?
    private var isRegistered = false
    /// Due times (uptime nanoseconds) of the SENDs not yet answered, by request id.
    private var unanswered: [UInt32: UInt64] = [:]
    private var nextRequest: UInt32 = 10
    private var start: UInt64 = 0
    private var deadline: UInt64 = 0
    private var sent = 0
    private var acknowledged = 0
    private var refused = 0
    private var latencies: [UInt64] = []
    private var timer: Scheduled<Void>?
    /// Set when the benchmark itself closes the connection.
    var isClosing = false

    init(nick: String, plan: Plan, tally: AckTally, registered: EventLoopPromise<Void>) {
        self.nick = nick
        self.plan = plan
        self.tally = tally
        self.registered = registered
        latencies.reserveCapacity(4096)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        if !isRegistered { registered.fail(ChannelError.ioOnClosedChannel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        let hello = Hello(
            nick: nick, clientName: "tchat-bench", clientVersion: TChatVersion.current, processID: 0, host: "bench")
        write(.hello(hello), id: 1, context: context)
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !isRegistered { registered.fail(ChannelError.ioOnClosedChannel) }
        if isRegistered && !isClosing { tally.fail("\(nick): the server closed the connection") }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        tally.fail("\(nick): \(error)")
        context.close(promise: nil)
    }

    /// Starts sending at `start` (uptime nanoseconds, plus a random part of the period when paced, so that paced
    /// senders do not arrive in bursts together) until `deadline`.
    func go(start: UInt64, deadline: UInt64) {
        self.start = plan.rate > 0 ? start + UInt64.random(in: 0..<UInt64(1e9 / plan.rate)) : start
        self.deadline = deadline
        schedule(at: self.start)
    }

    /// Adds what this sender counted to the tally; once, after the run.
    func report() {
        var due = sent
        if plan.rate > 0, deadline > start {
            due = Int(Double(deadline - start) * plan.rate / 1e9) + 1
        }
        tally.add(
            sent: sent, acknowledged: acknowledged, refused: refused, unanswered: unanswered.count,
            notSent: max(due - sent, 0), latencies: latencies)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let now = nowNanos()
        if var carried = carry {
            carried.writeBuffer(&buffer)
            buffer = carried
        }
        do {
            while let frame = try FrameHeader.front(of: buffer) {
                let raw = RawFrame(type: frame.type, requestID: frame.requestID, payload: frame.payload(in: buffer))
                read(raw, at: now, context: context)
                buffer.moveReaderIndex(forwardBy: 4 + frame.length)
            }
        } catch {
            tally.fail("\(nick): a frame of length \(error.length)")
            context.close(promise: nil)
            return
        }
        carry = buffer.readableBytes > 0 ? buffer : nil
        if plan.rate == 0 && now < deadline && start > 0 { sendDue(now: now, context: context) }
        context.flush()
    }

    private func read(_ raw: RawFrame, at now: UInt64, context: ChannelHandlerContext) {
        switch raw.type {
        case FrameType.ok.rawValue where raw.requestID == 1:
            isRegistered = true
            registered.succeed()
        case FrameType.sent.rawValue:
            guard let due = unanswered.removeValue(forKey: raw.requestID) else { return }
            if now <= deadline {
                acknowledged += 1
                latencies.append((now &- due) / 1000)
            }
        case FrameType.error.rawValue:
            guard unanswered.removeValue(forKey: raw.requestID) != nil || !isRegistered else { return }
            if isRegistered {
                refused += 1
            } else {
                let text = (try? ServerFrame(decoding: raw)).map { "\($0)" } ?? "an error"
                tally.fail("\(nick): \(text)")
                context.close(promise: nil)
            }
        case FrameType.ping.rawValue:
            if case .ping(let token)? = try? ServerFrame(decoding: raw) {
                write(.pong(token: token), id: raw.requestID, context: context)
            }
        default:
            break
        }
    }

    private func schedule(at due: UInt64) {
        guard let context else { return }
        let wait = Int64(bitPattern: due &- nowNanos())
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(max(wait, 0))) { [self] in
            guard let context = self.context else { return }
            let now = nowNanos()
            sendDue(now: now, context: context)
            context.flush()
            if plan.rate > 0 && now < deadline {
                // The next message due (`sent` counts those written), or a millisecond on when the window is full.
                let next = start + UInt64(Double(sent) * 1e9 / plan.rate)
                schedule(at: unanswered.count >= plan.window ? now + 1_000_000 : next)
            }
        }
    }

    /// Writes what is due: paced, every message whose time has come (as many as the window holds); otherwise
    /// enough to fill the window.
    private func sendDue(now: UInt64, context: ChannelHandlerContext) {
        guard now < deadline else { return }
        while unanswered.count < plan.window {
            let due: UInt64
            if plan.rate > 0 {
                due = start + UInt64(Double(sent) * 1e9 / plan.rate)
                guard due <= now else { return }
            } else {
                due = now
            }
            unanswered[nextRequest] = due
            write(.send(channel: plan.channel, body: plan.body), id: nextRequest, context: context)
            nextRequest &+= 1
            sent += 1
        }
    }

    private func write(_ frame: ClientFrame, id: UInt32, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64 + plan.body.text.utf8.count)
        try? frame.encode(requestID: id, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}

/// Uptime in nanoseconds, as NIO's deadlines count.
func nowNanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
