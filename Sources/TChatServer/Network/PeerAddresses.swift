import TChatProtocol

/// What a linked server's own word about its addresses is worth: the rules that keep clients from being sent, and
/// this server from dialling, where a lying server says.
enum PeerAddresses {
    /// The client address a linked server advertised, if clients may be sent there: its host is the address the
    /// link comes from (a wildcard host such as `0.0.0.0` is taken to mean that), the host this server dialled,
    /// or one of `configuredHosts` (`--peer` hosts, lower-cased). Nil otherwise, or when it is not an address.
    static func vouchedClientAddress(
        _ advertised: String, remoteIP: String, dialed: String?, configuredHosts: Set<String>
    ) -> ServerAddress? {
        guard var address = try? ServerAddress(parsing: advertised, defaultPort: 0, allowingTLS: true),
            address.port != 0
        else { return nil }
        let host = address.host.lowercased()
        if host == "0.0.0.0" || host == "::" {
            address.host = remoteIP
            return address
        }
        let dialedHost = dialed.flatMap { try? ServerAddress(parsing: $0, defaultPort: 0) }?.host.lowercased()
        guard host == remoteIP.lowercased() || host == dialedHost || configuredHosts.contains(host) else { return nil }
        return address
    }

    /// A linked server that dialled this one, named by the address its link comes from and the peer port it
    /// advertised: what gossip passes on for it.
    static func sourceAddress(_ remoteIP: String, advertised: String) -> String? {
        guard let port = (try? ServerAddress(parsing: advertised, defaultPort: 0))?.port, port != 0 else { return nil }
        return ServerAddress(host: remoteIP, port: port).description
    }
}
