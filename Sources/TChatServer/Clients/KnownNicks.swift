/// What the server remembers of every nick, by key, and which records changed since the history writer last took
/// them: the writer appends only those to the nick journal (`MetadataJournal`) instead of writing every record again.
struct KnownNicks {
    private(set) var records: [String: NickRecord] = [:]
    /// Keys set or forgotten since `takeChanges`.
    private var changed: Set<String> = []

    init(_ records: [String: NickRecord] = [:]) { self.records = records }

    subscript(key: String) -> NickRecord? {
        get { records[key] }
        set {
            records[key] = newValue
            changed.insert(key)
        }
    }

    var count: Int { records.count }

    /// The changed records (nil: forgotten) since the last call, and forgets that they changed.
    mutating func takeChanges() -> [(key: String, record: NickRecord?)] {
        defer { changed.removeAll(keepingCapacity: true) }
        return changed.map { ($0, records[$0]) }
    }
}
