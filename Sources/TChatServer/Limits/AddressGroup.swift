#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The key per-address limits count under: an IPv4 address as it is, an IPv6 address cut to its first
/// `--ipv6-prefix` bits (/64 by default).
///
/// One IPv6 host is routinely given a whole /64, so counting exact IPv6 addresses would let it open as many
/// connections as it likes. An IPv4 address mapped into IPv6 (`::ffff:203.0.113.9`) counts as the IPv4 address.
struct AddressGroup: Hashable, Sendable, CustomStringConvertible {
    let key: String

    init(ip: String, ipv6Prefix: Int) {
        var v6 = in6_addr()
        guard ip.contains(":"), inet_pton(AF_INET6, ip, &v6) == 1 else {
            key = ip
            return
        }
        var bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            key = bytes[12...].map(String.init).joined(separator: ".")
            return
        }
        let prefix = min(max(ipv6Prefix, 0), 128)
        for index in 0..<16 {
            let kept = min(max(prefix - index * 8, 0), 8)
            bytes[index] &= kept == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF00 >> kept)
        }
        var hex = ""
        for index in stride(from: 0, to: 16, by: 2) {
            if index > 0 { hex += ":" }
            hex += String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16)
        }
        key = hex + "/\(prefix)"
    }

    var description: String { key }
}
