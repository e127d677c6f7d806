/// Where `--store postgres://USER@HOST:PORT/DATABASE` points, with the password kept out of the address (it would
/// show in `ps`, shell histories and logs): it comes from a file or the environment instead.
///
/// TLS follows libpq's `sslmode` names, the ones operators know: `disable`, `require` (verified against the system's
/// authorities). Without one, a loopback host is reached in plaintext and any other host only over TLS.
public struct PostgresStoreAddress: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable {
        case disable, require
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require]` (`postgresql://` too), or says what
    /// is wrong in a sentence.
    public init(parsing text: String) throws(Problem) {
        let schemes = ["postgres://", "postgresql://"]
        guard let scheme = schemes.first(where: { text.hasPrefix($0) }) else {
            throw Problem("a store is postgres://USER@HOST:PORT/DATABASE, not '\(text)'")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let at = rest.firstIndex(of: "@") else {
            throw Problem("name the user: postgres://USER@HOST:PORT/DATABASE")
        }
        let userPart = rest[..<at]
        guard !userPart.contains(":") else {
            throw Problem(
                "no password in the address (it would show in ps and logs): use --store-password-file or "
                    + "TCHAT_STORE_PASSWORD")
        }
        guard !userPart.isEmpty else { throw Problem("name the user: postgres://USER@HOST:PORT/DATABASE") }
        let afterUser = rest[rest.index(after: at)...]
        guard let slash = afterUser.firstIndex(of: "/") else {
            throw Problem("name the database: postgres://USER@HOST:PORT/DATABASE")
        }
        let hostPort = afterUser[..<slash]
        let database = afterUser[afterUser.index(after: slash)...]
        guard !database.isEmpty, !database.contains("/") else {
            throw Problem("name the database: postgres://USER@HOST:PORT/DATABASE")
        }
        var host = String(hostPort)
        var port = 5432
        if hostPort.hasPrefix("[") {
            // [IPv6]:PORT
            guard let close = hostPort.firstIndex(of: "]") else { throw Problem("an IPv6 host is written [ADDRESS]") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let tail = hostPort[hostPort.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let number = Int(tail.dropFirst()) else { throw Problem("a bad port") }
                port = number
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let number = Int(hostPort[hostPort.index(after: colon)...]) else {
                throw Problem("the port is a number: postgres://USER@HOST:PORT/DATABASE")
            }
            port = number
        }
        guard !host.isEmpty else { throw Problem("name the host: postgres://USER@HOST:PORT/DATABASE") }
        guard (1...65535).contains(port) else { throw Problem("the port is 1 to 65535, not \(port)") }
        var tls: TLSMode = Self.isLoopback(host) ? .disable : .require
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "sslmode" else {
                throw Problem("the only option is sslmode=disable|require, not '\(pair)'")
            }
            guard let mode = TLSMode(rawValue: String(parts[1])) else {
                throw Problem("sslmode is disable or require, not '\(parts[1])'")
            }
            tls = mode
        }
        self.user = String(userPart)
        self.host = host
        self.port = port
        self.database = String(database)
        self.tls = tls
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The address as given, without a password (there is none in it), for logs.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)?sslmode=\(tls.rawValue)"
    }
}
