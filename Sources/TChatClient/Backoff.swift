/// How long to wait before the next reconnection attempt: doubling from `initial` up to `maximum`, each delay
/// shortened by a random part of up to `jitter` so that many clients dropped at once do not return at once.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    /// The fraction of a delay that may be taken off at random, 0 to 1.
    public var jitter: Double
    public private(set) var attempt = 0

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30), jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before the next attempt; `random` is a number in 0..<1.
    public mutating func next(random: Double = Double.random(in: 0..<1)) -> Duration {
        let doublings = min(attempt, 30)
        attempt += 1
        var delay = initial * (1 << doublings)
        if delay > maximum { delay = maximum }
        return delay * (1 - jitter * random)
    }

    /// After a connection that worked, start again from `initial`.
    public mutating func reset() { attempt = 0 }
}
