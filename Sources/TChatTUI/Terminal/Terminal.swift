/// What the event loop needs from a terminal: its size, drawing a canvas, the bell. The curses implementation
/// draws for real; `RecordingTerminal` keeps what it was given, for tests.
public protocol Terminal: AnyObject {
    var size: (width: Int, height: Int) { get }
    /// Draws `canvas`, sending only the rows that differ from what the screen shows now.
    func draw(_ canvas: Canvas)
    /// Forgets what the screen shows and draws everything again on the next `draw` (Ctrl-L, after a resize).
    func invalidate()
    func bell()
}

/// A terminal that only remembers: for tests of the event loop and of what gets redrawn.
public final class RecordingTerminal: Terminal {
    public var size: (width: Int, height: Int)
    public private(set) var frames: [Canvas] = []
    public private(set) var bells = 0
    public private(set) var invalidations = 0

    public init(width: Int, height: Int) { size = (width, height) }

    public func draw(_ canvas: Canvas) { frames.append(canvas) }
    public func invalidate() { invalidations += 1 }
    public func bell() { bells += 1 }
}
