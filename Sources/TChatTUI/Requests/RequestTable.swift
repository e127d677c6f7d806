/// What a request was for: where its answer goes and how it is shown.
enum RequestPurpose: Sendable, Equatable {
    case list, whois, servers, welcome, reverse, setWelcome, history(Int)
    /// CLIENT_LIST for a channel (`/who #ops`, `/names`), or for everyone connected (an empty name).
    case who(channel: String)
    /// The topic asked for: the TOPIC event goes to the others, so the answer's OK is when ours changes.
    case setTopic(String)
    /// CHANNEL_MODES for a channel: shown when asked for, else only kept for the sidebar.
    case modes(show: Bool)
    /// An operator's request whose event (MODE_CHANGED, KICKED) says what happened.
    case channelRequest
    /// A server operator's request, answered by OK (and TEXT lines, listing bans): `done` says it worked.
    case operatorRequest(done: String)
}

/// The requests on their way, by the tag the session answers with: a reply or a failure is matched to its purpose
/// and to the buffer it was made from by this number, never by reading the words of a message.
struct RequestTable: Sendable {
    struct Entry: Sendable, Equatable {
        var purpose: RequestPurpose
        var buffer: ChatBuffer.Kind
    }

    private var next: UInt64 = 1
    private var entries: [UInt64: Entry] = [:]

    /// A new tag (never 0: the session uses 0 for history it fetched by itself).
    mutating func register(_ purpose: RequestPurpose, in buffer: ChatBuffer.Kind) -> UInt64 {
        let tag = next
        next += 1
        entries[tag] = Entry(purpose: purpose, buffer: buffer)
        return tag
    }

    /// The request a tag names, forgotten once answered.
    mutating func take(_ tag: UInt64) -> Entry? { entries.removeValue(forKey: tag) }
}
