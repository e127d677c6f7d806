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
        var line =
            Timestamp.now().iso8601 + " " + event.level.rawValue + " "
            + event.message.description.replacingOccurrences(of: "\n", with: "\\n")
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() {
            // One event, one line: a newline inside a value (an error's description, say) is written as \n.
            let value = "\(merged[key]!)".replacingOccurrences(of: "\n", with: "\\n")
            let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line +=
                " \(key)=" + (needsQuotes ? "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : value)
        }
        line += "\n"
        output.write(Data(line.utf8))
    }
}
