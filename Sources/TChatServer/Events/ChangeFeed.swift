import Synchronization

/// Hears every `LocalChange`; the network layer's replicator is the one subscriber.
protocol ChangeSubscriber: Sendable {
    func changed(_ change: LocalChange)
}

/// The one path by which local changes leave for the rest of the network.
///
/// Channels and clients emit here and know nothing of links; the network layer subscribes once, at start-up,
/// after the managers it needs exist. Until then (and in tests without a network) changes go nowhere, as they
/// would on a server with no links.
final class ChangeFeed: Sendable {
    private let subscriber = Mutex<(any ChangeSubscriber)?>(nil)

    init() {}

    func subscribe(_ subscriber: any ChangeSubscriber) {
        self.subscriber.withLock { $0 = subscriber }
    }

    /// Called with the lock that ordered the change held (see `LocalChange`): the subscriber must only queue.
    func emit(_ change: LocalChange) {
        subscriber.withLock { $0 }?.changed(change)
    }
}
