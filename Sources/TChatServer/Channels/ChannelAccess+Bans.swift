import Crypto
import TChatProtocol

/// Ban patterns: `account:NAME`, or a nick pattern matched against skeletons.
extension ChannelAccess {
    /// `account:Name` as `account:` and the account's key; a nick pattern as its skeleton (`*` and `?` kept).
    static func normalize(_ mask: String) -> String {
        if mask.lowercased().hasPrefix("account:") { return "account:" + Nick.key(for: String(mask.dropFirst(8))) }
        return Nick.key(for: mask)
    }

    static func matches(_ mask: String, _ member: Member) -> Bool {
        matches(mask, nickKey: Array(member.nickKey.utf8), account: member.account)
    }

    static func matches(_ mask: String, nickKey: [UInt8], account: String?) -> Bool {
        if mask.hasPrefix("account:") { return account == String(mask.dropFirst(8)) }
        return glob(Array(mask.utf8), nickKey)
    }

    /// `*` any run, `?` any one character; iterative, so no pattern can take time beyond its length times the
    /// nick's.
    static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var (p, t) = (0, 0)
        var star: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = t
                p += 1
            } else if let star {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// Compares a channel key in time that depends on neither where it differs nor its length: the SHA-256 of both
/// are compared, byte by byte.
enum ConstantTime {
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(SHA256.hash(data: Array(a.utf8))), Array(SHA256.hash(data: Array(b.utf8))))
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
