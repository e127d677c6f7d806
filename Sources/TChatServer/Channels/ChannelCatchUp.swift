import Foundation
import Logging
import NIOPosix
import Synchronization
import TChatProtocol

/// Brings channels up to what another server committed (`CommitLog`): reads the ids a channel lacks from the
/// store, oldest first, and applies them in order, so members here see every message once and in id order
/// whether it came pushed over a link, after a doorbell, or neither (a link down, a restart).
///
/// One read at a time per channel, on the channel manager's thread pool; asking again while one runs only moves
/// its target on.
final class ChannelCatchUp: Sendable {
    private struct Wanted {
        var name: ChannelName
        var target: UInt64
        var running: Bool
    }

    /// Messages read per round: a channel far behind catches up in several.
    static let pageSize = 1_000

    private let wanted = Mutex<[String: Wanted]>([:])
    private let channels: ChannelManager
    private let logger: Logger

    init(channels: ChannelManager, logger: Logger) {
        self.channels = channels
        self.logger = logger
    }

    /// The channel must hold every message up to `target`. With `maySkip` (a target the store itself named: a
    /// doorbell, our own commit), a channel nobody here is in only moves on to it, and a join reads what it wants
    /// from the store; a target a linked server's push named is always read, never skipped to, so a false one
    /// finds nothing and changes nothing.
    func need(_ name: ChannelName, upTo target: UInt64, maySkip: Bool = false) {
        guard channels.exists(name), channels.lastID(of: name) < target else { return }
        if maySkip, channels.skipIfNobodyHere(name, to: target) { return }
        let start = wanted.withLock { wanted in
            var entry = wanted[name.key] ?? Wanted(name: name, target: target, running: false)
            entry.target = max(entry.target, target)
            defer { entry.running = true; wanted[name.key] = entry }
            return !entry.running
        }
        guard start else { return }
        channels.threadPool.submit { [self] state in
            guard state == .active else {
                wanted.withLock { _ = $0.removeValue(forKey: name.key) }
                return
            }
            run(name)
        }
    }

    private func run(_ name: ChannelName) {
        var failures = 0
        while true {
            let have = channels.lastID(of: name)
            let target: UInt64? = wanted.withLock { wanted in
                guard let entry = wanted[name.key], entry.target > have else {
                    wanted[name.key] = nil
                    return nil
                }
                return entry.target
            }
            guard let target else { return }
            guard let channel = channels.directory.channel(name) else {
                wanted.withLock { _ = $0.removeValue(forKey: name.key) }
                return
            }
            let read: [ChatMessage]
            do {
                // A page from the oldest missing id on: a read returns the newest of what it may, so the range
                // is bounded above, or a channel far behind would skip all but its newest page.
                let upper = min(target, have + UInt64(Self.pageSize))
                read = try channels.store.readMessages(
                    file: channel.file, channel: channel.name.name, before: upper + 1, after: have,
                    limit: Self.pageSize)
            } catch {
                failures += 1
                logger.warning(
                    "cannot read a channel's new messages from the store",
                    metadata: ["channel": "\(name.name)", "error": "\(error)", "attempt": "\(failures)"])
                guard failures < 3 else {
                    // Given up for now: the next doorbell or message asks again.
                    wanted.withLock { _ = $0.removeValue(forKey: name.key) }
                    return
                }
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            guard !read.isEmpty else {
                // Nothing stored between: the ids were never committed (or were removed); start after them.
                logger.warning(
                    "a channel's announced messages are not in the store",
                    metadata: ["channel": "\(name.name)", "after": "\(have)", "up to": "\(target)"])
                wanted.withLock { _ = $0.removeValue(forKey: name.key) }
                return
            }
            for message in read { _ = channels.apply(message, allowGap: true, ack: nil) }
            guard channels.lastID(of: name) > have else {
                // Nothing applied (refused as implausible, say): reading the same page again would never end.
                logger.warning(
                    "a channel's messages in the store could not be applied; not caught up",
                    metadata: ["channel": "\(name.name)", "after": "\(have)"])
                wanted.withLock { _ = $0.removeValue(forKey: name.key) }
                return
            }
        }
    }
}
