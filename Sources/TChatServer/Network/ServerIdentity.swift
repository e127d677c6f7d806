import TChatProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who this server is to the others: an id chosen at random on its first start and kept in the data directory,
/// so a restarted server is recognised as the same one.
enum ServerIdentity {
    static let fileName = "server-id"

    /// Reads the id from `DATA/server-id`, creating it on first use.
    static func load(directory: String) throws -> UInt64 {
        let path = directory + "/" + fileName
        if let bytes = try LineFile.readAll(path: path) {
            let text = String(decoding: bytes, as: UTF8.self).trimmingSpaces()
            guard let id = UInt64(text, radix: 16), id != 0 else {
                throw StorageError("\(path) does not hold a server id (16 hex digits); fix or remove it")
            }
            return id
        }
        var id: UInt64 = 0
        while id == 0 { id = UInt64.random(in: 1...UInt64.max) }
        try LineFile.replaceAtomically(path: path, with: Array((hex(id) + "\n").utf8))
        return id
    }

    static func hex(_ id: UInt64) -> String {
        let digits = String(id, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(
            drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" }
                .reversed())
    }
}
