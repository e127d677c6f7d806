import NIOCore

/// How many requests a client may still make: a token bucket of `burst` tokens refilled at `rate` per second.
///
/// A client that runs it dry is refused everything for `pause` seconds (the time the bucket takes to fill half
/// way), not just the request that found it empty. With a plain bucket, a pipelined run of requests would be
/// refused with gaps — one accepted whenever a token had trickled back — and a client that sends the refused ones
/// again would reorder its messages. Each request refused meanwhile extends the refusal to at least `grace` after
/// it: a fixed stretch from the first refusal could end in the middle of a long pipelined run when the server is
/// busy, and accept its tail ahead of the refused middle. `grace` is at most a second, so a client that waits for
/// its answers and then backs off (doubling, up to 4 s in `PipelinedSender`) always gets through, however long
/// `pause` is. So what is refused stays contiguous, and "send again from the first refusal, in order, after a
/// pause" loses and reorders nothing.
struct RequestBudget {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var refilledAt: NIODeadline
    private var refusingUntil: NIODeadline?

    /// `rate` 0 means no limit.
    init(rate: Double, burst: Int, now: NIODeadline = .now()) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
        tokens = self.burst
        refilledAt = now
    }

    /// Takes a token; false when the request must be refused.
    mutating func spend(now: NIODeadline = .now()) -> Bool {
        guard rate > 0 else { return true }
        if let until = refusingUntil {
            guard now >= until else {
                refusingUntil = max(until, now + grace)
                return false
            }
            refusingUntil = nil
        }
        let elapsed = Double((now - refilledAt).nanoseconds) / 1e9
        tokens = min(burst, tokens + elapsed * rate)
        refilledAt = now
        guard tokens >= 1 else {
            refusingUntil = now + pauseAmount
            return false
        }
        tokens -= 1
        return true
    }

    /// Seconds a refused client should wait before sending again.
    var pause: Double { rate > 0 ? burst / 2 / rate : 0 }

    /// At most a day, whatever the rate: a tiny rate must not overflow the nanoseconds.
    private var pauseAmount: TimeAmount { .nanoseconds(Int64(min(pause, 86_400) * 1e9)) }

    /// How long after a refused request the refusal lasts at least: `pause`, but no more than a second.
    var grace: TimeAmount { min(pauseAmount, .seconds(1)) }
}
