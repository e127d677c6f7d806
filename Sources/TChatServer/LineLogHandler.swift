import Foundation
public import Logging
import TChatProtocol

/// Log lines as `TIME LEVEL message key=value ...`: one line per event, easy to grep, and the same whether or not
/// a terminal is attached. `tchatd` writes them to standard error; `tchat --local` to a file, away from its screen.
/// Lines are written by `LogOutput`'s thread, never by the thread that logs.
public struct LineLogHandler: LogHandler {
    /// The output's level when one is set (`--log-level`, changed by a reload), else the handler's own.
    public var logLevel: Logger.Level {
        get { output.level ?? ownLevel }
        set { ownLevel = newValue }
    }
    public var metadata: Logger.Metadata = [:]
    private var ownLevel: Logger.Level
    private let output: LogOutput

    public init(logLevel: Logger.Level, output: LogOutput = .standardError) {
        ownLevel = logLevel
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        output.write(Self.line(level: event.level.rawValue, message: event.message.description, metadata: merged))
    }

    /// `TIME LEVEL message key=value ...` and its newline.
    static func line(level: String, message: String, metadata: Logger.Metadata) -> String {
        var line = Timestamp.now().iso8601 + " " + level + " " + escaped(message)
        for key in metadata.keys.sorted() {
            let value = escaped("\(metadata[key]!)")
            let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            // Inside quotes a backslash is escaped too, so that `\"` in a value cannot end the quotes early.
            let quoted = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            line += " \(key)=" + (needsQuotes ? "\"" + quoted + "\"" : value)
        }
        return line + "\n"
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
        TextField.isControl(scalar) || TextField.isBidiOverride(scalar)
            || scalar.value == 0x200E || scalar.value == 0x200F || scalar.value == 0x061C
    }
}
