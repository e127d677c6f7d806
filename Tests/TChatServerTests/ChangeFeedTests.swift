import Synchronization
import TChatProtocol
import Testing

@testable import TChatServer

/// Records what the managers emit, as the network layer would hear it.
final class ChangeRecorder: ChangeSubscriber {
    private let recorded = Mutex<[String]>([])

    func changed(_ change: LocalChange) {
        let line: String
        switch change {
        case .clientAdded(let client): line = "added \(client.nick)"
        case .clientRenamed(let old, let new): line = "renamed \(old) \(new)"
        case .clientRemoved(let nick, let reason): line = "removed \(nick) \(reason)"
        case .joined(let channel, let nick, _): line = "joined \(channel) \(nick)"
        case .parted(let channel, let nick, let reason, _): line = "parted \(channel) \(nick) \(reason)"
        case .topic(let channel, let topic, let setBy, _): line = "topic \(channel) \(topic) \(setBy)"
        case .message(let origin, let seq, let message):
            line = "message \(origin) \(seq) \(message.channel) \(message.id) \(message.body.text)"
        case .direct(let message, let serverID): line = "direct \(message.to) \(serverID)"
        case .record(let record, _): line = "record \(record.type)"
        }
        recorded.withLock { $0.append(line) }
    }

    /// What was recorded since the last call.
    func take() -> [String] {
        recorded.withLock { lines in
            defer { lines = [] }; return lines
        }
    }
}

/// Local changes leave for the network from the managers that make them, once each and in order, whoever asked.
@Suite struct ChangeFeedTests {
    @Test func everyLocalChangeIsEmittedOnceInTheOrderItHappened() throws {
        let fixture = try ManagerTests.Fixture()
        let (alice, _) = try fixture.session("alice")
        let (bob, _) = try fixture.session("bob")
        #expect(fixture.changes.take() == ["added alice", "added bob"])

        _ = try fixture.join(alice, "alice", "#ops")
        _ = try fixture.join(alice, "alice", "#ops")  // already in: nothing new to tell
        _ = try fixture.publish("#ops", from: "alice", "hello")
        try fixture.channels.setTopic(alice, nick: "alice", channel: ChannelName(validating: "#ops"), topic: "t")
        try fixture.channels.part(alice, nick: "alice", channel: ChannelName(validating: "#ops"), reason: "later")
        try fixture.clients.rename(bob, to: Nick(validating: "robert"))
        fixture.clients.remove(bob, reason: "quit: bye", quitMessage: "bye")
        fixture.clients.remove(bob, reason: "again")  // gone already: nothing
        #expect(
            fixture.changes.take() == [
                "joined #ops alice", "message 1 0 #ops 1 hello", "topic #ops t alice", "parted #ops alice later",
                "renamed bob robert", "removed robert bye",
            ])
    }

    @Test func refusedChangesAreNotEmitted() throws {
        let fixture = try ManagerTests.Fixture()
        let (alice, _) = try fixture.session("alice")
        let (bob, _) = try fixture.session("bob")
        _ = fixture.changes.take()
        #expect(throws: ProtocolError.self) {
            try fixture.channels.part(alice, nick: "alice", channel: ChannelName(validating: "#none"), reason: "")
        }
        _ = try fixture.join(bob, "bob", "#ops")
        #expect(throws: ProtocolError.self) {
            try fixture.channels.setTopic(alice, nick: "alice", channel: ChannelName(validating: "#ops"), topic: "x")
        }
        #expect(throws: ProtocolError.self) { try fixture.clients.rename(alice, to: Nick(validating: "bob")) }
        #expect(throws: ProtocolError.self) {
            try fixture.clients.sendDirect(.text("hi"), from: Nick(validating: "alice"), to: "nobody")
        }
        #expect(fixture.changes.take() == ["joined #ops bob"])
    }

    /// What linked servers say is applied here and never emitted again: it would echo round the network.
    @Test func changesFromLinkedServersAreNotEmitted() throws {
        let fixture = try ManagerTests.Fixture()
        let (alice, _) = try fixture.session("alice")
        _ = try fixture.join(alice, "alice", "#ops")
        _ = fixture.changes.take()
        let zed = RemoteClient(
            nick: "zed", address: "127.0.0.2:1", connectedAt: .now(), clientName: "x", clientVersion: "1", host: "h",
            processID: 1)
        _ = try fixture.clients.addRemote(zed, serverID: 42, serverName: "other")
        fixture.channels.remoteJoin(channel: "#ops", nick: "zed", on: 7, time: .now())
        fixture.channels.applyTopic(channel: "#ops", topic: "theirs", setBy: "zed", time: .now())
        let message = ChatMessage(channel: "#ops", id: 1, time: .now(), from: "zed", body: .text("numbered there"))
        #expect(fixture.channels.apply(message, ack: nil) == .applied)
        _ = try fixture.clients.renameRemote(from: "zed", to: "zee", serverID: 42)
        fixture.channels.remoteRename(from: "zed", to: "zee")
        fixture.channels.remotePart(channel: "#ops", nick: "zee", reason: "bye", time: .now())
        _ = fixture.clients.removeRemote("zee", serverID: 42)
        fixture.channels.remoteQuit(["zee"], reason: "gone")
        #expect(fixture.changes.take().isEmpty)
    }
}
