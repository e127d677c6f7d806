/// The help buffer's contents: every command (from `CommandSpec`) and every key.
enum HelpText {
    static let keys: [(String, String)] = [
        ("F1 … F12", "switch to sidebar entry 1 … 12"),
        ("Alt+1 … Alt+9, Alt+0", "switch to entry 1 … 9, and 10"),
        ("Ctrl-N, Alt+Right", "next entry"),
        ("Ctrl-P, Alt+Left", "previous entry"),
        ("Alt+A", "next entry with a mention, else with unread messages"),
        ("PgUp, PgDn", "scroll the messages; past the top, older history is fetched"),
        ("End", "end of the line; at the end already, back to live messages"),
        ("Up, Down", "walk the lines typed before"),
        ("Left, Right, Home, End", "move in the line"),
        ("Ctrl-A, Ctrl-E", "start, end of the line"),
        ("Ctrl-U, Ctrl-K", "delete to the start, to the end of the line"),
        ("Ctrl-W", "delete the word before the cursor"),
        ("Backspace, Delete", "delete before, after the cursor"),
        ("Tab", "complete a nick (recent speakers first), #channel or /command; again for the next"),
        ("Ctrl-L", "redraw the screen"),
        ("Ctrl-C, Ctrl-D on an empty line", "quit"),
        ("mouse click", "on a sidebar entry, switch to it"),
    ]

    /// The lines, each with the indent its wrapped rows take (under the description column).
    static var lines: [(text: String, indent: Int)] {
        var lines: [(String, Int)] = [("Commands:", 0)]
        let width = CommandSpec.all.map { $0.name.count + 1 + $0.arguments.count }.max() ?? 0
        for spec in CommandSpec.all {
            let usage = "/\(spec.name)" + (spec.arguments.isEmpty ? "" : " \(spec.arguments)")
            lines.append(("  " + usage.padding(to: width + 2) + spec.summary, width + 4))
        }
        lines.append(("  A line starting with // sends it with one / removed.", 2))
        lines.append(("", 0))
        lines.append(("Keys:", 0))
        let keyWidth = keys.map { $0.0.count }.max() ?? 0
        for (key, what) in keys { lines.append(("  " + key.padding(to: keyWidth + 2) + what, keyWidth + 4)) }
        lines.append(("", 0))
        lines.append(("Pasting several lines sends each as a message; more than 5 asks first.", 0))
        return lines
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
