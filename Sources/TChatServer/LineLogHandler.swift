public import Foundation
public import Logging
import TChatProtocol

/// Log lines as `TIME LEVEL message key=value ...`: one line per event, easy to grep, and the same whether or not
/// a terminal is attached. `tchatd` writes them to standard error; `tchat --local` to a file, away from its screen.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let output: FileHandle

    public init(logLevel: Logger.Level, output: FileHandle = .standardError) {
        self.logLevel = logLevel
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Timestamp.now().iso8601 + " " + event.level.rawValue + " " + Self.escaped(event.message.description)
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() {
            let value = Self.escaped("\(merged[key]!)")
            let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            // Inside quotes a backslash is escaped too, so that `\"` in a value cannot end the quotes early.
            let quoted = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            line += " \(key)=" + (needsQuotes ? "\"" + quoted + "\"" : value)
        }
        line += "\n"
        output.write(Data(line.utf8))
    }

    /// One event, one line, and nothing a terminal obeys: a newline is written `\n`, any other control character
    /// (ESC, CSI...) and any bidirectional override or isolate (which would reorder what follows on the line) as
    /// `\u{1B}`. Log lines quote what clients and linked servers sent, and operators read them in terminals.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: mustEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                out += "\\n"
            } else if mustEscape(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func mustEscape(_ scalar: Unicode.Scalar) -> Bool {
        TextField.isControl(scalar) || (0x202A...0x202E).contains(scalar.value)
            || (0x2066...0x2069).contains(scalar.value)
            || scalar.value == 0x200E || scalar.value == 0x200F || scalar.value == 0x061C
    }
}
