import CoreMetrics
public import Prometheus
import Synchronization
import TChatProtocol
public import TChatServer

/// swift-metrics' types; swift-prometheus has its own of the same names, which this file uses only through them.
typealias Counter = CoreMetrics.Counter
typealias Gauge = CoreMetrics.Gauge

/// Turns a server's statistics into Prometheus metrics, through swift-metrics' types backed by swift-prometheus'
/// registry: counters for totals (fed the growth since the last scrape, so `rate()` works) and gauges for levels.
///
/// The server counts with plain atomics on its own paths; this asks it for a snapshot when scraped, so nothing is
/// paid between scrapes.
public final class MetricsExporter: Sendable {
    private struct Totals {
        var messages = 0
        var deliveries = 0
        var accepted = 0
        var refused = 0
        var evicted = 0
        var errors: [ErrorCode: Int] = [:]
        var droppedLogLines = 0
        var errorCounters: [ErrorCode: Counter] = [:]
        var linkGauges: [String: Gauge] = [:]
    }

    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let snapshot: @Sendable () -> ServerStatistics
    private let last = Mutex(Totals())

    private let messages: Counter
    private let deliveries: Counter
    private let accepted: Counter
    private let refused: Counter
    private let evicted: Counter
    private let droppedLogLines: Counter
    private let connections: Gauge
    private let handshakes: Gauge
    private let clients: Gauge
    private let channels: Gauge
    private let links: Gauge
    private let historyMemory: Gauge
    private let historyAnswers: Gauge
    private let writerQueued: Gauge
    private let writerLag: Gauge

    /// `snapshot` is asked on every scrape (`ChatServer.statistics`, with the log's dropped lines filled in).
    public init(snapshot: @escaping @Sendable () -> ServerStatistics) {
        self.snapshot = snapshot
        factory = PrometheusMetricsFactory(registry: registry)
        let factory = self.factory
        func counter(_ name: String) -> Counter { Counter(label: name, factory: factory) }
        func gauge(_ name: String) -> Gauge { Gauge(label: name, factory: factory) }
        messages = counter("tchat_messages_total")
        deliveries = counter("tchat_deliveries_total")
        accepted = counter("tchat_connections_accepted_total")
        refused = counter("tchat_connections_refused_total")
        evicted = counter("tchat_handshakes_ended_total")
        droppedLogLines = counter("tchat_log_lines_dropped_total")
        connections = gauge("tchat_connections")
        handshakes = gauge("tchat_handshakes_pending")
        clients = gauge("tchat_clients")
        channels = gauge("tchat_channels")
        links = gauge("tchat_links")
        historyMemory = gauge("tchat_history_memory_bytes")
        historyAnswers = gauge("tchat_history_answer_bytes")
        writerQueued = gauge("tchat_history_writer_queued_bytes")
        writerLag = gauge("tchat_history_writer_lag_seconds")
    }

    /// The Prometheus text exposition of the server now.
    public func render() -> [UInt8] {
        let now = snapshot()
        last.withLock { last in
            func grow(_ counter: Counter, _ total: Int, _ previous: inout Int) {
                if total > previous { counter.increment(by: Int64(total - previous)) }
                previous = total
            }
            grow(messages, now.messages, &last.messages)
            grow(deliveries, now.deliveries, &last.deliveries)
            grow(accepted, now.acceptedConnections, &last.accepted)
            grow(refused, now.refusedConnections, &last.refused)
            grow(evicted, now.evictedHandshakes, &last.evicted)
            grow(droppedLogLines, now.droppedLogLines, &last.droppedLogLines)
            for (code, total) in now.errors {
                let counter =
                    last.errorCounters[code]
                    ?? Counter(
                        label: "tchat_errors_total", dimensions: [("code", "\(code.rawValue)"), ("name", "\(code)")],
                        factory: factory)
                last.errorCounters[code] = counter
                var previous = last.errors[code, default: 0]
                grow(counter, total, &previous)
                last.errors[code] = previous
            }
            // One gauge per linked server, 1 while linked; a link that went is set to 0, not forgotten, so a
            // dashboard sees it drop.
            for (name, gauge) in last.linkGauges where !now.links.contains(name) { gauge.record(0) }
            for name in now.links {
                let gauge =
                    last.linkGauges[name]
                    ?? Gauge(label: "tchat_link_up", dimensions: [("server", name)], factory: factory)
                last.linkGauges[name] = gauge
                gauge.record(1)
            }
        }
        connections.record(now.connections)
        handshakes.record(now.pendingHandshakes)
        clients.record(now.clients)
        channels.record(now.channels)
        links.record(now.links.count)
        historyMemory.record(now.historyMemoryBytes)
        historyAnswers.record(now.historyAnswerBytes)
        writerQueued.record(now.writerQueuedBytes)
        writerLag.record(now.writerLag.inSeconds)
        return registry.emitToBuffer()
    }
}
