import TChatProtocol

/// Direct messages: delivered here when the recipient is ours, handed to the network when it is a linked server's.
/// Every session sharing the recipient's nick gets it, and every other session sharing the sender's gets a copy, so
/// that a conversation reads the same on a laptop and a phone.
extension ClientManager {
    func sendDirect(
        _ body: MessageBody, from sender: Nick, to target: String, echoTo companions: [ClientSession] = []
    ) throws(ProtocolError) {
        guard !body.text.isEmpty else { throw ProtocolError(.invalidArgument, "an empty message was not sent") }
        let message: DirectMessage
        switch locate(target) {
        case .remote(let serverID, let known)?:
            message = DirectMessage(from: sender.name, to: known, time: .now(), body: body)
            feed.emit(.direct(message, serverID: serverID))
        case .local(let recipient)?:
            // Spelled as the recipient is connected now; it may have left since `locate`.
            guard let nick = currentNick(of: recipient) else {
                throw ProtocolError(.noSuchNick, "no client is connected as \(target)")
            }
            message = DirectMessage(from: sender.name, to: nick.name, time: .now(), body: body)
            guard NoticeFallback.send(message, to: sessions(named: nick.name)) else {
                throw ProtocolError(.fieldTooLong, "the message is too long")
            }
        case nil:
            throw ProtocolError(.noSuchNick, "no client is connected as \(target)")
        }
        let recipients = Set(sessions(named: message.to).map(\.id))
        let copies = companions.filter { !recipients.contains($0.id) }  // a message to oneself arrives once
        if !copies.isEmpty { _ = NoticeFallback.send(message, to: copies) }
    }
}
