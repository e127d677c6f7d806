import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// Every attack on the peer port that issue 10 lists, against a real server with linking configured: each is
/// refused and logged, and the server goes on serving its clients.
@Suite struct PeerAttackTests {
    /// A server with a client (alice, in #ops with three messages) to attack, and its log.
    struct Target {
        let server: TestServer
        let logs: LogCapture
        let alice: ChatConnection
        let aliceLog: EventLog

        static func start(configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws -> Target {
            let logs = LogCapture()
            let server = try await TestServer(logs: logs) {
                $0.heartbeat = .milliseconds(200)
                configure(&$0)
            }
            let alice = try await server.connect("alice")
            let aliceLog = EventLog(alice)
            _ = try await alice.join("#ops", history: 0)
            for text in ["one", "two", "three"] { try await alice.send(.text(text), to: "#ops") }
            return Target(server: server, logs: logs, alice: alice, aliceLog: aliceLog)
        }

        /// The server still serves: alice's round trip is short and her messages are numbered in turn.
        func stillServes(nextID: UInt64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            #expect(try await alice.ping() < .seconds(2), sourceLocation: sourceLocation)
            let sent = try await alice.send(.text("still here"), to: "#ops")
            #expect(sent.id == nextID, "ids stay contiguous", sourceLocation: sourceLocation)
        }

        func stop() async {
            await server.stop()
            server.removeData()
        }
    }

    /// The secret every test server links with: what a server of the network (or an attacker who stole it) knows.
    static let secret = try! LinkSecret.load(path: TestServer.linkSecretFile)

    /// A listening socket that counts the connections it gets and what they send: where an attacker would like
    /// the server to dial.
    final class Decoy: Sendable {
        let channel: any Channel

        init() async throws {
            let counter = Counter()
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    counter.count.withLock { $0 += 1 }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: "127.0.0.1", port: 0).get()
            self.counter = counter
        }

        final class Counter: Sendable { let count = Mutex(0) }
        private let counter: Counter

        var connections: Int { counter.count.withLock { $0 } }
        var address: String { "127.0.0.1:\(channel.localAddress?.port ?? 0)" }

        func close() async { try? await channel.close() }
    }

    // MARK: - Without the secret

    @Test func aServerHelloWithoutTheSecretIsRefusedAndLearnsNothing() async throws {
        let target = try await Target.start()
        let attacker = try await RawPeer.connect(to: target.server.peerAddress)
        try await attacker.send(.hello(RawPeer.hello()))
        let refusal = await attacker.refusal()
        #expect(refusal?.code == .linkRefused)
        #expect(refusal?.message.contains("SERVER_HELLO out of turn") == true, "\(String(describing: refusal))")
        // All it got was the challenge and the refusal: no client, channel or history.
        #expect(
            attacker.frames.allSatisfy {
                if case .challenge = $0 { true } else if case .error = $0 { true } else { false }
            })
        #expect(await target.logs.contains("link refused", "SERVER_HELLO"))
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    @Test func everyOtherFrameBeforeTheHandshakeIsRefusedAndActedOnNever() async throws {
        let target = try await Target.start()
        let decoy = try await Decoy()
        let frames: [PeerFrame] = [
            .syncRequest(channel: "#ops", after: 0, limit: 1000),
            .channelState(channel: "#evil", lastID: 5),
            .peers([KnownPeer(serverID: 42, peerAddress: decoy.address)]),
            .message(
                origin: 0, seq: 0,
                ChatMessage(channel: "#ops", id: UInt64.max, time: .now(), from: "alice", body: .text("boom"))),
            .clientAdded(
                RemoteClient(
                    nick: "alice", address: "1.2.3.4:5", connectedAt: Timestamp(milliseconds: 1), clientName: "x",
                    clientVersion: "1", host: "h", processID: 1)),
            .forward(seq: 1, channel: "#ops", from: "alice", body: .text("forged")),
            .direct(DirectMessage(from: "bob", to: "alice", time: .now(), body: .text("forged"))),
            .topic(channel: "#ops", topic: "pwned", setBy: "alice", time: .now()),
            .load(clients: 0, capacity: 1_000_000),
        ]
        for frame in frames {
            let attacker = try await RawPeer.connect(to: target.server.peerAddress)
            try await attacker.send(frame)
            let refusal = await attacker.refusal()
            #expect(refusal?.code == .linkRefused, "\(frame.type)")
            #expect(
                !attacker.frames.contains { if case .message = $0 { true } else { false } },
                "\(frame.type): no history before the handshake")
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(decoy.connections == 0, "PEERS before the handshake made the server dial")
        let channels = try await target.alice.request(.listChannels).compactMap {
            if case .channelInfo(let info) = $0 { info.name } else { nil }
        }
        #expect(channels == ["#ops"], "no channel was created")
        #expect(
            try await target.alice.request(.whoami).contains {
                if case .clientInfo(let i) = $0 { i.nick == "alice" } else { false }
            })
        #expect(try await target.alice.history("#ops", limit: 10).map(\.body.text) == ["one", "two", "three"])
        #expect(!target.aliceLog.all.contains { if case .direct = $0 { true } else { false } })
        try await target.stillServes(nextID: 4)
        await decoy.close()
        await target.stop()
    }

    @Test func aWrongSecretIsRefusedAndTheServerProvesNothingToIt() async throws {
        let target = try await Target.start()
        let attacker = try await RawPeer.connect(to: target.server.peerAddress)
        let guess = LinkSecret(key: .init(data: Array("a guess at the secret".utf8)), path: "guess")
        #expect(try await attacker.authenticate(secret: guess, as: RawPeer.hello()) == false)
        #expect(await attacker.refusal()?.message.contains("different link secrets") == true)
        #expect(!attacker.frames.contains { if case .proof = $0 { true } else { false } }, "no proof to grind on")
        #expect(await target.logs.contains("link refused", "different link secrets"))
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    @Test func withNoSecretThePeerPortRefusesEveryLinkAndSaysWhy() async throws {
        let target = try await Target.start { $0.linkSecretFile = nil }
        #expect(await target.logs.contains("linking off"))
        let attacker = try await RawPeer.connect(to: target.server.peerAddress)
        let refusal = await attacker.refusal()
        #expect(refusal?.code == .linkRefused && refusal?.message.contains("no link secret") == true)
        #expect(await target.logs.contains("link refused", "no link secret"))
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    @Test func strangersHaveLittleTimeFewSlotsAndSmallFrames() async throws {
        // Long enough for eight connections to be counted before the first times out, even on a loaded machine
        // (at 500 ms, tests running in parallel let the first go before the ninth arrived).
        let target = try await Target.start { $0.linkHandshakeTimeout = .milliseconds(1500) }
        // Silent: closed when the handshake time is up.
        let silent = try await RawPeer.connect(to: target.server.peerAddress)
        let timedOut = await silent.refusal(within: .seconds(3))
        #expect(timedOut?.message.contains("not finished within") == true, "\(String(describing: timedOut))")
        // Eight at once from one address are let in; the ninth is turned away while they wait.
        var waiting: [RawPeer] = []
        for _ in 0..<ServerManager.maxPendingLinksPerAddress {
            waiting.append(try await RawPeer.connect(to: target.server.peerAddress))
        }
        try await Task.sleep(for: .milliseconds(100))  // every one of them counted, on whichever loop
        let ninth = try await RawPeer.connect(to: target.server.peerAddress)
        #expect(await ninth.refusal(within: .seconds(2))?.message.contains("too many links") == true)
        for peer in waiting { await peer.close() }
        // A frame bigger than the handshake needs is refused from its length alone.
        let big = try await RawPeer.connect(to: target.server.peerAddress)
        try await big.send(bytes: [0x00, 0x00, 0x08, 0x00, 0x50])
        #expect(await big.refusal()?.message.contains("exceeds the maximum of 1024") == true)
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    // MARK: - With the secret: a linked server that lies

    /// Links a fake server that knows the secret; returns it once the link is up on both sides.
    static func linkedAttacker(
        to target: Target, hello: PeerHello = RawPeer.hello()
    ) async throws -> RawPeer {
        let attacker = try await RawPeer.connect(to: target.server.peerAddress)
        #expect(try await attacker.authenticate(secret: secret, as: hello))
        #expect(await eventually { target.server.server.linkedServers == 1 })
        return attacker
    }

    @Test func aLinkedServerCannotTakeANickByClaimingAnEarlyConnection() async throws {
        let target = try await Target.start()
        let attacker = try await Self.linkedAttacker(to: target)
        let bob = try await target.server.connect("bob", events: false)
        // 1 ms after 1970: not a time any client connected at.
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "alice", address: "6.6.6.6:6", connectedAt: Timestamp(milliseconds: 1), clientName: "x",
                    clientVersion: "1", host: "h", processID: 1)))
        #expect(await target.logs.contains("refused", "connected at"))
        // A plausible hour ago, before alice: neither keeps the nick.
        let anHourAgo = Timestamp(milliseconds: Timestamp.now().milliseconds - 3_600_000)
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "alice", address: "6.6.6.6:6", connectedAt: anHourAgo, clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        await target.aliceLog.wait(for: "alice's rename") { events in
            events.contains {
                if case .nickChanged("alice", let new, _) = $0 { new.hasPrefix("alice_") } else { false }
            }
        }
        // Its client then takes the freed nick, it says: the nick is held for alice, and it stays renamed.
        try await attacker.send(.clientRenamed(old: "alice", new: "alice"))
        try await Task.sleep(for: .milliseconds(100))
        // A direct message to "alice" reaches nobody: the attacker's client does not hold the nick either.
        await #expect(throws: ProtocolError.self) { try await bob.sendDirect(.text("for alice"), to: "alice") }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!attacker.frames.contains { if case .direct = $0 { true } else { false } })
        // Alice, renamed, still gets hers; and takes her nick back.
        let renamed = try #require(
            target.aliceLog.all.compactMap { event -> String? in
                if case .nickChanged("alice", let new, _) = event { new } else { nil }
            }.first)
        try await bob.sendDirect(.text("found you"), to: renamed)
        await target.aliceLog.wait(for: "the direct message") { events in
            events.contains { if case .direct(let m) = $0 { m.body.text == "found you" } else { false } }
        }
        _ = try await target.alice.request(.nick("alice"))
        try await bob.sendDirect(.text("welcome back"), to: "alice")
        await target.aliceLog.wait(for: "the direct message to her own nick") { events in
            events.contains { if case .direct(let m) = $0 { m.body.text == "welcome back" } else { false } }
        }
        #expect(!attacker.frames.contains { if case .direct = $0 { true } else { false } })
        await target.stop()
    }

    @Test func aLinkedServerCannotSpeakForClientsThatAreNotItsOwnNorSendWhatAClientCouldNot() async throws {
        let target = try await Target.start()
        let attacker = try await Self.linkedAttacker(to: target)
        _ = try await target.server.connect("bob", events: false)
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "mallory", address: "6.6.6.6:6", connectedAt: .now(), clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        let now = Timestamp.now()
        let refused: [(PeerFrame, String)] = [
            (.forward(seq: 1, channel: "#ops", from: "bob", body: .text("I am bob")), "not one of its clients"),
            (
                .direct(DirectMessage(from: "bob", to: "alice", time: now, body: .text("I am bob"))),
                "not one of its clients"
            ),
            (.joined(channel: "#ops", nick: "bob", time: now), "not one of its clients"),
            (.topic(channel: "#ops", topic: "\u{1B}]0;pwned\u{07}", setBy: "mallory", time: now), "control characters"),
            (
                .topic(channel: "#ops", topic: String(repeating: "x", count: 2048), setBy: "mallory", time: now),
                "at most 390"
            ),
            (
                .topic(
                    channel: "#ops", topic: "from the future", setBy: "mallory",
                    time: Timestamp(milliseconds: now.milliseconds + 86_400_000)), "ahead of this server's clock"
            ),
            (
                .clientAdded(
                    RemoteClient(
                        nick: "аlice", address: "a", connectedAt: now, clientName: "x", clientVersion: "1", host: "h",
                        processID: 1)), "non-ASCII"
            ),
            (
                .clientAdded(
                    RemoteClient(
                        nick: "\u{1B}[31mred", address: "a", connectedAt: now, clientName: "x", clientVersion: "1",
                        host: "h", processID: 1)), "a nick"
            ),
            (.parted(channel: "#ops", nick: "mallory", reason: "\u{9B}2J", time: now), "control characters"),
        ]
        for (frame, reason) in refused {
            try await attacker.send(frame)
            #expect(await target.logs.contains("refused", reason), "\(frame.type): \(reason)")
        }
        try await Task.sleep(for: .milliseconds(100))
        let (info, _) = try await target.alice.join("#ops", history: 0)
        #expect(info.topic.isEmpty, "no topic was set")
        #expect(!target.aliceLog.all.contains { if case .direct = $0 { true } else { false } })
        #expect(try await target.alice.history("#ops", limit: 10).map(\.body.text) == ["one", "two", "three"])
        #expect(attacker.isClosed == false, "refusing a frame keeps the link")
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    @Test func overflowingIdsHolesAndMessagesFromANonSequencerAreRefused() async throws {
        let target = try await Target.start()
        // Linked, but started after the server: not the sequencer.
        let attacker = try await Self.linkedAttacker(to: target)
        let now = Timestamp.now()
        let refused: [(PeerFrame, String)] = [
            (
                .message(
                    origin: 0, seq: 0,
                    ChatMessage(channel: "#ops", id: 8, time: now, from: "alice", body: .text("hole"))), "did not ask"
            ),
            (
                .message(
                    origin: 7, seq: 1,
                    ChatMessage(channel: "#ops", id: 4, time: now, from: "alice", body: .text("mine"))),
                "from the sequencer only"
            ),
            (
                .message(
                    origin: 7, seq: 1,
                    ChatMessage(channel: "#ops", id: UInt64.max, time: now, from: "alice", body: .text("boom"))),
                "beyond the highest message id"
            ),
            (.channelState(channel: "#ops", lastID: UInt64.max), "beyond the highest message id"),
            (.syncRequest(channel: "#ops", after: UInt64.max, limit: 10), "beyond the highest message id"),
            (.forward(seq: 1, channel: "#ops", from: "mallory", body: .text("x")), "not one of its clients"),
        ]
        for (frame, reason) in refused {
            try await attacker.send(frame)
            #expect(await target.logs.contains("refused", reason), "\(frame.type): \(reason)")
        }
        // CHANNEL_STATE from a server that does not number messages is not acted on: no history is asked of it.
        try await attacker.send(.channelState(channel: "#ops", lastID: ProtocolLimits.maxMessageID))
        try await Task.sleep(for: .milliseconds(100))
        #expect(!attacker.frames.contains { if case .syncRequest = $0 { true } else { false } })
        try await target.stillServes(nextID: 4)
        #expect(try await target.alice.history("#ops", limit: 10).map(\.id) == [1, 2, 3, 4])
        await target.stop()
    }

    /// Found by review: history asked of a server after its CHANNEL_STATE was taken up to any id, from then on for
    /// ever, so one message numbered 2^53 − 1 used up a channel's ids. Now only up to the announced id, only until
    /// it is reached, and only from the sequencer.
    @Test func historyIsTakenOnlyAsFarAsAnnouncedAndOnlyUntilThere() async throws {
        let target = try await Target.start()
        let hello = RawPeer.hello(startedAt: Timestamp(milliseconds: 1_700_000_000_000))
        let attacker = try await Self.linkedAttacker(to: target, hello: hello)  // the sequencer now
        try await attacker.send(.channelState(channel: "#ops", lastID: 5))
        #expect(
            await eventually {
                attacker.frames.contains { if case .syncRequest("#ops", 3, _) = $0 { true } else { false } }
            })
        let now = Timestamp.now()
        func message(_ id: UInt64) -> PeerFrame {
            .message(
                origin: 0, seq: 0, ChatMessage(channel: "#ops", id: id, time: now, from: "alice", body: .text("h\(id)"))
            )
        }
        try await attacker.send(message(ProtocolLimits.maxMessageID))
        #expect(await target.logs.contains("refused", "beyond the last id it announced, 5"))
        try await attacker.send(message(4), message(5))
        #expect(await eventually { (try? await target.alice.history("#ops", limit: 10).map(\.id)) == [1, 2, 3, 4, 5] })
        try await attacker.send(message(6))
        #expect(await target.logs.contains("refused", "did not ask"), "the answer is over once 5 is reached")
        #expect(try await target.alice.history("#ops", limit: 10).map(\.id) == [1, 2, 3, 4, 5])
        // Found by the outsider review: announcing the highest id and answering with it jumped the channel there,
        // using up its ids. Ids cannot grow faster than 1,000 a millisecond since the channel's last message.
        try await attacker.send(.channelState(channel: "#ops", lastID: ProtocolLimits.maxMessageID))
        #expect(
            await eventually {
                attacker.frames.contains { if case .syncRequest("#ops", 5, _) = $0 { true } else { false } }
            })
        try await attacker.send(message(ProtocolLimits.maxMessageID))
        #expect(await target.logs.contains("refused", "further on than ids can have grown"))
        #expect(try await target.alice.history("#ops", limit: 10).map(\.id) == [1, 2, 3, 4, 5])
        await target.stop()
    }

    /// Found by the outsider review: messages numbered ahead of a gap that is never filled were held without a bound.
    @Test func messagesAheadOfAGapAreHeldOnlyUpToABound() async throws {
        let target = try await Target.start { $0.maxWaitingBytes = 20_000 }
        let hello = RawPeer.hello(startedAt: Timestamp(milliseconds: 1_700_000_000_000))
        let attacker = try await Self.linkedAttacker(to: target, hello: hello)
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "mallory", address: "6.6.6.6:6", connectedAt: .now(), clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        let body = String(repeating: "x", count: 1000)
        for id in UInt64(5)...UInt64(60) {  // 4 is never sent: a gap
            try await attacker.send(
                .message(
                    origin: hello.serverID, seq: id,
                    ChatMessage(channel: "#ops", id: id, time: .now(), from: "mallory", body: .text(body))))
        }
        #expect(await target.logs.contains("not kept", "20000 bytes are held already", level: .warning))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await target.alice.history("#ops", limit: 10).map(\.id) == [1, 2, 3], "nothing past the gap")
        await target.stop()
    }

    /// Found by the outsider review: the sequencer could number a message "from" anyone, a client of ours included.
    @Test func theSequencerNumbersOnlyMessagesOfTheClientsOfTheServerTheyCameThrough() async throws {
        let target = try await Target.start()
        let hello = RawPeer.hello(startedAt: Timestamp(milliseconds: 1_700_000_000_000))
        let attacker = try await Self.linkedAttacker(to: target, hello: hello)
        let serverID = try #require(attacker.linkedServerID)
        let now = Timestamp.now()
        func message(_ id: UInt64, from: String) -> ChatMessage {
            ChatMessage(channel: "#ops", id: id, time: now, from: from, body: .text("forged"))
        }
        try await attacker.send(.message(origin: hello.serverID, seq: 1, message(4, from: "alice")))
        #expect(await target.logs.contains("refused", "alice is not a client of the server it is numbered for"))
        try await attacker.send(.message(origin: serverID, seq: 77, message(4, from: "alice")))
        #expect(await target.logs.contains("refused", "answers no forward of this server's"))
        // A topic credited to alice, set now, from a server she is not on.
        try await attacker.send(.topic(channel: "#ops", topic: "forged", setBy: "alice", time: now))
        #expect(await target.logs.contains("refused", "PEER_TOPIC", "alice is not one of its clients"))
        try await attacker.send(.clientRemoved(nick: "alice", reason: "bye"))
        #expect(await target.logs.contains("refused", "CLIENT_REMOVED"))
        // Its own client's message, numbered by it: taken.
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "mallory", address: "6.6.6.6:6", connectedAt: now, clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        try await attacker.send(.message(origin: hello.serverID, seq: 2, message(4, from: "mallory")))
        #expect(await eventually { (try? await target.alice.history("#ops", limit: 10).last?.from) == "mallory" })
        #expect(
            try await target.alice.history("#ops", limit: 10).map(\.from) == ["alice", "alice", "alice", "mallory"])
        await target.stop()
    }

    @Test func anImpossibleStartTimeCannotMakeAServerTheSequencer() async throws {
        let target = try await Target.start()
        let attacker = try await RawPeer.connect(to: target.server.peerAddress)
        let early = RawPeer.hello(startedAt: Timestamp(milliseconds: 1))
        // The proofs hold (it knows the secret); its hello, the last step, is refused.
        _ = try await attacker.authenticate(secret: Self.secret, as: early)
        #expect(await attacker.refusal()?.message.contains("before 2020") == true)
        #expect(target.server.server.linkedServers == 0)
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    @Test func aLinkedSequencerCannotRewriteAMessageAndHaveItAcknowledged() async throws {
        let target = try await Target.start()
        // A plausible start long before the server's: it becomes the sequencer, as an honest server would.
        let hello = RawPeer.hello(startedAt: Timestamp(milliseconds: 1_700_000_000_000))
        let attacker = try await Self.linkedAttacker(to: target, hello: hello)
        let serverID = try #require(attacker.linkedServerID)
        let sending = Task { try await target.alice.send(.text("the real words"), to: "#ops") }
        #expect(await eventually { attacker.frames.contains { if case .forward = $0 { true } else { false } } })
        guard
            case .forward(let seq, _, _, _)? = attacker.frames.first(where: {
                if case .forward = $0 { true } else { false }
            })
        else { return }
        try await attacker.send(
            .message(
                origin: serverID, seq: seq,
                ChatMessage(channel: "#ops", id: 4, time: .now(), from: "alice", body: .text("rewritten words"))))
        #expect(await target.logs.contains("refused", "not what was forwarded"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(!target.aliceLog.messages.contains { $0.body.text == "rewritten words" })
        #expect(try await target.alice.history("#ops", limit: 10).map(\.body.text) == ["one", "two", "three"])
        sending.cancel()
        await target.stop()
    }

    /// Found by review: a sequencer that never numbers a forwarded message left its client waiting for ever.
    @Test func aSequencerThatSwallowsMessagesCannotLeaveClientsWaiting() async throws {
        // The attacker sends nothing more, so its link dies after three silent heartbeats and the target numbers the
        // forward itself: heartbeats of a second keep that well after the forward's half second (checked each beat).
        let target = try await Target.start {
            $0.forwardTimeout = .milliseconds(500)
            $0.heartbeat = .seconds(1)
        }
        let hello = RawPeer.hello(startedAt: Timestamp(milliseconds: 1_700_000_000_000))
        let attacker = try await Self.linkedAttacker(to: target, hello: hello)
        // The link is counted a moment before the sequencer is chosen: wait for that, or the message is numbered here.
        #expect(await eventually { target.server.server.sequencerID == hello.serverID })
        let error = await #expect(throws: ProtocolError.self) {
            try await target.alice.send(.text("into the void"), to: "#ops")
        }
        #expect(error?.code == .storageFailure && error?.message.contains("may or may not have been delivered") == true)
        #expect(attacker.frames.contains { if case .forward = $0 { true } else { false } })
        #expect(await target.logs.contains("did not number forwarded messages", level: .warning))
        await target.stop()
    }

    @Test func clientsAreSentOnlyToAddressesTheServerCanVouchFor() async throws {
        let target = try await Target.start { $0.maxClients = 2 }
        let hello = RawPeer.hello(clientAddress: "127.0.0.2:9999", clients: 0)
        let attacker = try await Self.linkedAttacker(to: target, hello: hello)
        #expect(await target.logs.contains("client address", "no client is sent there", level: .warning))
        try await attacker.send(.load(clients: 0, capacity: 1_000_000))
        _ = try await target.server.connect("second", events: false)
        // Full: without a vouched-for server to send it to, the third client is refused, not redirected.
        let error = await #expect(throws: ProtocolError.self) { _ = try await target.server.connect("third") }
        #expect(error?.code == .serverFull)
        let listed = try await target.alice.request(.listServers).compactMap { frame -> String? in
            if case .serverInfo(let info) = frame, !info.isThisServer { info.clientAddress } else { nil }
        }
        #expect(listed == [""], "the unvouched address is not handed to clients")
        await target.stop()
    }

    /// Found by review: a server claiming a linked server's id replaced that server's link (the rule meant for two
    /// servers that dial each other at once) and spoke for its clients. Now only a link from the same address can.
    @Test func aSecondLinkClaimingALinkedServersIdFromElsewhereIsRefused() async throws {
        func directory(id: String) -> String {
            let path = TestServer.temporaryDirectory()
            _ = FileManager.default.createFile(atPath: path + "/server-id", contents: Data((id + "\n").utf8))
            return path
        }
        let b = try await TestServer(directory: directory(id: "1000000000000001"), name: "B")
        let logs = LogCapture()
        let a = try await TestServer(directory: directory(id: "a000000000000001"), name: "A", logs: logs) {
            $0.peers = [b.peerAddress]  // A dials B: the link A holds was dialled by the higher id
        }
        #expect(await NetworkTests.linked([a, b]))
        let impostor = try await RawPeer.connect(to: a.peerAddress, from: "127.0.0.2")
        _ = try await impostor.authenticate(
            secret: Self.secret, as: RawPeer.hello(id: 0x1000_0000_0000_0001, name: "B"))
        #expect(await logs.contains("already linked from another address", level: .warning))
        #expect(await impostor.closed(within: .seconds(3)))
        #expect(a.server.linkedServers == 1 && b.server.linkedServers == 1, "the real link stays")
        await NetworkTests.stop([a, b])
    }

    @Test func gossipMakesTheServerDialOnlyToAskForTheSecret() async throws {
        let target = try await Target.start()
        let decoy = try await Decoy()
        let attacker = try await Self.linkedAttacker(to: target)
        try await attacker.send(.peers([KnownPeer(serverID: 42, peerAddress: decoy.address)]))
        #expect(await eventually { decoy.connections == 1 }, "a linked server's gossip is followed")
        // What the decoy could do with that connection is what any stranger on the peer port can: prove the
        // secret or be refused (the tests above). Gossip before a link is never heard (above as well).
        try await attacker.send(
            .peers((0..<300).map { KnownPeer(serverID: UInt64($0 + 1), peerAddress: "127.0.0.1:\($0 + 1)") }))
        #expect(await target.logs.contains("refused", "at most 256"))
        await decoy.close()
        await target.stop()
    }

    @Test func aTLSPeerPortAnswersPlaintextWithAReason() async throws {
        let target = try await Target.start(configure: TestServer.tls())
        let attacker = try await RawPeer.connect(to: target.server.peerAddress)
        try await attacker.send(.hello(RawPeer.hello()))
        let refusal = await attacker.refusal()
        #expect(refusal?.code == .tlsRequired, "\(String(describing: refusal))")
        let tlsAttacker = try await RawPeer.connect(to: target.server.peerAddress, tls: true)
        try await tlsAttacker.send(.hello(RawPeer.hello()))
        #expect(await tlsAttacker.refusal()?.code == .linkRefused)
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    /// An IRC client, ida, in #ops on `target` with `capabilities`, and `mallet`, a client the attacker announces
    /// (not yet in #ops).
    static func idaInOps(on target: Target, capabilities: [String], mallet attacker: RawPeer) async throws
        -> IRCConnection
    {
        let irc = try await IRCConnection.connect(to: try #require(target.server.server.ircAddress))
        try await irc.register("ida", capabilities: capabilities)
        try await irc.send("JOIN #ops")
        await irc.waitFor("366", "ida", "#ops")
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "mallet", address: "6.6.6.6:6", connectedAt: .now(), clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        return irc
    }

    /// A linked server that repeats an away text, or a join, makes no AWAY for an away-notify client: only a change
    /// is told, and an AWAY on joining only after a JOIN that happened.
    @Test func aLinkedServerRepeatingItselfMakesNoAwayEvents() async throws {
        let target = try await Target.start { $0.ircAddress = ServerAddress(host: "127.0.0.1", port: 0) }
        let attacker = try await Self.linkedAttacker(to: target)
        let irc = try await Self.idaInOps(on: target, capabilities: ["away-notify"], mallet: attacker)
        try await attacker.send(.joined(channel: "#ops", nick: "mallet", time: .now()))
        await irc.waitFor { $0.verb == "JOIN" && $0.source?.hasPrefix("mallet!") == true }
        for _ in 0..<50 { try await attacker.send(.record(.away(nick: "mallet", text: "gone"))) }
        for _ in 0..<50 { try await attacker.send(.joined(channel: "#ops", nick: "mallet", time: .now())) }
        try await attacker.send(.record(.away(nick: "mallet", text: "")))
        await irc.waitFor { $0.verb == "AWAY" && $0.params.isEmpty }
        let aways = irc.lines.filter { $0.verb == "AWAY" }.map { $0.params.first ?? "(back)" }
        #expect(aways == ["gone", "(back)"])
        #expect(irc.lines.filter { $0.verb == "JOIN" && $0.source?.hasPrefix("mallet!") == true }.count == 1)
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    /// PEER_LOGGED_IN: only for the sender's own clients, with an account named as a nick, and told (ACCOUNT) only
    /// when it changes, however often a linked server repeats it.
    @Test func aLinkedServerNamesAccountsOnlyForItsOwnClientsAndOnlyChangesAreTold() async throws {
        let target = try await Target.start { $0.ircAddress = ServerAddress(host: "127.0.0.1", port: 0) }
        let attacker = try await Self.linkedAttacker(to: target)
        let clients = try #require(target.server.server.context?.clients)
        try await attacker.send(.record(.loggedIn(nick: "alice", account: "root")))
        #expect(await target.logs.contains("refused", "PEER_LOGGED_IN"))
        #expect(clients.accountName(of: "alice") == "", "alice is not its client")
        let irc = try await Self.idaInOps(
            on: target, capabilities: ["account-notify", "extended-join"], mallet: attacker)
        for bad in ["ro ot", "\u{1B}[2J", "root\r\nPRIVMSG #ops :hi", String(repeating: "r", count: 33)] {
            try await attacker.send(.record(.loggedIn(nick: "mallet", account: bad)))
        }
        try await attacker.send(.record(.loggedIn(nick: "mallet", account: "mal")))
        try await attacker.send(.joined(channel: "#ops", nick: "mallet", time: .now()))
        let join = await irc.waitFor { $0.verb == "JOIN" && $0.source?.hasPrefix("mallet!") == true }
        #expect(join?.params == ["#ops", "mal", "tchat"], "only the valid name was taken")
        for _ in 0..<50 { try await attacker.send(.record(.loggedIn(nick: "mallet", account: "mal"))) }
        try await attacker.send(.record(.loggedIn(nick: "mallet", account: "")))
        await irc.waitFor("ACCOUNT", "*")
        #expect(irc.lines.filter { $0.verb == "ACCOUNT" }.map(\.params) == [["*"]])
        #expect(irc.lines.allSatisfy { $0.verb != "PRIVMSG" }, "no line made of a name")
        try await target.stillServes(nextID: 4)
        await target.stop()
    }

    @Test func aLinkedServerSetsAwayOnlyForItsOwnClients() async throws {
        let target = try await Target.start()
        let attacker = try await Self.linkedAttacker(to: target)
        try await attacker.send(.record(.away(nick: "alice", text: "I quit, send me your password")))
        #expect(await target.logs.contains("refused", "PEER_AWAY"))
        #expect(target.server.server.context?.clients.awayText(of: "alice") == nil, "alice is not its client")
        try await attacker.send(.record(.away(nick: "alice", text: "\u{1B}[2J")))
        #expect(await target.logs.contains("refused", "control characters"), "checked as a client's text is")
        #expect(target.server.server.context?.clients.awayText(of: "alice") == nil)
        // Its own client's away text goes with that client: renamed onto alice's nick (a collision), it cannot
        // leave the text on alice, nor on whoever holds the nick next.
        try await attacker.send(
            .clientAdded(
                RemoteClient(
                    nick: "mallet", address: "6.6.6.6:6", connectedAt: .now(), clientName: "x", clientVersion: "1",
                    host: "h", processID: 1)))
        try await attacker.send(.record(.away(nick: "mallet", text: "send me your password")))
        let clients = try #require(target.server.server.context?.clients)
        #expect(await eventually { clients.awayText(of: "mallet") == "send me your password" })
        try await attacker.send(.clientRenamed(old: "mallet", new: "alice"))
        #expect(await eventually { clients.locate("alice") == nil }, "the collision renamed both")
        #expect(clients.awayText(of: "alice") == nil && clients.awayText(of: "mallet") == nil)
        let renamed = clients.list().map(\.info.nick).filter { $0.lowercased().hasPrefix("alice") }
        #expect(renamed.count == 2, "\(renamed)")
        #expect(renamed.filter { clients.awayText(of: $0) != nil }.count == 1, "only the attacker's own client")
        await target.stop()
    }
}
