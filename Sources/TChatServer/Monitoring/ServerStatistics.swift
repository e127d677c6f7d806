public import TChatProtocol

/// What a running server reports about itself at one moment, for metrics: totals that only grow, and levels.
public struct ServerStatistics: Sendable {
    /// Totals since start.
    public var messages = 0
    public var deliveries = 0
    public var acceptedConnections = 0
    public var refusedConnections = 0
    public var evictedHandshakes = 0
    /// ERROR answers sent, by code.
    public var errors: [ErrorCode: Int] = [:]

    /// Levels now.
    public var connections = 0
    public var pendingHandshakes = 0
    public var clients = 0
    public var channels = 0
    /// Linked servers by name.
    public var links: [String] = []
    public var historyMemoryBytes = 0
    public var historyAnswerBytes = 0
    /// Bytes waiting for the history writer, and how long the oldest of them has waited.
    public var writerQueuedBytes = 0
    public var writerLag: Duration = .zero
    /// Log lines dropped because the log output was not read fast enough, since start.
    public var droppedLogLines = 0

    public init() {}
}
