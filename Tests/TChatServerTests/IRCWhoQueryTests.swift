import TChatProtocol
import Testing

@testable import TChatServer

/// WHO's second parameter (WHOX's `%fields,token` and `o`) and the 352 and 354 lines made from it.
@Suite struct IRCWhoQueryTests {
    static let ann = IRCWhoQuery.Entry(
        info: ClientInfo(
            nick: "ann", address: "", connectedAt: Timestamp(milliseconds: 0), durationMilliseconds: 0,
            clientName: "irssi", clientVersion: "1.4", host: "", processID: 0, server: "alpha"),
        away: nil, account: "ann")

    @Test func theParameterNamesFieldsATokenAndTheOperatorFlag() {
        #expect(IRCWhoQuery(parameter: nil) == IRCWhoQuery())
        #expect(IRCWhoQuery(parameter: "o") == IRCWhoQuery(operatorsOnly: true))
        #expect(IRCWhoQuery(parameter: "%tna,42") == IRCWhoQuery(fields: ["t", "n", "a"], token: "42"))
        #expect(IRCWhoQuery(parameter: "o%cn") == IRCWhoQuery(fields: ["c", "n"], operatorsOnly: true))
        // A token is one to three digits; anything else is `0`. Unknown letters are left out.
        #expect(IRCWhoQuery(parameter: "%tn,1234") == IRCWhoQuery(fields: ["t", "n"]))
        #expect(IRCWhoQuery(parameter: "%tn,4a") == IRCWhoQuery(fields: ["t", "n"]))
        #expect(IRCWhoQuery(parameter: "%tnxyz,7") == IRCWhoQuery(fields: ["t", "n"], token: "7"))
        #expect(IRCWhoQuery(parameter: "%") == IRCWhoQuery(fields: []))
    }

    @Test func whoxGivesTheFieldsAskedForInWhoxOrderWhateverOrderTheyWereAskedIn() {
        let query = IRCWhoQuery(parameter: "%rafnshiuct,743")
        let (code, parameters) = query.reply(Self.ann, channel: "#team", prefix: "@")
        #expect(code == .whoxReply)
        #expect(
            parameters == [
                "743", "#team", "ann", "255.255.255.255", "tchat", "alpha", "ann", "H@", "ann", "irssi 1.4",
            ])
        var away = Self.ann
        away.away = "lunch"
        away.account = nil
        #expect(
            IRCWhoQuery(parameter: "%nfado").reply(away, channel: "*", prefix: "").1 == ["ann", "G", "0", "0", "n/a"])
    }

    @Test func aPlainWhoIs352WithHereOrGone() {
        let (code, parameters) = IRCWhoQuery().reply(Self.ann, channel: "#team", prefix: "+")
        #expect(code == .whoReply)
        #expect(parameters == ["#team", "ann", "tchat", "alpha", "ann", "H+", "0 irssi 1.4"])
    }
}
