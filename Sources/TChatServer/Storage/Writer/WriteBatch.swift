import NIOCore

/// One turn of the writer's jobs, grouped per file in arrival order: each file's new lines become one `write`, and
/// its acknowledgements wait for that write (and fsync) alone. Pure: no I/O.
struct WriteBatch {
    /// One file's share: its new lines, the acknowledgements waiting for them, and (for a channel file) the ids
    /// they carry.
    struct FileLines {
        /// Relative to the data directory.
        let path: String
        /// The channel file's name under `channels/`; nil for the connection log.
        let file: String?
        var bytes: [UInt8] = []
        var acks: [DeliveryReceipt] = []
        var firstID: UInt64 = 0
        var lastID: UInt64 = 0
        var lines = 0
    }

    private(set) var files: [FileLines] = []
    private(set) var barriers: [EventLoopPromise<Void>] = []

    /// One dictionary lookup per message; ids increase within a channel file, so each file's order is kept.
    init(_ jobs: [StoreWriter.Job]) {
        var byFile: [String: Int] = [:]
        var connectionLog: Int?
        for job in jobs {
            switch job {
            case .message(let file, let message, let ack):
                let index: Int
                if let known = byFile[file] {
                    index = known
                } else {
                    index = files.count
                    files.append(FileLines(path: "channels/" + file, file: file, firstID: message.id))
                    byFile[file] = index
                }
                MessageRecord.appendLine(for: message, to: &files[index].bytes)
                if let ack { files[index].acks.append(ack) }
                files[index].lastID = message.id
                files[index].lines += 1
            case .connection(let record):
                let index = connectionLog ?? files.count
                if connectionLog == nil {
                    files.append(FileLines(path: StoreWriter.clientsFile, file: nil))
                    connectionLog = index
                }
                files[index].bytes.append(contentsOf: record.line)
            case .barrier(let promise):
                barriers.append(promise)
            }
        }
    }

    /// Whether a message goes to a file the last `channels.json` written does not name yet.
    static func writesUnnamed(_ jobs: [StoreWriter.Job], named: Set<String>) -> Bool {
        jobs.contains { job in
            if case .message(let file, _, _) = job { return !named.contains(file) }
            return false
        }
    }
}
