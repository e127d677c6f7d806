/// What a key does, apart from the state it does it to.
public enum KeyAction: Sendable, Equatable {
    /// Show sidebar entry n (0-based).
    case select(Int)
    case next, previous
    /// Alt+A: the most urgent entry of the activity list.
    case nextActivity
    /// Alt+J: the next two digits name an entry (01 to 99), for entries past F12 and Alt+0.
    case jumpPrefix
    case pageUp, pageDown
    /// The mouse wheel: lines back (positive) or forward.
    case wheel(Int)
    case historyUp, historyDown
    case left, right, wordLeft, wordRight, home, end
    case killToStart, killToEnd, killWordBefore
    /// Ctrl-Y: put back what the last kill took.
    case yank
    case backspace, deleteForward
    case redraw
    /// Ctrl-C: clears the line; on an empty line, asks before quitting.
    case interrupt
    /// Ctrl-D: quits on an empty line.
    case endOfInput
    case submit, complete
    case insert(Character)
    case paste(String)
    case click(x: Int, y: Int)
}

/// The key table, as irssi and WeeChat users' fingers know it (readline's editing keys, F-keys and Alt+digits for
/// windows). One table, so `/help` and the code cannot disagree about what a key does.
public enum KeyBindings {
    public static func action(for key: Key) -> KeyAction? {
        switch key {
        case .function(let number): .select(number - 1)
        case .alt(let character) where character.isASCII && character.isNumber:
            .select(character == "0" ? 9 : Int(String(character))! - 1)
        case .ctrl("n"), .altRight: .next
        case .ctrl("p"), .altLeft: .previous
        case .alt("a"): .nextActivity
        case .alt("j"): .jumpPrefix
        case .pageUp: .pageUp
        case .pageDown: .pageDown
        case .wheelUp: .wheel(3)
        case .wheelDown: .wheel(-3)
        case .up: .historyUp
        case .down: .historyDown
        case .left, .ctrl("b"): .left
        case .right, .ctrl("f"): .right
        case .alt("b"), .ctrlLeft: .wordLeft
        case .alt("f"), .ctrlRight: .wordRight
        case .home, .ctrl("a"): .home
        case .end, .ctrl("e"): .end
        case .ctrl("u"): .killToStart
        case .ctrl("k"): .killToEnd
        case .ctrl("w"), .alt("\u{7F}"): .killWordBefore
        case .ctrl("y"): .yank
        case .backspace, .ctrl("h"): .backspace
        case .delete: .deleteForward
        case .ctrl("l"): .redraw
        case .ctrl("c"): .interrupt
        case .ctrl("d"): .endOfInput
        case .enter: .submit
        case .tab: .complete
        case .character(let character): .insert(character)
        case .paste(let text): .paste(text)
        case .click(let x, let y): .click(x: x, y: y)
        default: nil
        }
    }

    /// The keys as `/help` lists them.
    static let help: [(String, String)] = [
        ("F1 … F12", "switch to sidebar entry 1 … 12"),
        ("Alt+1 … Alt+9, Alt+0", "switch to entry 1 … 9, and 10"),
        ("Alt+J and two digits", "switch to entry 01 … 99 (also /window n)"),
        ("Ctrl-N, Alt+Right", "next entry"),
        ("Ctrl-P, Alt+Left", "previous entry"),
        ("Alt+A", "the entry the activity list (Act: in the status line) names first: mentions, then messages"),
        ("PgUp, PgDn", "scroll the messages; past the top, older history is fetched"),
        ("mouse wheel", "scroll the messages (/mouse gives the mouse back to the terminal)"),
        ("End", "end of the line; at the end already, back to live messages"),
        ("Up, Down", "walk the lines typed before"),
        ("Left, Right, Home, End", "move in the line"),
        ("Ctrl-A, Ctrl-E", "start, end of the line"),
        ("Alt-B/F, Ctrl-Left/Right", "a word back, forward"),
        ("Ctrl-U, Ctrl-K", "cut to the start, to the end of the line"),
        ("Ctrl-W, Alt-Backspace", "cut the word before the cursor"),
        ("Ctrl-Y", "paste back what was cut last"),
        ("Backspace, Delete", "delete the character (a whole emoji or accented letter) before, after the cursor"),
        ("Tab", "complete a nick (recent speakers first), #channel or /command; again for the next"),
        ("Ctrl-L", "redraw the screen"),
        ("Ctrl-C", "cut the line (Ctrl-Y brings it back); on an empty line, press it twice to quit"),
        ("Ctrl-D", "delete after the cursor; on an empty line, as Ctrl-C"),
        ("mouse click", "on a sidebar entry, switch to it"),
    ]
}
