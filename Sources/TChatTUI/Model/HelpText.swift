/// The help buffer's contents: every command (from `CommandSpec`) and every key.
enum HelpText {
    /// The lines, each with the indent its wrapped rows take (under the description column).
    static var lines: [(text: String, indent: Int)] {
        var lines: [(String, Int)] = [("Commands:", 0)]
        let width = CommandSpec.all.map { $0.name.count + 1 + $0.arguments.count }.max() ?? 0
        for spec in CommandSpec.all {
            let usage = "/\(spec.name)" + (spec.arguments.isEmpty ? "" : " \(spec.arguments)")
            let aliases =
                spec.aliases.isEmpty ? "" : " (also " + spec.aliases.map { "/" + $0 }.joined(separator: ", ") + ")"
            lines.append(("  " + usage.padding(to: width + 2) + spec.summary + aliases, width + 4))
        }
        lines.append(("  A line starting with // sends it with one / removed.", 2))
        lines.append(("", 0))
        lines.append(("Keys:", 0))
        let keyWidth = KeyBindings.help.map { $0.0.count }.max() ?? 0
        for (key, what) in KeyBindings.help {
            lines.append(("  " + key.padding(to: keyWidth + 2) + what, keyWidth + 4))
        }
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
