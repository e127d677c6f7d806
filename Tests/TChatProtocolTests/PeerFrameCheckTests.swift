import TChatProtocol
import Testing

/// What a linked server's frame must obey before anything acts on it.
@Suite struct PeerFrameCheckTests {
    static let now = Timestamp(milliseconds: 1_764_000_000_000)

    static func refusal(_ frame: PeerFrame) -> String? {
        do {
            try PeerFrameCheck.validate(frame, now: now)
            return nil
        } catch {
            return error.message
        }
    }

    static func message(id: UInt64 = 1, time: Timestamp = now, from: String = "alice", channel: String = "#ops")
        -> PeerFrame
    {
        .message(origin: 1, seq: 1, ChatMessage(channel: channel, id: id, time: time, from: from, body: .text("x")))
    }

    @Test func theVectorsOfTheSpecificationPass() {
        for (name, frame) in ProtocolVectors.peer {
            // The vectors' time is 2025-11-24, well before `now` plus the skew.
            #expect(Self.refusal(frame) == nil, "\(name): \(Self.refusal(frame) ?? "")")
        }
    }

    @Test func idsAreBoundedSoThatNoArithmeticOnThemCanOverflow() {
        #expect(Self.refusal(Self.message(id: ProtocolLimits.maxMessageID)) == nil)
        #expect(Self.refusal(Self.message(id: ProtocolLimits.maxMessageID + 1))?.contains("highest message id") == true)
        #expect(Self.refusal(Self.message(id: UInt64.max)) != nil)
        #expect(Self.refusal(Self.message(id: 0)) != nil)
        #expect(Self.refusal(.channelState(channel: "#a", lastID: UInt64.max)) != nil)
        #expect(Self.refusal(.syncRequest(channel: "#a", after: UInt64.max, limit: 1)) != nil)
        #expect(Self.refusal(.syncRequest(channel: "#a", after: 0, limit: 0)) != nil)
        #expect(Self.refusal(.forward(seq: 0, channel: "#a", from: "a", body: .text("x"))) != nil)
    }

    @Test func timesLieBetween2020AndAFewMinutesAhead() {
        let skew = ProtocolLimits.maxClockSkew
        #expect(Self.refusal(Self.message(time: Timestamp(milliseconds: 1)))?.contains("before 2020") == true)
        #expect(Self.refusal(Self.message(time: ProtocolLimits.earliestTime)) == nil)
        #expect(Self.refusal(Self.message(time: Timestamp(milliseconds: Self.now.milliseconds + skew))) == nil)
        #expect(
            Self.refusal(Self.message(time: Timestamp(milliseconds: Self.now.milliseconds + skew + 1)))?
                .contains("ahead") == true)
        #expect(Self.refusal(Self.message(time: Timestamp(milliseconds: UInt64.max))) != nil)
        let hello = PeerHello(
            serverID: 1, name: "a", softwareVersion: "1", processID: 1, host: "h", clientAddress: "", peerAddress: "",
            clients: 0, capacity: 1, startedAt: Timestamp(milliseconds: 1))
        #expect(Self.refusal(.hello(hello))?.contains("started at") == true, "no sequencer by a 1970 start")
    }

    @Test func fieldsObeyTheRulesTheyHaveFromAClient() {
        let now = Self.now
        let bad: [PeerFrame] = [
            Self.message(from: "аlice"),  // Cyrillic а
            Self.message(from: "\u{1B}[31m"),
            Self.message(channel: "ops"),
            Self.message(channel: "#a\u{202E}b"),
            .topic(channel: "#a", topic: "\u{1B}]52;c;bad\u{07}", setBy: "a", time: now),
            .topic(channel: "#a", topic: "\u{9B}2J", setBy: "a", time: now),
            .topic(
                channel: "#a", topic: String(repeating: "x", count: ProtocolLimits.maxTopicBytes + 1), setBy: "a",
                time: now),
            .parted(channel: "#a", nick: "a", reason: String(repeating: "x", count: 301), time: now),
            .goodbye(reason: "\u{7}"),
            .forward(seq: 1, channel: "#a", from: "a", body: .text("")),
            .direct(DirectMessage(from: "a", to: "b c", time: now, body: .text("x"))),
            .clientRenamed(old: "a", new: ""),
            .peers([KnownPeer(serverID: 1, peerAddress: "tls://127.0.0.1:7668")]),
            .peers([KnownPeer(serverID: 0, peerAddress: "127.0.0.1:7668")]),
            .peers(
                (0...ProtocolLimits.maxGossipedServers).map { KnownPeer(serverID: UInt64($0 + 1), peerAddress: "h:1") }),
            .challenge(LinkChallenge(serverID: 0, nonce: Array(repeating: 1, count: 32))),
            .clientAdded(
                RemoteClient(
                    nick: "a", address: "not an address", connectedAt: now, clientName: "c", clientVersion: "1",
                    host: "h", processID: 1)),
            .clientAdded(
                RemoteClient(
                    nick: "a", address: "1.2.3.4\u{202E}:5", connectedAt: now, clientName: "c", clientVersion: "1",
                    host: "h", processID: 1)),
        ]
        for frame in bad { #expect(Self.refusal(frame) != nil, "\(frame) was accepted") }
        let hello = PeerHello(
            serverID: 1, name: "\u{1B}[2Jname", softwareVersion: "1", processID: 1, host: "h", clientAddress: "",
            peerAddress: "", clients: 0, capacity: 1, startedAt: now)
        #expect(Self.refusal(.hello(hello)) != nil)
        var clean = hello
        clean.name = "hub"
        clean.clientAddress = "tls://chat.example.net:7667"
        clean.peerAddress = "10.0.0.2:7668"
        #expect(Self.refusal(.hello(clean)) == nil)
        clean.peerAddress = "tls://10.0.0.2:7668"
        #expect(Self.refusal(.hello(clean)) != nil, "links are TLS by configuration, not by address")
    }
}
