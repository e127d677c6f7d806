import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import TChatProtocol
import Testing

@testable import TChatServer

/// The channel and client managers, with sessions on embedded channels: no sockets, every frame inspectable.
@Suite struct ManagerTests {
    final class Fixture {
        let directory = TestServer.temporaryDirectory()
        let store: HistoryStore
        let pool = NIOThreadPool(numberOfThreads: 1)
        let channels: ChannelManager
        let clients: ClientManager
        /// Every change the managers emitted for the network, in order.
        let changes: ChangeRecorder
        var nextID: UInt64 = 1

        init(historyLimit: Int = 10_000) throws {
            store = try HistoryStore(
                directory: directory, policy: .never, historyLimit: historyLimit, logger: TestServer.quietLogger)
            pool.start()
            let changes = ChangeRecorder()
            self.changes = changes
            let feed = ChangeFeed(subscriber: changes)
            channels = try ChannelManager(
                store: store, threadPool: pool, loaded: [], maxChannelsPerClient: 3, feed: feed,
                logger: TestServer.quietLogger)
            clients = ClientManager(
                store: store, known: [], serverName: "unit", feed: feed, logger: TestServer.quietLogger)
            store.start(files: [:], snapshots: .init())
        }

        func session(_ nick: String) throws -> (ClientSession, EmbeddedChannel) {
            let channel = EmbeddedChannel()
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: Int(1000 + nextID))).wait()
            let session = ClientSession(
                id: nextID, channel: channel, address: "127.0.0.1:\(1000 + nextID)", connectedAt: .now(),
                hello: Hello(nick: nick, clientName: "unit", clientVersion: "1", processID: 1, host: "h"))
            nextID += 1
            _ = try clients.admit(session, nick: Nick(validating: nick))
            return (session, channel)
        }

        /// Runs delivery tasks and decodes everything written to the channel since the last call.
        func received(_ channel: EmbeddedChannel) throws -> [ServerFrame] {
            (channel.eventLoop as! EmbeddedEventLoop).run()
            var frames: [ServerFrame] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                var decoder = FrameDecoder()
                while let raw = try decoder.decode(buffer: &buffer) {
                    frames.append(try ServerFrame(decoding: try raw.get()))
                }
            }
            return frames
        }

        func join(_ session: ClientSession, _ nick: String, _ channel: String, history: Int = 0) throws
            -> ChannelManager.JoinResult
        {
            try channels.join(session, nick: nick, channel: ChannelName(validating: channel), history: history).wait()
        }

        func publish(_ channel: String, from nick: String, _ text: String) throws -> ChatMessage {
            let ack = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
            return try channels.sequence(
                channel: ChannelName(validating: channel), from: nick, body: .text(text), origin: 1, seq: 0,
                ack: .promise(ack))
        }

        deinit {
            try? pool.syncShutdownGracefully()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// An older version kept `alice` and `aIice` apart; now they are one nick, and the one seen first is kept,
    /// whichever order the file lists them in.
    @Test func nicksThatNowShareASkeletonKeepTheOneSeenFirst() throws {
        let fixture = try Fixture()
        func record(_ nick: String, welcome: String, first: UInt64) -> NickRecord {
            NickRecord(
                nick: nick, welcome: welcome, firstSeen: Timestamp(milliseconds: first),
                lastSeen: Timestamp(milliseconds: 1_000), connections: 1, connectedMs: 0)
        }
        let owner = record("alice", welcome: "the real one", first: 100)
        let planted = record("aIice", welcome: "planted", first: 500)
        for known in [[owner, planted], [planted, owner]] {
            let clients = ClientManager(
                store: fixture.store, known: known, serverName: "unit", logger: TestServer.quietLogger)
            #expect(clients.snapshot().nicks.map(\.welcome) == ["the real one"])
            #expect(clients.welcomeText(for: try Nick(validating: "a1ice")) == "the real one")
        }
    }

    @Test func aClientCyclingThroughNicksCannotGrowTheNickRegistryWithoutEnd() throws {
        let fixture = try Fixture()
        let clients = ClientManager(
            store: fixture.store, known: [], serverName: "unit", knownLimit: 20, logger: TestServer.quietLogger)
        let (stays, _) = try fixture.session("placeholder")
        _ = try clients.admit(stays, nick: Nick(validating: "regular"))  // connected throughout
        for index in 0..<200 {
            let (session, _) = try fixture.session("placeholder\(index)")
            _ = try clients.admit(session, nick: Nick(validating: "drive\(index)"))
            clients.remove(session, reason: "gone")
        }
        let remembered = clients.snapshot().nicks.map(\.nick)
        #expect(remembered.count <= 20)
        #expect(remembered.contains("regular"), "a connected nick is never forgotten")
        #expect(remembered.contains("drive199"), "the most recent are kept")
        #expect(!remembered.contains("drive0"))
    }

    @Test func membersHearOfJoinsAndMessagesButNotOfTheirOwnJoin() throws {
        let fixture = try Fixture()
        let (alice, aliceChannel) = try fixture.session("alice")
        let (bob, bobChannel) = try fixture.session("bob")
        _ = try fixture.join(alice, "alice", "#room")
        let joined = try fixture.join(bob, "bob", "#ROOM")
        #expect(joined.info.name == "#room" && joined.info.members == 2)
        #expect(try fixture.received(aliceChannel).map(\.type) == [.joined])
        #expect(try fixture.received(bobChannel).isEmpty)

        let message = try fixture.publish("#room", from: "alice", "hello")
        #expect(message.id == 1)
        #expect(try fixture.received(aliceChannel) == [.message(message)])
        #expect(try fixture.received(bobChannel) == [.message(message)])
    }

    @Test func aQuitIsAnnouncedOnceToEveryoneWhoSharedAChannel() throws {
        let fixture = try Fixture()
        let (alice, _) = try fixture.session("alice")
        let (bob, bobChannel) = try fixture.session("bob")
        let (carol, carolChannel) = try fixture.session("carol")
        for channel in ["#a", "#b"] {
            _ = try fixture.join(alice, "alice", channel)
            _ = try fixture.join(bob, "bob", channel)
        }
        _ = try fixture.join(carol, "carol", "#c")
        _ = try fixture.received(bobChannel)
        fixture.channels.remove(alice, nick: "alice", reason: "gone")
        let frames = try fixture.received(bobChannel)
        #expect(frames.count == 1)
        guard case .quitted("alice", "gone", _) = frames.first else {
            Issue.record("expected one QUITTED, got \(frames)")
            return
        }
        #expect(try fixture.received(carolChannel).isEmpty, "carol shared no channel with alice")
        #expect(fixture.channels.info(try ChannelName(validating: "#a"))?.members == 1)
    }

    @Test func partsNickChangesAndTopicsReachTheOthers() throws {
        let fixture = try Fixture()
        let (alice, aliceChannel) = try fixture.session("alice")
        let (bob, bobChannel) = try fixture.session("bob")
        _ = try fixture.join(alice, "alice", "#x")
        _ = try fixture.join(bob, "bob", "#x")
        _ = try fixture.received(aliceChannel)
        fixture.channels.announceNickChange(bob, from: "bob", to: "rob")
        try fixture.channels.setTopic(bob, nick: "rob", channel: ChannelName(validating: "#x"), topic: "t")
        try fixture.channels.part(bob, nick: "rob", channel: ChannelName(validating: "#x"), reason: "later")
        #expect(try fixture.received(aliceChannel).map(\.type) == [.nickChanged, .topic, .parted])
        #expect(try fixture.received(bobChannel).isEmpty, "nobody is told of their own changes")
        #expect(throws: ProtocolError.self) {
            try fixture.channels.part(bob, nick: "rob", channel: ChannelName(validating: "#x"), reason: "")
        }
    }

    @Test func joinReplaysFromMemoryAndThePerClientLimitHolds() throws {
        let fixture = try Fixture()
        let (alice, _) = try fixture.session("alice")
        for index in 1...8 { _ = try fixture.publish("#log", from: "alice", "m\(index)") }
        let joined = try fixture.join(alice, "alice", "#log", history: 3)
        #expect(joined.replay.map(\.id) == [6, 7, 8])
        _ = try fixture.join(alice, "alice", "#two")
        _ = try fixture.join(alice, "alice", "#three")
        #expect(throws: ProtocolError(.tooManyChannels, "you are in 3 channels, the most this server allows")) {
            _ = try fixture.join(alice, "alice", "#four")
        }
    }

    @Test func aJoinCompletingAfterItsClientLeftAddsNoMember() throws {
        let fixture = try Fixture()
        let (alice, aliceChannel) = try fixture.session("alice")
        let (bob, _) = try fixture.session("bob")
        _ = try fixture.join(bob, "bob", "#late")
        fixture.channels.remove(alice, nick: "alice", reason: "gone")  // its quit ran first
        try aliceChannel.close().wait()
        #expect(throws: ProtocolError.self) { _ = try fixture.join(alice, "alice", "#late") }
        let members = fixture.channels.members(of: try ChannelName(validating: "#late")) ?? []
        #expect(members.map(\.id) == [bob.id])
        #expect(fixture.channels.channels(of: alice).isEmpty)
    }

    @Test func clientManagerKeepsNicksUniqueAndRemembersThem() throws {
        let fixture = try Fixture()
        let (alice, _) = try fixture.session("Alice")
        #expect(throws: ProtocolError.self) { _ = try fixture.session("aLiCe") }
        fixture.clients.setWelcomeText("hi alice", for: try Nick(validating: "alice"))
        try fixture.clients.rename(alice, to: Nick(validating: "Alicia"))
        #expect(fixture.clients.session(named: "alice") == nil)
        #expect(fixture.clients.session(named: "ALICIA") == alice)
        fixture.clients.remove(alice, reason: "bye")
        #expect(fixture.clients.count == 0)
        let snapshot = fixture.clients.snapshot()
        #expect(snapshot.nicks.map(\.nick) == ["Alice", "Alicia"])
        #expect(snapshot.nicks.first?.welcome == "hi alice" && snapshot.nicks.first?.connections == 1)
    }
}
