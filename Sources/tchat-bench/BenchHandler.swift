import NIOCore
import TChatProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Speaks tchat or IRC for one benchmark client: registration, joining, sending within the window, and counting
/// every channel message received.
///
/// Both protocols keep the window the same way (`DeliveryWindow`): a message leaves it once every member has
/// received it. tchat's OK and IRC's PONG play no part, so neither server does work the other does not.
///
/// It reads the socket's bytes itself rather than through a frame decoder: at millions of deliveries a second a
/// pipeline event and a `RawFrame` per message would make the load generator, not the server, the bottleneck.
final class BenchHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let kind: BenchProtocol
    let nick: String
    let role: BenchRole
    let tally: BenchTally
    let ready: EventLoopPromise<Void>
    private var isReady = false
    /// Set when the benchmark itself closes the connection.
    var isClosing = false
    /// Set by `go()`: nothing is sent before every client of the run is in its channel.
    private var started = false
    private var context: ChannelHandlerContext?
    private var nextRequest: UInt32 = 3
    /// Bytes of an unfinished frame or line, kept for the next read.
    private var carry: ByteBuffer?
    /// Deliveries counted during the current read, added to the shared tally once per read.
    private var deliveredInRead = 0
    /// The clock, read once per read from the socket: everything in one read arrived at the same moment.
    private var readTime: UInt64 = 0

    init(kind: BenchProtocol, nick: String, role: BenchRole, tally: BenchTally, ready: EventLoopPromise<Void>) {
        self.kind = kind
        self.nick = nick
        self.role = role
        self.tally = tally
        self.ready = ready
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        if !isReady { ready.fail(ChannelError.ioOnClosedChannel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        switch kind {
        case .tchat:
            let hello = Hello(
                nick: nick, clientName: "tchat-bench", clientVersion: TChatVersion.current, processID: 0, host: "bench")
            write(tchat: .hello(hello), id: 1, context: context)
        case .irc:
            write(irc: "NICK \(nick)\r\nUSER \(nick) 0 * :\(nick)\r\n", context: context)
        }
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !isReady { ready.fail(ChannelError.ioOnClosedChannel) }
        if isReady && !isClosing {
            tally.fail("\(nick): the server closed the connection")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        tally.fail("\(nick): \(error)")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        readTime = NIODeadline.now().uptimeNanoseconds
        if var carried = carry {
            carried.writeBuffer(&buffer)
            buffer = carried
        }
        switch kind {
        case .tchat: splitFrames(&buffer, context: context)
        case .irc: splitLines(&buffer, context: context)
        }
        carry = buffer.readableBytes > 0 ? buffer : nil
        role.reportReceived()
        if deliveredInRead > 0 {
            tally.delivered.add(deliveredInRead, ordering: .relaxed)
            deliveredInRead = 0
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if started { pump() } else { context.flush() }
    }

    /// Takes every whole frame off `buffer`; channel messages are counted where they lie, anything else is decoded.
    private func splitFrames(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        do {
            while let frame = try FrameHeader.front(of: buffer) {
                if frame.type == FrameType.message.rawValue && frame.requestID == 0 {
                    let counted = buffer.withUnsafeReadableBytes { bytes in
                        Self.messageBody(UnsafeRawBufferPointer(rebasing: bytes[9..<(4 + frame.length)]))
                            .map { count($0, skipOwn: true) } != nil
                    }
                    if !counted { tally.fail("\(nick): a message frame that does not parse") }
                } else {
                    let raw = RawFrame(type: frame.type, requestID: frame.requestID, payload: frame.payload(in: buffer))
                    readTChat(raw, context: context)
                }
                buffer.moveReaderIndex(forwardBy: 4 + frame.length)
            }
        } catch {
            tally.fail("\(nick): a frame of length \(error.length)")
            context.close(promise: nil)
        }
    }

    /// The body of a MESSAGE payload: channel (u16 length), id and time (16 bytes), from (u16 length), content
    /// type (1 byte), body (u32 length).
    private static func messageBody(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var offset = 0
        func u16() -> Int? {
            guard offset + 2 <= payload.count else { return nil }
            defer { offset += 2 }
            return Int(payload[offset]) << 8 | Int(payload[offset + 1])
        }
        guard let channelLength = u16() else { return nil }
        offset += channelLength + 16
        guard let fromLength = u16() else { return nil }
        offset += fromLength + 1
        guard offset + 4 <= payload.count else { return nil }
        let bodyLength = payload[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        offset += 4
        guard offset + bodyLength <= payload.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + bodyLength)])
    }

    /// Takes every whole line off `buffer`.
    private func splitLines(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while true {
            let length: Int? = buffer.withUnsafeReadableBytes { bytes in
                guard let base = bytes.baseAddress, let newline = memchr(base, 0x0A, bytes.count) else { return nil }
                return base.distance(to: UnsafeRawPointer(newline))
            }
            guard let length else {
                if buffer.readableBytes > 64 * 1024 {
                    tally.fail("\(nick): a line longer than 64 KiB")
                    context.close(promise: nil)
                }
                return
            }
            readIRC(buffer.readSlice(length: length)!, context: context)
            buffer.moveReaderIndex(forwardBy: 1)
        }
    }

    private func becomeReady() {
        guard !isReady else { return }
        isReady = true
        tally.ready.add(1, ordering: .relaxed)
        ready.succeed()
    }

    // MARK: - tchat

    private func readTChat(_ raw: RawFrame, context: ChannelHandlerContext) {
        switch raw.type {
        case FrameType.ok.rawValue:
            switch raw.requestID {
            case 1:
                write(tchat: .join(channel: role.channel, history: 0), id: 2, context: context)
            case 2:
                becomeReady()
            default:
                break  // a SEND's OK: the window moves on deliveries, not acknowledgements
            }
        case FrameType.error.rawValue:
            let text = (try? ServerFrame(decoding: raw)).map { "\($0)" } ?? "an error"
            tally.fail("\(nick): \(text)")
            if !isReady { ready.fail(ChannelError.ioOnClosedChannel) }
        case FrameType.ping.rawValue:
            if case .ping(let token)? = try? ServerFrame(decoding: raw) {
                write(tchat: .pong(token: token), id: raw.requestID, context: context)
            }
        default:
            break
        }
    }

    // MARK: - IRC

    private func readIRC(_ line: ByteBuffer, context: ChannelHandlerContext) {
        // The hot case first: ":nick!user@host PRIVMSG #channel :body", counted without copying.
        let isMessage = line.withUnsafeReadableBytes { bytes -> Bool in
            guard let space = bytes.firstIndex(of: 0x20), bytes.count > space + 8,
                memcmp(bytes.baseAddress! + space + 1, "PRIVMSG ", 8) == 0
            else { return false }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[(space + 9)...])
            guard let colon = rest.firstIndex(of: 0x3A) else { return true }
            var end = rest.count
            if end > colon + 1, rest[end - 1] == 0x0D { end -= 1 }
            count(UnsafeRawBufferPointer(rebasing: rest[(colon + 1)..<end]), skipOwn: false)
            return true
        }
        guard !isMessage else { return }
        let view = line.readableBytesView
        if view.starts(with: Array("PING".utf8)) {
            var reply = context.channel.allocator.buffer(capacity: view.count + 2)
            reply.writeString("PONG")
            reply.writeBytes(view.dropFirst(4))
            reply.writeString("\r\n")
            context.write(wrapOutboundOut(reply), promise: nil)
            return
        }
        // ":prefix COMMAND params"
        guard let space = view.firstIndex(of: UInt8(ascii: " ")) else { return }
        let rest = view[(space + 1)...]
        if rest.starts(with: Array("001 ".utf8)) {
            write(irc: "JOIN \(role.channel)\r\n", context: context)
        } else if rest.starts(with: Array("366 ".utf8)) {
            becomeReady()
        } else if let first = rest.first, first == UInt8(ascii: "4") || first == UInt8(ascii: "5"),
            rest.count > 3, rest[rest.startIndex + 3] == UInt8(ascii: " "),
            !rest.starts(with: Array("422 ".utf8))  // "no MOTD" is an error numeric but harmless
        {
            let text = String(decoding: view, as: UTF8.self)
            tally.fail("\(nick): \(text)")
            if !isReady { ready.fail(ChannelError.ioOnClosedChannel) }
        }
    }

    // MARK: - Counting and sending

    private func count(_ body: UnsafeRawBufferPointer, skipOwn: Bool) {
        guard let parsed = BenchBody.parse(body) else { return }
        if role.deliver(sender: parsed.sender, seq: parsed.seq, nanos: parsed.nanos, now: readTime, skipOwn: skipOwn) {
            deliveredInRead += 1
        }
    }

    /// Sends while the window allows, then flushes once. A sender whose window is full is woken by the
    /// delivery that makes room.
    func pump() {
        started = true
        guard let context, let sender = role.senderIndex else { return }
        while role.sent < role.quota {
            if role.sent - role.delivered >= role.window {
                guard let window = role.ownWindow, !window.waitIfFull(sent: role.sent, window: role.window) else {
                    break
                }
                continue
            }
            let now = NIODeadline.now().uptimeNanoseconds
            _ = tally.start.compareExchange(expected: 0, desired: now, ordering: .relaxed)
            let body = BenchBody.make(sender: sender, seq: role.sent, nanos: now, size: role.size)
            role.ownWindow?.sent(role.sent)
            role.sent += 1
            switch kind {
            case .tchat:
                let text = String(decoding: body, as: UTF8.self)
                write(tchat: .send(channel: role.channel, body: .text(text)), id: nextRequest, context: context)
                nextRequest = nextRequest == UInt32.max ? 3 : nextRequest + 1
            case .irc:
                var line = context.channel.allocator.buffer(capacity: body.count + role.channel.utf8.count + 16)
                line.writeString("PRIVMSG \(role.channel) :")
                line.writeBytes(body)
                line.writeString("\r\n")
                context.write(wrapOutboundOut(line), promise: nil)
            }
        }
        context.flush()
    }

    private func write(tchat frame: ClientFrame, id: UInt32, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64 + role.size)
        try? frame.encode(requestID: id, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func write(irc text: String, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
    }
}
