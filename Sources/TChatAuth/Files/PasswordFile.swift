import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A password kept in a file for scripts and services (`--password-file`, `TCHAT_PASSWORD_FILE`): its first line.
///
/// A file that group or others may read is refused, as ssh refuses such a key: a password anyone on the machine
/// can read is no password.
public enum PasswordFile {
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    public static func read(_ path: String) throws(Problem) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Problem(description: "cannot read the password file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw Problem(
                description:
                    "the password file \(path) is readable by group or others (mode \(mode)): chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw Problem(description: "cannot read the password file \(path) as UTF-8 text")
        }
        let password = firstLine(of: text)
        guard !password.isEmpty else { throw Problem(description: "the password file \(path) is empty") }
        return password
    }

    /// Without its line ending (LF or CRLF), and nothing after it.
    public static func firstLine(of text: String) -> String {
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(line.hasSuffix("\r") ? line.dropLast() : line)
    }

    /// Reads a line from standard input; when it is a terminal, shows `prompt` on standard error and does not echo
    /// what is typed.
    public static func readStandardInput(prompt: String) -> String? {
        let isTerminal = isatty(STDIN_FILENO) == 1
        var saved = termios()
        if isTerminal {
            FileHandle.standardError.write(Data(prompt.utf8))
            tcgetattr(STDIN_FILENO, &saved)
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if isTerminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        return Swift.readLine(strippingNewline: true).map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }
}
