import Crypto
import Foundation
import TChatProtocol
import Testing

@testable import TChatServer

/// The link handshake as a pure state machine: two sides exchanging frames in memory, no sockets.
@Suite struct LinkHandshakeTests {
    static func secret(_ text: String) -> LinkSecret {
        LinkSecret(key: SymmetricKey(data: Array(text.utf8)), path: "test")
    }

    static func hello(_ id: UInt64) -> PeerHello {
        PeerHello(
            serverID: id, name: "s\(id)", softwareVersion: "1", processID: 1, host: "h", clientAddress: "127.0.0.1:1",
            peerAddress: "127.0.0.1:2", clients: 0, capacity: 10, startedAt: ProtocolLimits.earliestTime)
    }

    static func nonce(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    /// Runs both sides against each other until neither has anything to send; returns what each did.
    static func run(
        dialer: inout LinkHandshake, listener: inout LinkHandshake, binding: (dialer: [UInt8], listener: [UInt8])
    ) -> (dialer: [LinkHandshake.Action], listener: [LinkHandshake.Action]) {
        var toListener: [PeerFrame] = []
        var toDialer: [PeerFrame] = []
        var seen: (dialer: [LinkHandshake.Action], listener: [LinkHandshake.Action]) = ([], [])
        func route(_ actions: [LinkHandshake.Action], into queue: inout [PeerFrame]) {
            for action in actions {
                switch action {
                case .send(let frame): queue.append(frame)
                case .refuse(let error): queue.append(.error(error))  // what the handler sends before closing
                default: break
                }
            }
        }
        let startD = dialer.start()
        let startL = listener.start()
        seen.dialer += startD
        seen.listener += startL
        route(startD, into: &toListener)
        route(startL, into: &toDialer)
        let dialerID = dialer.ourID
        let listenerID = listener.ourID
        var rounds = 0
        while (!toListener.isEmpty || !toDialer.isEmpty) && rounds < 20 {
            rounds += 1
            let forListener = toListener
            toListener = []
            for frame in forListener {
                let actions = listener.receive(frame, binding: binding.listener) { hello(listenerID) }
                seen.listener += actions
                route(actions, into: &toDialer)
            }
            let forDialer = toDialer
            toDialer = []
            for frame in forDialer {
                let actions = dialer.receive(frame, binding: binding.dialer) { hello(dialerID) }
                seen.dialer += actions
                route(actions, into: &toListener)
            }
        }
        return seen
    }

    @Test func twoServersWithTheSameSecretLinkAndLearnWhoTheOtherIs() {
        var dialer = LinkHandshake(
            role: .dialer, ourID: 1, secret: Self.secret("the same secret!"), nonce: Self.nonce(1))
        var listener = LinkHandshake(
            role: .listener, ourID: 2, secret: Self.secret("the same secret!"), nonce: Self.nonce(2))
        let binding = [UInt8](repeating: 7, count: 32)
        let seen = Self.run(dialer: &dialer, listener: &listener, binding: (binding, binding))
        #expect(dialer.isLinked && listener.isLinked)
        #expect(seen.dialer.contains(.established(Self.hello(2))))
        #expect(seen.listener.contains(.established(Self.hello(1))))
        #expect(!seen.dialer.contains { if case .refuse = $0 { true } else { false } })
    }

    @Test func differentSecretsAreRefusedAndTheListenerNeverProvesItselfFirst() {
        var dialer = LinkHandshake(
            role: .dialer, ourID: 1, secret: Self.secret("one secret, long"), nonce: Self.nonce(1))
        var listener = LinkHandshake(
            role: .listener, ourID: 2, secret: Self.secret("another, as long"), nonce: Self.nonce(2))
        let seen = Self.run(
            dialer: &dialer, listener: &listener, binding: (LinkTranscript.noBinding, LinkTranscript.noBinding))
        #expect(!dialer.isLinked && !listener.isLinked)
        #expect(seen.listener.contains { if case .refuse(let e) = $0 { e.code == .linkRefused } else { false } })
        #expect(
            !seen.listener.contains { if case .send(.proof) = $0 { true } else { false } },
            "the listener gives nothing computed from its secret to one that has not proved it knows it")
        #expect(seen.dialer.contains { if case .refused = $0 { true } else { false } }, "the dialler is told why")
    }

    @Test func aMachineInTheMiddleOfTLSMakesBothProofsFail() {
        // The dialler saw the middle's certificate, the listener knows its own: the bindings differ.
        var dialer = LinkHandshake(
            role: .dialer, ourID: 1, secret: Self.secret("the same secret!"), nonce: Self.nonce(1))
        var listener = LinkHandshake(
            role: .listener, ourID: 2, secret: Self.secret("the same secret!"), nonce: Self.nonce(2))
        let seen = Self.run(
            dialer: &dialer, listener: &listener,
            binding: ([UInt8](repeating: 0xEE, count: 32), [UInt8](repeating: 0x11, count: 32)))
        #expect(!dialer.isLinked && !listener.isLinked)
        #expect(seen.listener.contains { if case .refuse = $0 { true } else { false } })
    }

    @Test func withNoSecretTheListenerRefusesAtOnceAndSaysWhy() {
        var listener = LinkHandshake(role: .listener, ourID: 2, secret: nil, nonce: Self.nonce(2))
        let actions = listener.start()
        guard case .refuse(let error)? = actions.first else {
            Issue.record("no refusal: \(actions)")
            return
        }
        #expect(error.code == .linkRefused && error.message.contains("no link secret"))
        #expect(listener.receive(.hello(Self.hello(9)), binding: LinkTranscript.noBinding) { Self.hello(2) }.isEmpty)
    }

    @Test func framesOutOfTurnAndSelfLinksAreRefused() {
        let secret = Self.secret("the same secret!")
        for frame in [
            PeerFrame.hello(Self.hello(9)), .syncRequest(channel: "#a", after: 0, limit: 1), .proof(Self.nonce(3)),
            .clientAdded(
                RemoteClient(
                    nick: "x", address: "a", connectedAt: .now(), clientName: "c", clientVersion: "v", host: "h",
                    processID: 1)),
        ] {
            var listener = LinkHandshake(role: .listener, ourID: 2, secret: secret, nonce: Self.nonce(2))
            _ = listener.start()
            let actions = listener.receive(frame, binding: LinkTranscript.noBinding) { Self.hello(2) }
            #expect(actions.count == 1, "\(frame.type)")
            if case .refuse(let error)? = actions.first {
                #expect(error.message.contains("out of turn"), "\(frame.type): \(error.message)")
            } else {
                Issue.record("\(frame.type) before the handshake was not refused: \(actions)")
            }
        }
        var listener = LinkHandshake(role: .listener, ourID: 2, secret: secret, nonce: Self.nonce(2))
        _ = listener.start()
        let ownID = listener.receive(
            .challenge(LinkChallenge(serverID: 2, nonce: Self.nonce(5))), binding: LinkTranscript.noBinding
        ) { Self.hello(2) }
        #expect(ownID.contains { if case .refuse(let e) = $0 { e.message.contains("own id") } else { false } })
        var reflector = LinkHandshake(role: .listener, ourID: 2, secret: secret, nonce: Self.nonce(2))
        _ = reflector.start()
        let reflected = reflector.receive(
            .challenge(LinkChallenge(serverID: 3, nonce: Self.nonce(2))), binding: LinkTranscript.noBinding
        ) { Self.hello(2) }
        #expect(reflected.contains { if case .refuse = $0 { true } else { false } }, "our own nonce sent back")
    }

    @Test func aHandshakeThatTakesTooLongIsRefusedButALinkedOneIsLeftAlone() {
        var waiting = LinkHandshake(
            role: .listener, ourID: 2, secret: Self.secret("the same secret!"), nonce: Self.nonce(2))
        _ = waiting.start()
        #expect(waiting.timedOut(after: .seconds(10)).contains { if case .refuse = $0 { true } else { false } })
        var dialer = LinkHandshake(
            role: .dialer, ourID: 1, secret: Self.secret("the same secret!"), nonce: Self.nonce(1))
        var listener = LinkHandshake(
            role: .listener, ourID: 2, secret: Self.secret("the same secret!"), nonce: Self.nonce(2))
        _ = Self.run(
            dialer: &dialer, listener: &listener, binding: (LinkTranscript.noBinding, LinkTranscript.noBinding))
        #expect(dialer.timedOut(after: .seconds(10)).isEmpty && listener.timedOut(after: .seconds(10)).isEmpty)
    }

    @Test func theHelloMustComeFromTheServerThatProvedItself() {
        let secret = Self.secret("the same secret!")
        var dialer = LinkHandshake(role: .dialer, ourID: 1, secret: secret, nonce: Self.nonce(1))
        var listener = LinkHandshake(role: .listener, ourID: 2, secret: secret, nonce: Self.nonce(2))
        _ = dialer.start()
        let challenge = listener.start()
        guard case .send(let listenerChallenge)? = challenge.first else { return }
        let proof = dialer.receive(listenerChallenge, binding: LinkTranscript.noBinding) { Self.hello(1) }
        _ = listener.receive(
            .challenge(LinkChallenge(serverID: 1, nonce: Self.nonce(1))), binding: LinkTranscript.noBinding
        ) { Self.hello(2) }
        guard case .send(let proofFrame)? = proof.first else { return }
        _ = listener.receive(proofFrame, binding: LinkTranscript.noBinding) { Self.hello(2) }
        let impostor = listener.receive(.hello(Self.hello(99)), binding: LinkTranscript.noBinding) { Self.hello(2) }
        #expect(impostor.contains { if case .refuse = $0 { true } else { false } })
    }

    /// The proof vectors in docs/protocol.md, computed by the code.
    @Test func theProofVectorsOfTheSpecification() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        var vectors: [String: [UInt8]] = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# proof-vector: ") {
                current = String(line.dropFirst("# proof-vector: ".count))
                vectors[current!] = []
            } else if line.hasPrefix("```") {
                current = nil
            } else if let name = current {
                vectors[name]! += line.split(separator: " ").compactMap { UInt8($0, radix: 16) }
            }
        }
        let transcript = LinkTranscript(
            dialerID: 0x0102_0304_0506_0708, listenerID: 0x1112_1314_1516_1718, dialerNonce: Array(0..<32),
            listenerNonce: Array(32..<64), binding: Array(0xA0..<0xC0))
        let secret = Self.secret("correct horse battery staple, twice")
        #expect(vectors["dialer"] == transcript.proof(by: .dialer, secret: secret))
        #expect(vectors["listener"] == transcript.proof(by: .listener, secret: secret))
        #expect(transcript.verify(vectors["dialer"] ?? [], by: .dialer, secret: secret))
        #expect(!transcript.verify(vectors["dialer"] ?? [], by: .listener, secret: secret), "roles are not swappable")
    }
}
