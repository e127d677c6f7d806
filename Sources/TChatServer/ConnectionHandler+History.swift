import DequeModule
import NIOCore
import TChatProtocol

/// HISTORY: answered one request at a time per connection, within the server's bound on bytes held for answers
/// (`HistoryAnswers`), and written at the pace the client reads. An answer of 1,000 large messages (64 MB) used to
/// go out as one buffer, past the client's send-queue bound, and the client was cut off for asking.
extension ConnectionHandler {
    /// A HISTORY request waiting for its turn.
    struct HistoryRequest {
        let channel: ChannelName
        let before: UInt64
        let limit: Int
        let id: UInt32
    }

    /// Requests one connection may have waiting; more are refused until some are answered.
    static let maxWaitingHistory = 16
    /// Bytes of an answer written at once: the next part is encoded when this one has left.
    static let historyChunkBytes = 256 << 10
    /// A part not taken by the client in this time ends the connection, as a full send queue does: an answer held
    /// for a client that stopped reading would otherwise keep others' answers waiting.
    static let historyStall = TimeAmount.seconds(20)

    func history(
        _ channel: String, before: UInt64, limit: Int, session: ClientSession, requestID id: UInt32
    ) throws {
        let name = try ChannelName(validating: channel)
        guard (1...Int(ProtocolLimits.maxHistoryRequest)).contains(limit) else {
            throw ProtocolError(
                .invalidArgument, "a history request asks for 1 to \(ProtocolLimits.maxHistoryRequest) messages")
        }
        _ = try server.channels.channel(name, memberOnly: session, doing: "read its history")
        guard historyWaiting.count < Self.maxWaitingHistory else {
            throw ProtocolError(
                .rateLimited,
                "\(Self.maxWaitingHistory) history requests of yours are waiting already: not carried out; "
                    + "ask again once they are answered")
        }
        historyWaiting.append(HistoryRequest(channel: name, before: before, limit: limit, id: id))
        answerNextHistory(session: session)
    }

    /// Starts the oldest waiting request if none is being answered and its worst case fits the server's bound;
    /// otherwise looks again shortly.
    private func answerNextHistory(session: ClientSession) {
        guard !historyRunning, !isClosing, let request = historyWaiting.first else { return }
        let answers = server.historyAnswers
        let reserved = request.limit * (min(server.configuration.maxFrameLength, 1 << 20) + 128)
        historyRunning = true
        if historyWaitingSince == nil { historyWaitingSince = .now() }
        let waitedLong = historyWaitingSince.map { NIODeadline.now() - $0 > .milliseconds(500) } ?? false
        guard answers.reserve(reserved, for: connectionID ?? 0, waitedLong: waitedLong) else {
            session.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(20)) {
                self.historyRunning = false
                self.answerNextHistory(session: session)
            }
            return
        }
        historyWaiting.removeFirst()
        historyWaitingSince = nil
        // Asked again now: a request may have waited while its client was kicked or banned.
        do {
            _ = try server.channels.channel(request.channel, memberOnly: session, doing: "read its history")
        } catch {
            answers.release(reserved)
            server.counters.countError(error.code)
            Self.send([.error(error)], to: request.id, on: session)
            historyRunning = false
            answerNextHistory(session: session)
            return
        }
        let reading = server.channels.history(
            channel: request.channel, before: request.before, limit: request.limit, on: session.eventLoop)
        reading.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let messages):
                let held = messages.reduce(0) { $0 + HistoryMemory.cost(of: $1) }
                answers.release(reserved - min(held, reserved))
                self.write(messages[...], id: request.id, session: session, holding: min(held, reserved))
            case .failure(let error):
                answers.release(reserved)
                let refusal = Self.protocolError(error, doing: "history")
                self.server.counters.countError(refusal.code)
                Self.send([.error(refusal)], to: request.id, on: session)
                self.historyRunning = false
                self.answerNextHistory(session: session)
            }
        }
    }

    /// Writes the answer a part at a time, each once the last has left for the client, then OK; gives back what it
    /// held as it ends, however it ends.
    private func write(
        _ messages: ArraySlice<ChatMessage>, id: UInt32, session: ClientSession, holding held: Int
    ) {
        var buffer = session.channel.allocator.buffer(capacity: min(Self.historyChunkBytes, 4096))
        var rest = messages
        // A part larger than the send-queue bound would make the client look as if it stopped reading.
        let chunk = min(Self.historyChunkBytes, server.configuration.maxOutboundBytes / 4)
        while let message = rest.first, buffer.readableBytes < chunk {
            ClientSession.encode(.message(NoticeFallback.shown(message, to: session)), requestID: id, into: &buffer)
            rest = rest.dropFirst()
        }
        if rest.isEmpty { ClientSession.encode(.ok, requestID: id, into: &buffer) }
        let channel = session.channel
        let stall = channel.eventLoop.assumeIsolated().scheduleTask(in: Self.historyStall) {
            guard !self.isClosing else { return }
            self.logger.warning(
                "client cut off: it stopped reading a history answer",
                metadata: ["address": "\(self.address)", "nick": "\(self.nickForLog)"])
            self.closeReason = "stopped reading"
            self.isClosing = true
            channel.close(promise: nil)
        }
        channel.writeAndFlush(buffer).assumeIsolated().whenComplete { result in
            stall.cancel()
            guard case .success = result, !rest.isEmpty, !self.isClosing else {
                self.server.historyAnswers.release(held)
                self.historyRunning = false
                self.answerNextHistory(session: session)
                return
            }
            self.write(rest, id: id, session: session, holding: held)
        }
    }
}
