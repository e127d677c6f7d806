import TChatProtocol

/// Turns local changes into peer frames for every linked server (or, for a direct message, the one its recipient
/// is on).
///
/// `ServerManager.broadcast` and `post` encode only when a link exists and only queue, through a task on the link's
/// loop, so this is cheap enough to run under a lock, and the frames leave each link in the order they were emitted.
struct ChangeReplicator: ChangeSubscriber {
    let servers: ServerManager

    func changed(_ change: LocalChange) {
        switch change {
        case .clientAdded(let client):
            servers.broadcast(.clientAdded(client))
        case .clientRenamed(let old, let new):
            servers.broadcast(.clientRenamed(old: old, new: new))
        case .clientRemoved(let nick, let reason):
            servers.broadcast(.clientRemoved(nick: nick, reason: reason))
        case .joined(let channel, let nick, let time):
            servers.broadcast(.joined(channel: channel, nick: nick, time: time))
        case .parted(let channel, let nick, let reason, let time):
            servers.broadcast(.parted(channel: channel, nick: nick, reason: reason, time: time))
        case .topic(let channel, let topic, let setBy, let time):
            servers.broadcast(.topic(channel: channel, topic: topic, setBy: setBy, time: time))
        case .message(let origin, let seq, let message):
            servers.broadcast(.message(origin: origin, seq: seq, message))
        case .direct(let message, let serverID):
            servers.post(.direct(message), to: serverID)
        case .record(let record, let serverID?):
            servers.post(.record(record), to: serverID)
        case .record(let record, nil):
            servers.broadcast(.record(record))
        }
    }
}
