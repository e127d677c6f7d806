#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Raises the limit on open files as far as the process may: every client is a descriptor, and the usual soft
/// limit (1024 on many systems) would cap a server, or a load generator, long before memory does.
public enum OpenFileLimit {
    /// Returns the soft limit in effect afterwards.
    @discardableResult
    public static func raise() -> Int {
        #if canImport(Glibc)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
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
