public import NIOCore

/// Cuts the bytes of an IRC connection into lines, holding at most one unfinished line of bounded length.
///
/// A line ends at LF; CR and NUL bytes in it are dropped (IRC allows neither inside a line, and a stray one must not
/// reach a message others read). A line longer than `maxLineBytes` is not held: it is reported once as too long and the
/// rest of it, up to its LF, is skipped, so a client cannot make the server buffer more than one line's worth
/// whatever it sends. Lines that are not UTF-8 are read as Latin-1 (what IRC clients without a charset setting
/// send), so nothing a user types is lost or refused for its encoding. Pure: the caller says what time it is.
public struct IRCLineReader {
    public enum Line: Sendable, Hashable {
        case text(String)
        /// A line over the limit was dropped; what followed it up to its end is skipped.
        case tooLong
    }

    public let maxLineBytes: Int
    private var held: [UInt8] = []
    private var skipping = false
    private var ready: [Line] = []
    private var readyIndex = 0
    /// When the unfinished line now held began; nil when none is.
    public private(set) var partialSince: UInt64?

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes of an unfinished line held.
    public var heldBytes: Int { held.count }

    /// Takes in bytes read from the socket; `now` (any monotonic count) starts the unfinished line's clock.
    public mutating func receive(_ bytes: ByteBuffer, now: UInt64) {
        if readyIndex == ready.count {
            // A list grown by a burst read while lines waited (IRCBridge holds them during a history search) is
            // let go, not kept for the connection's life.
            ready.removeAll(keepingCapacity: ready.capacity <= 1024)
            readyIndex = 0
        }
        var finished = false
        bytes.withUnsafeReadableBytes { raw in
            var start = 0
            while start < raw.count {
                guard let newline = raw[start...].firstIndex(of: 0x0A) else {
                    hold(raw[start...])
                    break
                }
                hold(raw[start..<newline])
                finishLine()
                finished = true
                start = newline + 1
            }
        }
        if held.isEmpty && !skipping {
            partialSince = nil
        } else if finished || partialSince == nil {
            // The unfinished line now held began in this read: a client whose reads end mid-line while lines
            // keep finishing is never taken for one that stopped.
            partialSince = now
        }
    }

    /// Lines read and not yet taken (`next`).
    public var waitingLines: Int { ready.count - readyIndex }

    /// Starts the unfinished line's clock again: the caller stopped reading the socket for a while, and the rest
    /// of the line could not come meanwhile.
    public mutating func restartUnfinishedLineClock(now: UInt64) {
        if partialSince != nil { partialSince = now }
    }

    /// The next line read, in order.
    public mutating func next() -> Line? {
        guard readyIndex < ready.count else { return nil }
        defer { readyIndex += 1 }
        return ready[readyIndex]
    }

    private mutating func hold(_ bytes: UnsafeRawBufferPointer.SubSequence) {
        guard !skipping else { return }
        if held.count + bytes.count > maxLineBytes + 1 {  // + 1: a CR that will be dropped
            held.removeAll()
            skipping = true
            ready.append(.tooLong)
            return
        }
        held.append(contentsOf: bytes)
    }

    private mutating func finishLine() {
        if skipping {
            skipping = false
            return
        }
        if held.contains(0x0D) || held.contains(0) { held.removeAll { $0 == 0x0D || $0 == 0 } }
        if held.count > maxLineBytes {
            ready.append(.tooLong)
        } else if !held.isEmpty {
            ready.append(.text(Self.decode(held)))
        }
        held.removeAll(keepingCapacity: held.count <= 1024)
    }

    /// UTF-8 when the bytes are, else Latin-1: every byte one character.
    static func decode(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var text = ""
        text.unicodeScalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
        return text
    }
}
