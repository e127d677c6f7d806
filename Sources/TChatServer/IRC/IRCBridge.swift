import NIOCore
import TChatIRC
import TChatProtocol

/// Sits between an IRC client's socket (or its TLS handler) and an unchanged `ConnectionHandler`: IRC lines become
/// tchat request frames on the way in, tchat frames become IRC lines on the way out.
///
/// Every byte the server writes to the client passes `write` (answers, deliveries through the outbox, last words),
/// so one translation serves them all. Requests the conversation makes while translating an answer (NAMES after a
/// JOIN) are handed in on the next turn of the loop, never from inside a write, where the connection handler may be
/// in the middle of its own work.
final class IRCBridge: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The longest line read: 4,096 bytes of tags (IRCv3's client limit) and 512 of message.
    static let maxLineBytes = 4096 + 512
    /// The longest line without its tags (RFC 1459's 512 with CR LF).
    static let maxMessageBytes = 510

    private var conversation: IRCConversation
    private var reader = IRCLineReader(maxLineBytes: IRCBridge.maxLineBytes)
    /// Outbound bytes of a frame not yet whole (the server writes whole frames; this is only a safeguard).
    private var outboundRemainder: ByteBuffer?
    private var decoder = FrameDecoder(maxFrameLength: 1 << 30)
    /// Lines the bridge answers itself (PING, CAP, unknown commands) draw on this; forwarded ones on the
    /// connection handler's, as a tchat client's requests do.
    private var budget: RequestBudget
    private let lineTimeout: TimeAmount
    private var lineTimer: Scheduled<Void>?
    private var requestsScheduled = false
    private var closing = false
    /// A read the pipeline asked for while CHATHISTORY searched for a timestamp, made once the search is done.
    private var readHeld = false
    private var resumeScheduled = false
    /// What the connection handler was last told of own copies (`OwnCopies`); nil before the first request.
    private var ownCopiesTold: Bool?

    /// Channel messages rendered once for every IRC client of this loop.
    private let renderCache: IRCRenderCache

    init(facts: IRCServerFacts, renderCache: IRCRenderCache, rate: Double, burst: Int, lineTimeout: TimeAmount) {
        conversation = IRCConversation(facts: facts)
        self.renderCache = renderCache
        budget = RequestBudget(rate: rate, burst: burst)
        self.lineTimeout = lineTimeout
    }

    // MARK: - Client to server

    /// Lines that may wait in the reader while a history search runs (what one read brought in besides).
    static let maxWaitingLines = 1024

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        reader.receive(unwrapInboundIn(data), now: NIODeadline.now().uptimeNanoseconds)
        if conversation.seekingHistory, reader.waitingLines > Self.maxWaitingLines {
            closing = true
            conversation.closeLink("Excess flood: more than \(Self.maxWaitingLines) lines while history was searched")
            context.writeLastWords(Self.encode(conversation.takeLines(), allocator: context.channel.allocator))
            return
        }
        readLines(context: context)
    }

    /// Hands the conversation the lines read, until one starts a CHATHISTORY search for a timestamp: the lines
    /// after it wait in the reader, and the socket is not read (`read`), until the search is done, so what they
    /// ask is answered after the history, in the order asked.
    private func readLines(context: ChannelHandlerContext) {
        while !conversation.seekingHistory, let line = reader.next() {
            let before = conversation.nextRequestID
            switch line {
            case .text(let text):
                guard Self.messageLength(of: text) <= Self.maxMessageBytes else {
                    conversation.receiveTooLongLine()
                    break
                }
                conversation.receive(line: text)
            case .tooLong:
                conversation.receiveTooLongLine()
            }
            // A line that became no request is answered here: it costs this budget, and past it is dropped.
            if conversation.nextRequestID == before, !budget.spend() {
                _ = conversation.takeLines()
                continue
            }
            send(context: context)
            if closing { return }
        }
        guard !conversation.seekingHistory else {
            // The rest of an unfinished line cannot come while the socket is not read: its clock waits too.
            lineTimer?.cancel()
            lineTimer = nil
            return
        }
        watchUnfinishedLine(context: context)
    }

    /// Bytes of a line without its tags (and the space after them).
    static func messageLength(of line: String) -> Int {
        guard line.hasPrefix("@") else { return line.utf8.count }
        guard let space = line.utf8.firstIndex(of: UInt8(ascii: " ")) else { return 0 }
        return line.utf8.distance(from: space, to: line.utf8.endIndex) - 1
    }

    /// Writes the conversation's lines to the client and hands its requests to the connection handler.
    private func send(context: ChannelHandlerContext) {
        let lines = conversation.takeLines()
        if conversation.wantsClose {
            closing = true
            context.writeLastWords(Self.encode(lines, allocator: context.channel.allocator))
            return
        }
        if !lines.isEmpty {
            context.writeAndFlush(
                wrapOutboundOut(Self.encode(lines, allocator: context.channel.allocator)), promise: nil)
        }
        let requests = conversation.takeRequests()
        guard !requests.isEmpty else { return }
        var frames = context.channel.allocator.buffer(capacity: 64 * requests.count)
        for (frame, id, ownCopies) in requests {
            // Before the requests it applies to, and after those before it: whether their channel messages come
            // back to this client. The handler reads every whole frame it is handed at once.
            if ownCopiesTold != ownCopies {
                if frames.readableBytes > 0 {
                    context.fireChannelRead(wrapInboundOut(frames))
                    frames = context.channel.allocator.buffer(capacity: 64)
                }
                ownCopiesTold = ownCopies
                context.fireUserInboundEventTriggered(OwnCopies(wanted: ownCopies))
            }
            do {
                try frame.encode(requestID: id, into: &frames)
            } catch {
                // Every field was cut to its wire limit before; a frame that still does not fit is refused here.
                conversation.receive(.error(error), requestID: id)
            }
        }
        if frames.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(frames)) }
        let refusals = conversation.takeLines()
        if !refusals.isEmpty {
            context.writeAndFlush(
                wrapOutboundOut(Self.encode(refusals, allocator: context.channel.allocator)), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        lineTimer?.cancel()
        lineTimer = nil
        context.fireChannelInactive()
    }

    /// A line begun and not finished within `--frame-timeout` ends the connection, as an unfinished frame does.
    private func watchUnfinishedLine(context: ChannelHandlerContext) {
        guard let since = reader.partialSince else {
            lineTimer?.cancel()
            lineTimer = nil
            return
        }
        guard lineTimer == nil else { return }
        let deadline = NIODeadline.uptimeNanoseconds(since) + lineTimeout
        lineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            lineTimer = nil
            guard !closing, let started = reader.partialSince else { return }
            if NIODeadline.uptimeNanoseconds(started) + lineTimeout <= .now() {
                closing = true
                conversation.closeLink(
                    "a line was begun and not finished within \(lineTimeout.nanoseconds / 1_000_000_000) s")
                context.writeLastWords(Self.encode(conversation.takeLines(), allocator: context.channel.allocator))
            } else {
                watchUnfinishedLine(context: context)
            }
        }
    }

    // MARK: - Server to client

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        var wholeBatch = conversation.showsEveryChannelMessage
        if var remainder = outboundRemainder {
            remainder.writeBuffer(&bytes)
            bytes = remainder
            outboundRemainder = nil
            wholeBatch = false
        }
        // A run of channel messages the previous member of this loop was handed, rendered as this client sees
        // them: its lines as they were made.
        let variant = conversation.renderVariant
        if wholeBatch, let lines = renderCache.batch.lines(for: bytes, variant: variant) {
            context.write(wrapOutboundOut(lines), promise: promise)
            return
        }
        let input = bytes
        var onlyChannelMessages = wholeBatch
        let allocator = context.channel.allocator
        // What to write: one rendering alone is written as it is, shared with every other client; more are
        // gathered into one buffer.
        var single: ByteBuffer?
        var out = ByteBuffer()
        func emit(_ lines: ByteBuffer) {
            if single == nil, out.writerIndex == 0 {
                single = lines
                return
            }
            if var first = single {
                out = allocator.buffer(capacity: first.readableBytes + bytes.readableBytes * 2)
                out.writeBuffer(&first)
                single = nil
            }
            out.writeImmutableBuffer(lines)
        }
        while let length = bytes.getInteger(at: bytes.readerIndex, as: UInt32.self),
            bytes.readableBytes >= 4 + Int(length)
        {
            let frame = bytes.readSlice(length: 4 + Int(length))!
            let type = frame.getInteger(at: frame.readerIndex + 4, as: UInt8.self)
            let requestID = frame.getInteger(at: frame.readerIndex + 5, as: UInt32.self)
            if type == FrameType.message.rawValue, requestID == 0, let slot = renderCache.slot(forMessageFrame: frame) {
                // The hot path: a live channel message, the same lines for every client with the same tags.
                let shown: Int?
                if wholeBatch {
                    shown = variant
                } else {
                    shown = conversation.showsEveryChannelMessage ? conversation.renderVariant : nil
                }
                guard let variant = shown else {
                    onlyChannelMessages = false
                    continue
                }
                if let lines = renderCache.cachedLines(slot: slot, variant: variant) {
                    emit(lines)
                } else {
                    let capabilities = conversation.capabilities
                    emit(
                        renderCache.lines(slot: slot, variant: variant, allocator: allocator) {
                            IRCConversation.channelLines($0, capabilities: capabilities)
                        })
                }
                continue
            }
            onlyChannelMessages = false
            if let requestID, requestID != 0, type == FrameType.ok.rawValue || type == FrameType.sent.rawValue,
                conversation.settlesMessage(requestID: requestID, done: type == FrameType.ok.rawValue)
            {
                continue  // a SEND's SENT and OK: nothing to show, no need to decode
            }
            var whole = frame
            if case .success(let raw)? = try? decoder.decode(buffer: &whole),
                let decoded = try? ServerFrame(decoding: raw)
            {
                conversation.receive(decoded, requestID: raw.requestID)
                // An answer may start what changes which messages are shown, or how (held lines read after a
                // welcome or a history search, a CAP REQ among them).
                wholeBatch =
                    wholeBatch && conversation.showsEveryChannelMessage && conversation.renderVariant == variant
                let lines = conversation.takeLines()
                if !lines.isEmpty { emit(Self.encode(lines, allocator: allocator)) }
            }
        }
        if bytes.readableBytes > 0 {
            outboundRemainder = bytes
            onlyChannelMessages = false
        }
        let lines = single ?? out
        if onlyChannelMessages, lines.readableBytes > 0 { renderCache.batch.keep(lines, for: input, variant: variant) }
        context.write(wrapOutboundOut(lines), promise: promise)
        if conversation.wantsClose, !closing {
            // A QUIT held until the welcome, read once it came: close once what was written has gone.
            closing = true
            let channel = context.channel
            context.eventLoop.assumeIsolated().execute { channel.close(promise: nil) }
        } else if !conversation.requests.isEmpty {
            scheduleRequests(context: context)
        }
        if !closing, !conversation.seekingHistory, readHeld || reader.waitingLines > 0 {
            resumeReading(context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard !conversation.seekingHistory else {
            readHeld = true
            return
        }
        context.read()
    }

    /// Once a search is done: the lines that waited, then reading again.
    private func resumeReading(context: ChannelHandlerContext) {
        guard !resumeScheduled else { return }
        resumeScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            resumeScheduled = false
            guard !closing, !conversation.seekingHistory else { return }
            reader.restartUnfinishedLineClock(now: NIODeadline.now().uptimeNanoseconds)
            readLines(context: context)
            context.fireChannelReadComplete()
            if readHeld, !conversation.seekingHistory {
                readHeld = false
                context.read()
            }
        }
    }

    private func scheduleRequests(context: ChannelHandlerContext) {
        guard !requestsScheduled else { return }
        requestsScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            requestsScheduled = false
            guard !closing else { return }
            send(context: context)
            context.fireChannelReadComplete()  // the connection handler sends its answers at the end of a read
        }
    }

    /// The lines, each followed by CR LF.
    static func encode(_ lines: [IRCMessage], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: lines.count * 96)
        append(lines, to: &buffer)
        return buffer
    }

    static func append(_ lines: [IRCMessage], to buffer: inout ByteBuffer) {
        for line in lines {
            buffer.writeString(line.serialized())
            buffer.writeStaticString("\r\n")
        }
    }
}
