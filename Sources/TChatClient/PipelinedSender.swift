import NIOCore
public import TChatProtocol

/// Sends many requests in order with a bounded number unanswered, and rides out the server's rate limit.
///
/// A server refuses requests beyond `--rate` with `rate-limited`, and refuses every request for a while after the
/// first refusal (`docs/protocol.md`), so what it refuses is always the tail of what is in flight. The sender then
/// waits for everything in flight, pauses, and sends the refused requests again from the first, one at a time until
/// the server takes one, then pipelined again: nothing is lost and nothing is reordered, only slowed down.
///
/// A SEND_ONCE refused as not stored (error 500: the server's store could not be reached, or "may or may not have
/// been stored") is sent again the same way, with its key, for up to `storeOutage`: the store keeps it once however
/// often it is sent. (Should a later message have been stored before an earlier one was refused, the earlier one
/// comes after it.)
public final class PipelinedSender {
    private let connection: ChatConnection
    private let window: Int
    private var inFlight: [(frame: ClientFrame, reply: EventLoopFuture<[ServerFrame]>)] = []
    /// The first pause after a refusal; doubled while the server keeps refusing.
    private let firstPause: Duration
    private let longestPause: Duration
    /// How long SEND_ONCEs refused as not stored are sent again before the refusal is reported.
    private let storeOutage: Duration

    /// Requests the server refused for its rate limit and this sender sent again, for reports.
    public private(set) var resent = 0

    public init(
        connection: ChatConnection, window: Int = 256, firstPause: Duration = .milliseconds(250),
        longestPause: Duration = .seconds(4), storeOutage: Duration = .seconds(60)
    ) {
        self.connection = connection
        self.window = max(window, 1)
        self.firstPause = firstPause
        self.longestPause = longestPause
        self.storeOutage = storeOutage
    }

    /// Whether `frame`, refused with `error`, is sent again rather than reported.
    static func mayResend(_ frame: ClientFrame, after error: ProtocolError) -> Bool {
        if error.code == .rateLimited { return true }
        if error.code == .storageFailure, case .sendOnce = frame { return true }
        return false
    }

    /// Queues a request; waits first while the window is full. Throws the first error other than `rate-limited`.
    public func submit(_ frame: ClientFrame) async throws {
        inFlight.append((frame, connection.submit(frame)))
        if inFlight.count >= window { try await settleOldest() }
    }

    /// Waits until every request is answered.
    public func finish() async throws {
        while !inFlight.isEmpty { try await settleOldest() }
    }

    /// Waits for everything submitted, ignoring failures: what was sent before a failure still counts.
    public func drain() async {
        for entry in inFlight { _ = try? await entry.reply.get() }
        inFlight.removeAll()
    }

    private func settleOldest() async throws {
        let oldest = inFlight.removeFirst()
        do {
            _ = try await oldest.reply.get()
        } catch let error as ProtocolError where Self.mayResend(oldest.frame, after: error) {
            try await resend(from: oldest.frame)
        }
    }

    /// The oldest request was refused: so was everything after it. Waits for those answers, then sends them again.
    private func resend(from refused: ClientFrame) async throws {
        var again = [refused]
        for entry in inFlight {
            do {
                _ = try await entry.reply.get()
            } catch let error as ProtocolError where Self.mayResend(entry.frame, after: error) {
                again.append(entry.frame)
            }
        }
        inFlight.removeAll()
        resent += again.count
        // One at a time until the server takes one: a pipelined retry would just be refused as a whole again.
        var pause = firstPause
        let started = ContinuousClock.now
        while true {
            try await Task.sleep(for: pause)
            do {
                _ = try await connection.request(again[0])
                break
            } catch let error as ProtocolError where Self.mayResend(again[0], after: error) {
                // A server that ended the connection (one sending its clients elsewhere) takes nothing more.
                guard connection.isOpen else { throw error }
                if error.code == .storageFailure, ContinuousClock.now - started > storeOutage { throw error }
                pause = min(pause * 2, longestPause)
            }
        }
        for frame in again.dropFirst() { try await submit(frame) }
    }
}
