import Foundation

/// Keeps a channel file within the history limit: once it holds twice `historyLimit` lines it is rewritten with the
/// newest `historyLimit`, so the copying costs at most one extra write per appended line.
enum HistoryCompaction {
    static func isDue(_ range: StoreWriter.FileRange, historyLimit: Int) -> Bool {
        range.lines >= 2 * historyLimit
    }

    /// Rewrites `path` (closed by the caller) atomically with its newest `keep` lines; returns how many lines it
    /// kept and the first kept message's id, when it could be read.
    static func compact(path: String, keep: Int) throws -> (lines: Int, firstID: UInt64?) {
        var kept: [[UInt8]] = []
        try LineFile.readBackward(path: path) { line in
            kept.append(line)
            return kept.count < keep
        }
        kept.reverse()
        var bytes: [UInt8] = []
        for line in kept {
            bytes.append(contentsOf: line)
            bytes.append(UInt8(ascii: "\n"))
        }
        try LineFile.replaceAtomically(path: path, with: bytes)
        let firstID = kept.first.flatMap { try? JSONDecoder().decode(MessageRecord.self, from: Data($0)) }?.id
        return (kept.count, firstID)
    }
}
