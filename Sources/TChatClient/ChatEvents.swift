import NIOCore
import Synchronization
public import TChatProtocol

/// The events a server pushes (request id 0): channel messages, joins, parts, nick changes, quits, topics,
/// notices, direct messages, and a last `error` saying why the server is closing the connection.
///
/// One consumer iterates it; it ends when the connection closes. Reading from the socket pauses while more than
/// `highWatermark` events wait, so a slow consumer bounds memory instead of growing it.
public struct ChatEvents: AsyncSequence, Sendable {
    public typealias Element = ServerFrame
    typealias Strategy = NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark
    typealias Producer = NIOAsyncSequenceProducer<ServerFrame, Strategy, ReadResumer>
    typealias Source = Producer.Source

    static let lowWatermark = 256
    static let highWatermark = 4096

    /// Turns reading back on once the consumer has caught up.
    final class ReadResumer: NIOAsyncSequenceProducerDelegate {
        let channel = Mutex<(any Channel)?>(nil)

        func produceMore() {
            channel.withLock { $0 }?.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }

        func didTerminate() {}
    }

    let producer: Producer

    static func make() -> (ChatEvents, Source, ReadResumer) {
        let resumer = ReadResumer()
        let made = Producer.makeSequence(
            backPressureStrategy: Strategy(lowWatermark: lowWatermark, highWatermark: highWatermark),
            finishOnDeinit: true, delegate: resumer)
        return (ChatEvents(producer: made.sequence), made.source, resumer)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator

        public mutating func next() async -> ServerFrame? { await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: producer.makeAsyncIterator()) }
}
