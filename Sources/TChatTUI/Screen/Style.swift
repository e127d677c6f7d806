/// The eight colours every colour terminal has; a `Theme` maps them to what the terminal can show.
public enum Color: UInt8, Sendable, Hashable, CaseIterable {
    case black, red, green, yellow, blue, magenta, cyan, white
}

/// How a cell looks, in terms any terminal can honour: a foreground colour (nil: the terminal's own) and
/// attributes that still work without colour (`NO_COLOR`, monochrome terminals).
public struct Style: Sendable, Hashable {
    public var foreground: Color?
    public var background: Color?
    public var bold = false
    public var dim = false
    public var reverse = false
    public var underline = false

    public init(
        foreground: Color? = nil, background: Color? = nil, bold: Bool = false, dim: Bool = false,
        reverse: Bool = false, underline: Bool = false
    ) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    public static let plain = Style()
    /// The title and status bars.
    public static let bar = Style(foreground: .white, background: .blue)
    public static let dimmed = Style(dim: true)
    public static let error = Style(foreground: .red, bold: true)
    public static let highlight = Style(foreground: .yellow, bold: true)

    /// A nick's colour: the same nick always gets the same one, on every screen (FNV-1a of its lower-cased form,
    /// not Swift's per-process seeded hash).
    public static func nick(_ nick: String) -> Style {
        var hash: UInt32 = 2_166_136_261
        for byte in nick.lowercased().utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let palette: [Color] = [.red, .green, .yellow, .blue, .magenta, .cyan]
        let index = Int(hash % UInt32(palette.count * 2))
        return Style(foreground: palette[index % palette.count], bold: index >= palette.count)
    }
}
