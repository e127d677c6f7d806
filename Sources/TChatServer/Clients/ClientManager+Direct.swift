import TChatProtocol

/// Direct messages: delivered here when the recipient is ours, handed to the network when it is a linked server's.
extension ClientManager {
    func sendDirect(_ body: MessageBody, from sender: Nick, to target: String) throws(ProtocolError) {
        guard !body.text.isEmpty else { throw ProtocolError(.invalidArgument, "an empty message was not sent") }
        switch locate(target) {
        case .remote(let serverID, let known)?:
            feed.emit(
                .direct(DirectMessage(from: sender.name, to: known, time: .now(), body: body), serverID: serverID))
        case .local(let recipient)?:
            // Spelled as the recipient is connected now; it may have left since `locate`.
            guard let nick = currentNick(of: recipient) else {
                throw ProtocolError(.noSuchNick, "no client is connected as \(target)")
            }
            let event = ServerFrame.direct(DirectMessage(from: sender.name, to: nick.name, time: .now(), body: body))
            guard let frame = SubscriberSet.encode(event) else {
                throw ProtocolError(.fieldTooLong, "the message is too long")
            }
            recipient.send(frame)
        case nil:
            throw ProtocolError(.noSuchNick, "no client is connected as \(target)")
        }
    }
}
