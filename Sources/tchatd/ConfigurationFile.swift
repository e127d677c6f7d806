import Foundation
import Yams

/// `--config FILE`: tchatd's flags written as a commented YAML map, one key per long flag (`max-per-ip: 50`), a
/// list for a flag given more than once (`peer: [a:7668, b:7668]`), `true` for a flag without a value
/// (`discover: true`). Flags on the command line win over the file: the file's become arguments placed before them
/// (for a repeatable flag the two add up).
///
/// Every flag being a key needs no list of keys to keep in step with the flags: the file is checked by the same
/// parser as the command line, and a key that is no flag is refused naming the file, line and key.
struct ConfigurationFile {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    let path: String
    /// The file's settings as command-line arguments, in the file's order.
    let arguments: [String]
    /// The keys it set, for telling which flags came from it.
    let keys: [String]

    init(path: String) throws {
        self.path = path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Problem(description: "cannot read the configuration file \(path) as UTF-8 text")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Problem(description: "\(path) is not valid YAML: \(error)")
        }
        guard let root else {
            (arguments, keys) = ([], [])
            return
        }
        guard let mapping = root.mapping else {
            throw Problem(description: "\(path) must be a map of flags to values, like `max-per-ip: 50`")
        }
        var arguments: [String] = []
        var keys: [String] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string, !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" })
            else {
                throw Problem(description: "\(Self.place(path, keyNode)): a key is a flag's name, like max-per-ip")
            }
            if key == "config" || key == "help" || key == "version" {
                throw Problem(description: "\(Self.place(path, keyNode)): \(key) cannot be set in the file")
            }
            keys.append(key)
            switch value {
            case .scalar(let scalar):
                // Only `true` and `false` make a flag: YAML 1.1 would read `off` as false too, and
                // `registration: off` is a value.
                if scalar.style == .plain, ["true", "false"].contains(scalar.string.lowercased()) {
                    if scalar.string.lowercased() == "true" { arguments.append("--" + key) }
                    continue
                }
                if scalar.style == .plain, ["", "~", "null"].contains(scalar.string) { continue }
                // `--key=value`, so that a value beginning with `-` is a value, never another flag.
                arguments.append("--\(key)=\(scalar.string)")
            case .sequence(let items):
                for item in items {
                    guard case .scalar(let scalar) = item else {
                        throw Problem(description: "\(Self.place(path, item)): \(key) takes a list of plain values")
                    }
                    arguments.append("--\(key)=\(scalar.string)")
                }
            default:
                throw Problem(description: "\(Self.place(path, value)): \(key) takes a value or a list of them")
            }
        }
        self.arguments = arguments
        self.keys = keys
    }

    static func place(_ path: String, _ node: Node) -> String {
        guard let mark = node.mark else { return path }
        return "\(path):\(mark.line)"
    }

    /// The path given with `--config FILE` or `--config=FILE`, if any.
    static func path(in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    /// `arguments` without `--config FILE` (or `--config=FILE`).
    static func removingConfig(from arguments: [String]) -> [String] {
        var kept: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext {
                skipNext = false
                continue
            }
            if argument == "--config" {
                skipNext = true
                continue
            }
            if argument.hasPrefix("--config=") { continue }
            kept.append(argument)
        }
        return kept
    }

    /// The value the file gives `flag`, if any (the last, for one given more than once).
    func value(of flag: String) -> String? {
        arguments.last { $0.hasPrefix("--\(flag)=") }.map { String($0.dropFirst(flag.count + 3)) }
    }
}
