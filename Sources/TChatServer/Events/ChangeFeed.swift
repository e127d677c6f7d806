/// Hears every `LocalChange`; the network layer's replicator is the one subscriber.
protocol ChangeSubscriber: Sendable {
    func changed(_ change: LocalChange)
}

/// The one path by which local changes leave for the rest of the network.
///
/// Channels and clients emit here and know nothing of links. The subscriber is fixed when the feed is made (the
/// server makes its link manager first), so emitting takes no lock; with none (tests without a network) changes go
/// nowhere, as they would on a server with no links.
final class ChangeFeed: Sendable {
    private let subscriber: (any ChangeSubscriber)?

    init(subscriber: (any ChangeSubscriber)? = nil) {
        self.subscriber = subscriber
    }

    /// Called with the lock that ordered the change held (see `LocalChange`): the subscriber must only queue.
    func emit(_ change: LocalChange) {
        subscriber?.changed(change)
    }
}
