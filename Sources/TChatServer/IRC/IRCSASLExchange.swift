import Foundation

/// One SASL login in progress (AUTHENTICATE): which mechanism, what the client has sent of its current message,
/// and whose turn it is.
///
/// IRC carries SASL messages as base64 in 400-byte pieces, a shorter piece (or `+`) ending each; tchat's LOGIN
/// takes the same messages whole, so the exchange only joins and splits them.
struct IRCSASLExchange {
    enum Stage: Equatable {
        /// Waiting for the client's first message (PLAIN's credentials, SCRAM's client-first).
        case clientFirst
        /// A LOGIN or LOGIN_CONTINUE is with the server.
        case server
        /// Waiting for SCRAM's client-final.
        case clientFinal
        /// The server-final went out; the client answers `+` before it hears it is logged in.
        case acknowledgement
    }

    /// The most a client's message may be, decoded: SCRAM's messages are a few hundred bytes, PLAIN's at most
    /// two names and a password.
    static let maxMessageBytes = 2048
    static let pieceLength = 400

    let mechanism: String
    var stage = Stage.clientFirst
    var received = ""

    init(mechanism: String) {
        self.mechanism = mechanism
    }

    enum Piece {
        case incomplete
        case message(String)
        case tooLong
        case invalid
    }

    /// Adds one AUTHENTICATE piece; a whole message once a piece shorter than 400 (or `+`) ends it.
    mutating func add(_ piece: String) -> Piece {
        if piece != "+" { received += piece }
        guard received.utf8.count <= (Self.maxMessageBytes * 4 / 3) + 4 else { return .tooLong }
        if piece.utf8.count == Self.pieceLength { return .incomplete }
        defer { received = "" }
        guard !received.isEmpty else { return .message("") }
        guard let data = Data(base64Encoded: received), let text = String(data: data, encoding: .utf8) else {
            return .invalid
        }
        return .message(text)
    }

    /// `text` as AUTHENTICATE pieces: base64 in 400-byte pieces, `+` after an exact multiple (or for nothing).
    static func pieces(of text: String) -> [String] {
        let encoded = Data(text.utf8).base64EncodedString()
        var pieces: [String] = []
        var rest = Substring(encoded)
        while rest.count >= pieceLength {
            pieces.append(String(rest.prefix(pieceLength)))
            rest = rest.dropFirst(pieceLength)
        }
        pieces.append(rest.isEmpty ? "+" : String(rest))
        return pieces
    }
}
