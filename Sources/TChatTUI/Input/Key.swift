/// A key press (or paste, or click) as the chat model understands it, whatever bytes the terminal sent for it.
public enum Key: Sendable, Hashable {
    case character(Character)
    case enter
    case tab
    case backTab
    case backspace
    case delete
    case escape
    case up, down, left, right
    case home, end, pageUp, pageDown, insert
    /// F1 to F12.
    case function(Int)
    /// Control and a letter (`ctrl("a")` is Ctrl-A), for those not named above (Tab, Enter, Backspace).
    case ctrl(Character)
    /// Alt (Meta) and a character: Alt+1 is `alt("1")`.
    case alt(Character)
    case altLeft, altRight
    case ctrlLeft, ctrlRight
    /// A mouse button pressed at a 0-based cell.
    case click(x: Int, y: Int)
    /// The mouse wheel turned away from you (up) or towards you (down).
    case wheelUp, wheelDown
    /// Text pasted in one go (bracketed paste), newlines included.
    case paste(String)
}
