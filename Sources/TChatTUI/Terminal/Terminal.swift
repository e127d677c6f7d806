import Synchronization

/// What the event loop needs from a terminal: its size, drawing a canvas, the bell. The curses implementation
/// draws for real; `RecordingTerminal` keeps what it was given, for tests.
public protocol Terminal: AnyObject {
    var size: (width: Int, height: Int) { get }
    /// Draws `canvas`, sending only the rows that differ from what the screen shows now.
    func draw(_ canvas: Canvas)
    /// Forgets what the screen shows and draws everything again on the next `draw` (Ctrl-L, after a resize).
    func invalidate()
    func bell()
    /// Turns mouse reports on (the wheel scrolls tchat, a click selects) or off (the terminal's own selection and
    /// wheel work again).
    func setMouse(_ on: Bool)
    /// Takes the terminal's new size (after SIGWINCH).
    func resize(width: Int, height: Int)
    /// Restores the terminal as it was; safe to call more than once.
    func end()
}

/// A terminal that only remembers what it was asked to do: the event loop's tests read its frames from another
/// thread, hence the lock.
public final class RecordingTerminal: Terminal, Sendable {
    private struct State {
        var size: (width: Int, height: Int)
        var frames: [Canvas] = []
        var bells = 0
        var invalidations = 0
        var ended = false
        var mouse = true
    }

    private let state: Mutex<State>

    public init(width: Int, height: Int) { state = Mutex(State(size: (width, height))) }

    public var size: (width: Int, height: Int) { state.withLock { $0.size } }
    public var frames: [Canvas] { state.withLock { $0.frames } }
    public var lastFrame: Canvas? { state.withLock { $0.frames.last } }
    public var bells: Int { state.withLock { $0.bells } }
    public var invalidations: Int { state.withLock { $0.invalidations } }
    public var ended: Bool { state.withLock { $0.ended } }
    public var mouse: Bool { state.withLock { $0.mouse } }

    public func draw(_ canvas: Canvas) { state.withLock { $0.frames.append(canvas) } }
    public func invalidate() { state.withLock { $0.invalidations += 1 } }
    public func bell() { state.withLock { $0.bells += 1 } }
    public func resize(width: Int, height: Int) { state.withLock { $0.size = (width, height) } }
    public func end() { state.withLock { $0.ended = true } }
    public func setMouse(_ on: Bool) { state.withLock { $0.mouse = on } }
}
