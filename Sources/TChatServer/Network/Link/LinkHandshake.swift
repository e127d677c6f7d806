import TChatProtocol

/// One side of a link's handshake, as a state machine with no I/O: it is given frames and returns what to do.
///
/// Both sides send LINK_CHALLENGE (server id, nonce) first. The dialer answers the listener's challenge with its
/// proof; the listener checks it and only then sends its own proof and its SERVER_HELLO; the dialer checks that
/// and sends its SERVER_HELLO. So whoever connects to the peer port learns nothing computed from the secret until
/// it has proved it knows the secret itself, and no frame but these three is acted on before both proofs held.
/// Anything else, out of order, or a proof that does not verify ends the link with one ERROR frame that says why.
struct LinkHandshake {
    enum State: Equatable {
        case awaitingChallenge
        case awaitingProof(peer: LinkChallenge)
        case awaitingHello(peer: LinkChallenge)
        case linked(serverID: UInt64)
        case ended
    }

    enum Action: Equatable {
        case send(PeerFrame)
        /// Send the error, close the link, and log why (the same words).
        case refuse(ProtocolError)
        /// The other side refused us; close and log its words.
        case refused(by: ProtocolError)
        /// Both proofs held and the peer said hello: the link is up.
        case established(PeerHello)
        /// A frame on an established link.
        case deliver(PeerFrame)
    }

    let role: LinkTranscript.Role
    let ourID: UInt64
    let ourNonce: [UInt8]
    let secret: LinkSecret?
    private(set) var state = State.awaitingChallenge

    init(role: LinkTranscript.Role, ourID: UInt64, secret: LinkSecret?, nonce: [UInt8]) {
        self.role = role
        self.ourID = ourID
        self.secret = secret
        self.ourNonce = nonce
    }

    /// What to send as soon as the connection (and its TLS handshake) is up.
    mutating func start() -> [Action] {
        guard secret != nil else {
            state = .ended
            return [.refuse(ProtocolError(.linkRefused, "linking is off on this server: it has no link secret"))]
        }
        return [.send(.challenge(LinkChallenge(serverID: ourID, nonce: ourNonce)))]
    }

    /// `binding` is the listener certificate's SHA-256 (`LinkTranscript`); `hello` says who we are, once proved.
    mutating func receive(_ frame: PeerFrame, binding: [UInt8], hello: () -> PeerHello) -> [Action] {
        if case .linked = state {
            if case .hello = frame { return [] }
            return [.deliver(frame)]
        }
        guard let secret, state != .ended else { return [] }
        if case .error(let error) = frame {
            state = .ended
            return [.refused(by: error)]
        }
        switch (state, frame) {
        case (.awaitingChallenge, .challenge(let challenge)):
            if let problem = problem(with: challenge) { return refuse(problem) }
            state = .awaitingProof(peer: challenge)
            guard role == .dialer else { return [] }  // the listener proves itself only once the dialer has
            return [.send(.proof(transcript(challenge, binding).proof(by: role, secret: secret)))]
        case (.awaitingProof(let peer), .proof(let proof)):
            let transcript = transcript(peer, binding)
            guard transcript.verify(proof, by: role == .dialer ? .listener : .dialer, secret: secret) else {
                return refuse(
                    "the link proof does not verify: the two servers have different link secrets, "
                        + "or something between them ended TLS (the certificates they see differ)")
            }
            state = .awaitingHello(peer: peer)
            guard role == .listener else { return [.send(.hello(hello()))] }
            return [.send(.proof(transcript.proof(by: role, secret: secret))), .send(.hello(hello()))]
        case (.awaitingHello(let peer), .hello(let peerHello)):
            guard peerHello.serverID == peer.serverID else {
                return refuse("SERVER_HELLO names server \(peerHello.serverID), not the one that proved itself")
            }
            state = .linked(serverID: peerHello.serverID)
            return [.established(peerHello)]
        default:
            return refuse("\(frame.type) out of turn in the link handshake (\(expected) expected)")
        }
    }

    /// The link is refused for a reason outside the handshake (too many links being set up, a bad frame): nothing
    /// it sends afterwards is acted on.
    mutating func abandon(_ error: ProtocolError) -> [Action] {
        state = .ended
        return [.refuse(error)]
    }

    /// The handshake took too long.
    mutating func timedOut(after limit: Duration) -> [Action] {
        if case .linked = state { return [] }
        if state == .ended { return [] }
        return refuse("the link handshake was not finished within \(limit)")
    }

    var isLinked: Bool {
        if case .linked = state { true } else { false }
    }

    private var expected: String {
        switch state {
        case .awaitingChallenge: "LINK_CHALLENGE"
        case .awaitingProof: "LINK_PROOF"
        case .awaitingHello: "SERVER_HELLO"
        case .linked, .ended: "nothing"
        }
    }

    private func problem(with challenge: LinkChallenge) -> String? {
        guard ProtocolVersion.supported.contains(challenge.version) else {
            return "protocol version \(challenge.version) is not spoken here"
        }
        guard challenge.serverID != 0 else { return "a server id cannot be 0" }
        guard challenge.serverID != ourID else { return "that is this server's own id (a link to itself)" }
        guard challenge.nonce != ourNonce else { return "the challenge repeats this server's own nonce" }
        return nil
    }

    private func transcript(_ peer: LinkChallenge, _ binding: [UInt8]) -> LinkTranscript {
        role == .dialer
            ? LinkTranscript(
                dialerID: ourID, listenerID: peer.serverID, dialerNonce: ourNonce, listenerNonce: peer.nonce,
                binding: binding)
            : LinkTranscript(
                dialerID: peer.serverID, listenerID: ourID, dialerNonce: peer.nonce, listenerNonce: ourNonce,
                binding: binding)
    }

    private mutating func refuse(_ why: String) -> [Action] {
        state = .ended
        return [.refuse(ProtocolError(.linkRefused, why))]
    }
}
