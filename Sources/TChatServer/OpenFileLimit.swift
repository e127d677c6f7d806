#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Raises the limit on open files as far as the process may: every client is a descriptor, and the usual soft
/// limit (1024 on many systems) would cap a server, or a load generator, long before memory does.
public enum OpenFileLimit {
    #if canImport(Glibc)
        private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        private static let resource = RLIMIT_NOFILE
    #endif

    /// The soft limit in effect (1,024 if it cannot be read).
    public static func current() -> Int {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Returns the soft limit in effect afterwards.
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        var wanted = limit
        wanted.rlim_max = max(limit.rlim_max, 1 << 20)  // only root may raise the hard limit; try, then settle
        wanted.rlim_cur = wanted.rlim_max
        if setrlimit(resource, &wanted) != 0 {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
        }
        _ = getrlimit(resource, &limit)
        return Int(limit.rlim_cur)
    }
}
