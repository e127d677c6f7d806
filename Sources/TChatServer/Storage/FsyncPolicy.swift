/// When the history writer forces its writes to disk with `fsync`.
public enum FsyncPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Before acknowledging a message. Writes are batched (group commit), so one fsync covers every message that
    /// arrived while the previous one ran.
    case always
    /// At most this long after a write; a crash loses at most that much acknowledged history.
    case interval(Duration)
    /// Never; the operating system writes back when it likes.
    case never

    public var description: String {
        switch self {
        case .always: "always"
        case .interval(let duration): "interval \(duration.components.seconds)s"
        case .never: "never"
        }
    }
}
