/// A rectangle of cells.
public struct Rect: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(width, 0)
        self.height = max(height, 0)
    }

    public func contains(x px: Int, y py: Int) -> Bool {
        px >= x && px < x + width && py >= y && py < y + height
    }
}

/// Where each part of the screen goes at a given terminal size.
///
/// From top to bottom: title bar, then the sidebar and message pane side by side, the status line, the input
/// line. Small terminals lose parts in order of least use: the sidebar collapses to entry numbers below 70
/// columns and goes below 30, then the title and status bars go (below 6 rows); the input line always stays.
public struct Layout: Sendable, Equatable {
    public var title: Rect?
    public var sidebar: Rect?
    public var pane: Rect
    public var status: Rect?
    public var input: Rect
    /// The sidebar shows numbers and activity marks only, no names.
    public var compactSidebar = false

    /// Below this width the sidebar shows numbers only.
    public static let sidebarFullTerminalWidth = 70
    /// Below this width there is no sidebar.
    public static let sidebarMinimumTerminalWidth = 30
    /// A compact entry: two digits and a mark (`12!`), and a space before them.
    public static let compactSidebarWidth = 4

    /// `sidebarWidth` is what the entries would like (the longest, with number and count).
    public init(width: Int, height: Int, sidebarWidth: Int) {
        let width = max(width, 1)
        let height = max(height, 1)
        input = Rect(x: 0, y: height - 1, width: width, height: 1)
        let bars = height >= 6
        title = bars ? Rect(x: 0, y: 0, width: width, height: 1) : nil
        status = bars ? Rect(x: 0, y: height - 2, width: width, height: 1) : nil
        let top = bars ? 1 : 0
        let middle = max(height - 1 - (bars ? 2 : 0), 0)
        if width >= Self.sidebarMinimumTerminalWidth && middle > 0 {
            compactSidebar = width < Self.sidebarFullTerminalWidth
            let side = compactSidebar ? Self.compactSidebarWidth : min(max(sidebarWidth, 10), width / 4)
            sidebar = Rect(x: 0, y: top, width: side, height: middle)
            // One column of separator between the sidebar and the pane.
            pane = Rect(x: side + 1, y: top, width: width - side - 1, height: middle)
        } else {
            sidebar = nil
            pane = Rect(x: 0, y: top, width: width, height: middle)
        }
    }
}
