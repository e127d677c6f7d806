import NIOCore

/// Pings clients that have gone quiet, closes those silent for the whole idle timeout and those that began a frame
/// and did not finish it within the frame timeout, and those that did not say HELLO in time: one timer per event loop that looks at every connection on it,
/// as an IRC server's once-a-second check does.
///
/// A timer per connection (a repeated task, its closure and its promise) cost about 440 bytes for each idle client,
/// more than anything else of ours; a sweep costs one table entry per connection and a pass over the table every
/// quarter of the timeout. Checking every quarter leaves a client that answers at least a quarter of the timeout for
/// its pong to arrive.
///
/// Lives on its loop and is only touched there; the timer runs while the loop has connections.
final class KeepAliveSweep {
    private struct Entry {
        let handler: ConnectionHandler
        let context: ChannelHandlerContext
    }

    private let loop: any EventLoop
    private let timeout: TimeAmount
    private let frameTimeout: TimeAmount
    private let helloTimeout: TimeAmount
    private var entries: [UInt64: Entry] = [:]
    private var timer: RepeatedTask?

    init(loop: any EventLoop, timeout: TimeAmount, frameTimeout: TimeAmount, helloTimeout: TimeAmount) {
        self.loop = loop
        self.timeout = timeout
        self.frameTimeout = frameTimeout
        self.helloTimeout = helloTimeout
    }

    /// Watches a connection from now until `remove`.
    func add(_ id: UInt64, handler: ConnectionHandler, context: ChannelHandlerContext) {
        entries[id] = Entry(handler: handler, context: context)
        guard timer == nil else { return }
        // The hello deadline is checked more finely than the others, so its jitter spreads the closes.
        let shortest = min(timeout.nanoseconds / 4, frameTimeout.nanoseconds / 4, helloTimeout.nanoseconds / 16)
        let check = TimeAmount.nanoseconds(max(shortest, 1_000_000))
        let bound = NIOLoopBound(self, eventLoop: loop)
        timer = loop.scheduleRepeatedTask(initialDelay: check, delay: check) { _ in bound.value.sweep() }
    }

    func remove(_ id: UInt64) {
        entries[id] = nil
        if entries.isEmpty {
            timer?.cancel()
            timer = nil
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        let half = TimeAmount.nanoseconds(timeout.nanoseconds / 2)
        var silentTooLong: [Entry] = []
        var quiet: [Entry] = []
        var unfinished: [Entry] = []
        var noHello: [Entry] = []
        for entry in entries.values {
            if case .awaitingHello = entry.handler.phase,
                now - entry.handler.arrived
                    >= helloTimeout - .nanoseconds(Int64(Double(helloTimeout.nanoseconds) * entry.handler.helloJitter))
            {
                noHello.append(entry)
                continue
            }
            if let since = entry.handler.inbound.partialSince, now - since >= frameTimeout {
                unfinished.append(entry)
                continue
            }
            let silent = now - entry.handler.lastActivity
            if silent >= timeout {
                silentTooLong.append(entry)
            } else if silent >= half {
                quiet.append(entry)
            }
        }
        // Acted on after the pass: closing a connection removes it from `entries`.
        for entry in quiet { entry.handler.ping(context: entry.context) }
        for entry in noHello { entry.handler.closeForMissingHello(context: entry.context) }
        for entry in unfinished { entry.handler.closeForUnfinishedFrame(context: entry.context) }
        for entry in silentTooLong { entry.handler.closeForIdleness(context: entry.context, after: timeout) }
    }
}
