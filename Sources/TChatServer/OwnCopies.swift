/// Whether a connection's channel messages come back to it as its own copies, told to `ConnectionHandler` by the
/// handler in front of it as a user event.
///
/// A tchat client always takes its copy (it learns the message's id and place from it). An IRC client shows its own
/// message only with echo-message: without it, the copy would travel to the bridge only to be recognised and
/// dropped, a fifth of the deliveries of a message to a room of five, and a message from another session sharing
/// the nick, arriving while a send was in flight, could be taken for it. The bridge says which before every
/// request that follows a change, so each SEND is handled under the choice in force when it was made.
struct OwnCopies: Sendable, Equatable {
    let wanted: Bool
}
