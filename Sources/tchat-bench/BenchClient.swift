import Histogram
import NIOCore
import NIOPosix
import Synchronization
import TChatProtocol
import TChatTLS

/// What one benchmark client does and counts. Everything in it is touched on its connection's event loop only.
final class BenchRole {
    /// Index of this client among the senders, or nil for a receiver only.
    let senderIndex: Int?
    /// Messages this client sends in all.
    let quota: Int
    /// Messages allowed at once that some member has not yet received.
    let window: Int
    let size: Int
    let channel: String
    /// Whether this client counts what it receives.
    let receives: Bool
    /// Messages each sender sends, to size the bookkeeping.
    let perSender: [Int]
    /// The senders whose messages this client should see (those in its channel).
    let expectedSenders: Set<Int>
    /// Every sender's window, by sender index: this client's own keeps its sending in step with its members, and
    /// the others hear from it what it received.
    let windows: [DeliveryWindow]
    /// What this client received during the current read, per sender, reported to their windows once per read.
    private var receivedInRead: [Int: [Int]] = [:]

    var sent = 0
    var received = 0
    var duplicated = 0
    var reordered = 0
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    /// Which sequence numbers arrived, all senders in one array (sender `s` starts at `offsets[s]`), and the
    /// highest per sender: one flat array keeps the per-delivery bookkeeping to two index operations.
    var seen: [Bool]
    let offsets: [Int]
    var highest: [Int]

    init(
        senderIndex: Int?, quota: Int, window: Int, size: Int, channel: String, receives: Bool, perSender: [Int],
        expectedSenders: Set<Int>, windows: [DeliveryWindow] = []
    ) {
        self.expectedSenders = expectedSenders
        self.windows = windows
        self.senderIndex = senderIndex
        self.quota = quota
        self.window = window
        self.size = size
        self.channel = channel
        self.receives = receives
        self.perSender = perSender
        var offsets: [Int] = []
        var total = 0
        for count in perSender {
            offsets.append(total)
            total += count
        }
        self.offsets = offsets
        seen = [Bool](repeating: false, count: receives ? total : 0)
        highest = [Int](repeating: -1, count: perSender.count)
    }

    /// Books one delivery: latency, duplicates and order. Returns false for a message not counted.
    func deliver(sender: Int, seq: Int, nanos: UInt64, now: UInt64, skipOwn: Bool) -> Bool {
        guard receives, sender < perSender.count, seq < perSender[sender] else { return false }
        if skipOwn, sender == senderIndex { return false }  // a tchat sender in the channel gets its own back
        let slot = offsets[sender] + seq
        if seen[slot] {
            duplicated += 1
            return false
        }
        seen[slot] = true
        if seq < highest[sender] { reordered += 1 }
        highest[sender] = max(highest[sender], seq)
        received += 1
        if sender < windows.count { receivedInRead[sender, default: []].append(seq) }
        _ = histogram.record(now >= nanos ? (now - nanos) / 1000 : 0)
        return true
    }

    /// Tells the senders' windows what arrived during this read.
    func reportReceived() {
        guard !receivedInRead.isEmpty else { return }
        for (sender, seqs) in receivedInRead { windows[sender].received(seqs) }
        receivedInRead.removeAll(keepingCapacity: true)
    }

    /// This client's own window, if it sends.
    var ownWindow: DeliveryWindow? { senderIndex.flatMap { $0 < windows.count ? windows[$0] : nil } }

    /// Messages every member has received.
    var delivered: Int { ownWindow?.delivered ?? sent }

    /// Messages expected from the senders but never seen.
    var lost: Int {
        guard receives else { return 0 }
        var lost = 0
        for sender in expectedSenders where sender != senderIndex {
            lost += seen[offsets[sender]..<(offsets[sender] + perSender[sender])].reduce(0) { $0 + ($1 ? 0 : 1) }
        }
        return lost
    }
}

/// Shared tallies the scenario watches while clients run on their loops.
final class BenchTally: Sendable {
    let delivered = Atomic<Int>(0)
    let ready = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let start = Atomic<UInt64>(0)
    private let failures = Mutex<[String]>([])

    func fail(_ text: String) {
        failed.add(1, ordering: .relaxed)
        failures.withLock { if $0.count < 5 { $0.append(text) } }
    }

    var firstFailures: [String] { failures.withLock { $0 } }
}

/// The protocol a benchmark client speaks.
enum BenchProtocol: String, Sendable, CaseIterable {
    case tchat, irc
}

/// One benchmark connection: registers, joins its channel, then sends and counts as its role says.
final class BenchClient: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<BenchHandler>

    private init(channel: any Channel, handler: NIOLoopBound<BenchHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects and registers; completes once the client is in its channel.
    /// `role` is made on the client's event loop, where it lives.
    static func connect(
        to address: ServerAddress, protocol kind: BenchProtocol, nick: String, tally: BenchTally,
        group: any EventLoopGroup, source: String? = nil, tls: TLSClient? = nil,
        role makeRole: @escaping @Sendable () -> BenchRole
    ) async throws -> BenchClient {
        let loop = group.next()
        let ready = loop.makePromise(of: Void.self)
        let handlerBox = try await loop.submit {
            NIOLoopBound(
                BenchHandler(kind: kind, nick: nick, role: makeRole(), tally: tally, ready: ready), eventLoop: loop)
        }.get()
        var bootstrap = ClientBootstrap(group: loop)
        if let source {
            // One source address has about 28,000 ephemeral ports; more clients than that need more addresses.
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0))
        }
        let channel =
            try await bootstrap
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Over TLS the registration written at once waits in the TLS handler for the handshake.
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: address.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(handlerBox.value)
                }
            }
            .connect(host: address.host, port: address.port).get()
        try await ready.futureResult.get()
        return BenchClient(channel: channel, handler: handlerBox)
    }

    /// Starts sending (a sender with a quota); returns at once.
    func go() {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.pump() }
    }

    /// The client's role, read on its loop once the run is over.
    func role() async throws -> BenchRoleSnapshot {
        let handler = self.handler
        return try await channel.eventLoop.submit {
            let role = handler.value.role
            return BenchRoleSnapshot(
                sent: role.sent, received: role.received, lost: role.lost, duplicated: role.duplicated,
                reordered: role.reordered, histogram: role.histogram)
        }.get()
    }

    /// Closes the connection; the handler no longer counts the close as the server's doing.
    func close() async {
        let handler = self.handler
        try? await channel.eventLoop.submit { handler.value.isClosing = true }.get()
        try? await channel.close()
    }
}

/// What a finished client counted, safe to move off its loop.
struct BenchRoleSnapshot: Sendable {
    var sent: Int
    var received: Int
    var lost: Int
    var duplicated: Int
    var reordered: Int
    var histogram: Histogram<UInt64>
}
