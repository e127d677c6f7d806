import TChatProtocol

/// Something this server's clients did that the rest of the network must hear of.
///
/// The type that makes a change emits it (`ChangeFeed`), not the connection that asked for it: channel changes
/// while their channel's lock is held, so joins, parts, topics and numbered messages of one channel reach the
/// network in the order its members here saw them; a client's arrival, renames and departure while the nick
/// table's lock is held, so two clients trading a nick are heard in the order the table saw it.
enum LocalChange: Sendable {
    case clientAdded(RemoteClient)
    case clientRenamed(old: String, new: String)
    case clientRemoved(nick: String, reason: String)
    case joined(channel: String, nick: String, time: Timestamp)
    case parted(channel: String, nick: String, reason: String, time: Timestamp)
    case topic(channel: String, topic: String, setBy: String, time: Timestamp)
    /// A message numbered here. `origin` and `seq` name the linked server's forward it answers; a message of one of
    /// our own clients carries our id and 0.
    case message(origin: UInt64, seq: UInt64, ChatMessage)
    /// A direct message to a client of the linked server `serverID`.
    case direct(DirectMessage, serverID: UInt64)
    /// Accounts, bans and channel access changed here (`NetworkRecord`), for every linked server; or, with
    /// `serverID`, an operator's action on a client of that server.
    case record(NetworkRecord, serverID: UInt64? = nil)
}
