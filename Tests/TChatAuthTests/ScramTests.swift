import Foundation
import TChatAuth
import Testing

/// SCRAM-SHA-256 on both sides, against RFC 7677's test vector and against what an attacker would try.
@Suite struct ScramTests {
    // RFC 7677 section 3: user "user", password "pencil".
    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    static let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
    static let keys = try! ScramKeys(password: "pencil", salt: salt, iterations: 4096)
    static let decoy = ScramKeys.decoy(for: "user", secret: Array("server secret".utf8), iterations: 4096)

    /// A server that has read the vector's client-first message and answered it.
    static func serverAfterFirst(keys: ScramKeys? = keys, nonce: String = serverNonce) throws -> (ScramServer, String) {
        var server = ScramServer()
        #expect(try server.receiveClientFirst(clientFirst) == "user")
        let first = try server.serverFirst(keys: keys, decoy: decoy, serverNonce: nonce)
        return (server, first)
    }

    @Test func theServerSideGivesRFC7677sMessages() throws {
        var (server, first) = try Self.serverAfterFirst()
        #expect(first == Self.serverFirst)
        #expect(try server.receiveClientFinal(Self.clientFinal) == Self.serverFinal)
    }

    @Test func theClientSideGivesRFC7677sMessages() throws {
        var client = ScramClient(account: "user", password: "pencil", nonce: Self.clientNonce)
        #expect(try client.clientFirst() == Self.clientFirst)
        #expect(try client.receiveServerFirst(Self.serverFirst) == Self.clientFinal)
        try client.receiveServerFinal(Self.serverFinal)
    }

    @Test func aWrongPasswordIsRejected() throws {
        var (server, first) = try Self.serverAfterFirst()
        var client = ScramClient(account: "user", password: "pencil!", nonce: Self.clientNonce)
        _ = try client.clientFirst()
        let final = try client.receiveServerFirst(first)
        #expect(throws: ScramError.rejected) { try server.receiveClientFinal(final) }
    }

    @Test func anUnknownAccountIsAnsweredLikeAKnownOneAndRejected() throws {
        var (server, first) = try Self.serverAfterFirst(keys: nil)
        // The same salt each time for the same name, so asking twice does not give the game away.
        let (_, again) = try Self.serverAfterFirst(keys: nil)
        #expect(first == again)
        #expect(first.hasSuffix(",i=4096"))
        var client = ScramClient(account: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.clientFirst()
        let final = try client.receiveServerFirst(first)
        #expect(throws: ScramError.rejected) { try server.receiveClientFinal(final) }
    }

    @Test func aReplayedFinalMessageIsRejected() throws {
        // An eavesdropper recorded the vector's exchange and replays the client's final message to a new one.
        var (server, first) = try Self.serverAfterFirst(nonce: "a-fresh-nonce-of-this-exchange")
        #expect(first != Self.serverFirst)
        #expect(throws: ScramError.rejected) { try server.receiveClientFinal(Self.clientFinal) }
    }

    @Test func aProofForOneNonceDoesNotPassWithTheRightNonceSwappedIn() throws {
        var (server, _) = try Self.serverAfterFirst(nonce: "another-nonce")
        let forged = Self.clientFinal.replacingOccurrences(
            of: Self.clientNonce + Self.serverNonce, with: Self.clientNonce + "another-nonce")
        #expect(throws: ScramError.rejected) { try server.receiveClientFinal(forged) }
    }

    @Test(arguments: [
        "", "n", "n,", "x,,n=user,r=abc", "p=tls-unique,,n=user,r=abc", "n,a=admin,n=user,r=abc", "n,,r=abc,n=user",
        "n,,n=user", "n,,n=,r=abc", "n,,n=us=er,r=abc", "n,,n=user,r=a,b", "n,,n=user,r=ab\u{7F}",
        "n,,m=ext,n=user,r=a",
        "n,,n=user,r=abc,m=1", "n,,=user,r=abc",
    ])
    func malformedClientFirstMessagesAreRefused(_ message: String) {
        var server = ScramServer()
        #expect(throws: ScramError.self) { try server.receiveClientFirst(message) }
    }

    @Test(arguments: [
        "", "c=biws", "c=biws,r=x,p=", "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "r=x,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=****",
    ])
    func malformedClientFinalMessagesAreRefused(_ message: String) throws {
        var (server, _) = try Self.serverAfterFirst()
        #expect(throws: ScramError.self) { try server.receiveClientFinal(message) }
        // And the exchange is over: the right answer does not pass after a wrong one.
        #expect(throws: ScramError.outOfOrder) { try server.receiveClientFinal(Self.clientFinal) }
    }

    @Test func accountNamesWithCommasAndEqualsSignsAreEscaped() throws {
        var client = ScramClient(account: "a,b=c", password: "p", nonce: "n0nce")
        let first = try client.clientFirst()
        #expect(first == "n,,n=a=2Cb=3Dc,r=n0nce")
        var server = ScramServer()
        #expect(try server.receiveClientFirst(first) == "a,b=c")
    }

    @Test(arguments: [
        "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999", "r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOx,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==", "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=AAAA,i=4096",
    ])
    func theClientRefusesAServerFirstItShouldNotTrust(_ message: String) throws {
        var client = ScramClient(account: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.clientFirst()
        #expect(throws: ScramError.self) { try client.receiveServerFirst(message) }
    }

    @Test func theClientCatchesAServerThatDoesNotHoldTheAccount() throws {
        var client = ScramClient(account: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.clientFirst()
        _ = try client.receiveServerFirst(Self.serverFirst)
        #expect(throws: ScramError.serverNotVerified) {
            try client.receiveServerFinal("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        }
    }

    @Test func aFinalMessageMustRepeatTheGS2HeaderItBegan() throws {
        // The exchange began "y,," (base64 "eSws"); a final message claiming "n,," ("biws") is refused.
        var server = ScramServer()
        _ = try server.receiveClientFirst("y,,n=user,r=" + Self.clientNonce)
        let first = try server.serverFirst(keys: Self.keys, decoy: Self.decoy, serverNonce: Self.serverNonce)
        var client = ScramClient(account: "user", password: "pencil", nonce: Self.clientNonce)
        _ = try client.clientFirst()
        let final = try client.receiveServerFirst(first)
        // The client made "n,,"; its final message claims so, and "y,," here does not match it.
        #expect(throws: ScramError.self) { try server.receiveClientFinal(final) }
    }

    @Test func aFinishedExchangeTakesNothingMore() throws {
        var (server, _) = try Self.serverAfterFirst()
        _ = try server.receiveClientFinal(Self.clientFinal)
        #expect(throws: ScramError.outOfOrder) { try server.receiveClientFinal(Self.clientFinal) }
        #expect(throws: ScramError.outOfOrder) { try server.receiveClientFirst(Self.clientFirst) }
    }

    @Test(arguments: [
        "n,,n=ab,\u{301}cd,r=abc", "n,,n=us\u{0}er,r=abc", "n,,n=user,r=ab c", "n,,n=\u{212A}elvin,r=abc",
        "n,,n=user,r=abc\u{212A}",
    ])
    func nonASCIIAndControlCharactersAreRefusedBeforeParsing(_ message: String) {
        var server = ScramServer()
        #expect(throws: ScramError.malformed("a character outside printable ASCII")) {
            try server.receiveClientFirst(message)
        }
    }

    @Test func aNonceWithALookAlikeCharacterIsNotTheNonce() throws {
        var (server, _) = try Self.serverAfterFirst()
        // U+212A KELVIN SIGN is canonically equivalent to K; a byte-exact comparison does not take it.
        let final = Self.clientFinal.replacingOccurrences(
            of: "rOprNGfwEbeRWgbNEkqO", with: "rOprNGfwEbeRWgbNE\u{212A}qO")
        #expect(throws: ScramError.self) { try server.receiveClientFinal(final) }
    }

    @Test func decoysAreTheSameForTheSameKeyAndDifferForAnother() {
        let secret = Array("s".utf8)
        let one = ScramKeys.decoy(for: "allce", secret: secret, iterations: 4096)
        #expect(one == ScramKeys.decoy(for: "allce", secret: secret, iterations: 4096))
        #expect(one.salt.count == ScramKeys.saltLength)
        #expect(one.salt != ScramKeys.decoy(for: "bob", secret: secret, iterations: 4096).salt)
    }

    @Test func aPasswordComposedDifferentlyIsTheSamePassword() throws {
        let composed = try ScramKeys(password: "caf\u{E9}", salt: [1, 2, 3, 4], iterations: 4096)
        let decomposed = try ScramKeys(password: "cafe\u{301}", salt: [1, 2, 3, 4], iterations: 4096)
        #expect(composed == decomposed)
    }

    @Test func keysSurviveBeingStored() throws {
        let data = try JSONEncoder().encode(Self.keys)
        #expect(try JSONDecoder().decode(ScramKeys.self, from: data) == Self.keys)
    }
}
