import NIOCore
import TChatProtocol

/// What the writer thread is given to do, and what it knows of each channel file.
extension StoreWriter {
    enum Job: Sendable {
        /// A channel message for `channels/<file>`; `ack` is told once the policy says it is stored.
        case message(file: String, ChatMessage, ack: DeliveryReceipt?)
        /// A finished connection for `clients.jsonl`.
        case connection(ConnectionRecord)
        /// Completes once every earlier job is written and synced (tests, shutdown).
        case barrier(EventLoopPromise<Void>)

        var cost: Int {
            switch self {
            case .message(_, let message, _): 128 + message.body.text.utf8.count + message.from.utf8.count
            case .connection: 256
            case .barrier: 0
            }
        }
    }

    /// What the writer knows of a channel file: its oldest and newest message ids, and about how many lines it has.
    package struct FileRange: Sendable {
        package var firstID: UInt64
        package var lastID: UInt64
        /// Counted, not taken from the ids: ids have gaps (messages numbered but not stored on a full disk), and a
        /// count from ids would overstate the file.
        var lines: Int

        /// For a file whose ids run without gaps from `firstID` to `lastID`; an overestimate otherwise, corrected by
        /// the next compaction.
        init(firstID: UInt64, lastID: UInt64) {
            self.firstID = firstID
            self.lastID = lastID
            lines = lastID >= firstID && firstID > 0 ? Int(min(lastID - firstID + 1, UInt64(Int.max))) : 0
        }
    }
}

extension ConnectionRecord {
    /// Its line in `clients.jsonl`.
    var line: [UInt8] {
        var writer = JSONLineWriter(reservingCapacity: 256)
        writer.field("nick", nick)
        writer.field("address", address)
        writer.field("connected", connected)
        writer.field("disconnected", disconnected)
        writer.field("durationMs", durationMs)
        writer.field("client", client)
        writer.field("clientVersion", clientVersion)
        writer.field("host", host)
        writer.field("pid", UInt64(pid))
        writer.field("reason", reason)
        return writer.finish()
    }
}
