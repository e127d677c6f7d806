import TChatAuth
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// Which account each client is logged in to, told across the network to the IRC clients that asked: ACCOUNT
/// (account-notify) when a channel-mate logs in or out, and the account on each JOIN (extended-join).
@Suite struct AccountNotifyTests {
    static func lines(_ connection: IRCConnection, _ verb: String, from nick: String) -> [String] {
        connection.lines.filter { $0.verb == verb && $0.source?.hasPrefix(nick + "!") == true }.map {
            $0.params.joined(separator: " ")
        }
    }

    @Test func accountsReachTheIRCClientsThatAskedOnJoinAndWhenTheyChange() async throws {
        let a = try await NetworkAccountTests.server("A")
        // Logged in before the link: a server linked later hears it with the client.
        let early = try await AccountTests.registered("early", on: a)
        try await early.send(.join(channel: "#team", history: 0), id: 3)
        #expect(await early.reply(to: 3).last == .ok)
        let b = try await NetworkAccountTests.server("B") {
            $0.peers = [a.peerAddress]
            $0.ircAddress = ServerAddress(host: "127.0.0.1", port: 0)
        }
        defer { Task { await NetworkTests.stop([a, b]) } }
        #expect(await NetworkTests.linked([a, b]))
        let clientsOnB = try #require(b.server.context?.clients)
        #expect(await eventually { clientsOnB.accountName(of: "early") == "early" })

        let irc = try #require(b.server.ircAddress)
        let ida = try await IRCConnection.connect(to: irc)
        try await ida.register("ida", capabilities: ["account-notify", "extended-join"])
        let ivan = try await IRCConnection.connect(to: irc)
        try await ivan.register("ivan")
        for client in [ida, ivan] {
            try await client.send("JOIN #team")
            await client.waitFor("366", client === ida ? "ida" : "ivan", "#team")
        }
        #expect(Self.lines(ida, "JOIN", from: "ida") == ["#team * tchat"], "its own JOIN, not logged in")
        #expect(Self.lines(ivan, "JOIN", from: "ivan") == ["#team"], "no extended-join, the plain JOIN")
        #expect(await eventually { Self.lines(ida, "JOIN", from: "ivan") == ["#team * tchat"] })

        // A guest on A joins, then registers: the JOIN says no account, then ACCOUNT names it.
        let bob = try await RawConnection.connect(to: a.address)
        try await bob.hello("bob")
        try await bob.send(.join(channel: "#team", history: 0), id: 2)
        #expect(await bob.reply(to: 2).last == .ok)
        #expect(
            await ida.waitFor { $0.verb == "JOIN" && $0.source == "bob!bob@tchat" }?.params == ["#team", "*", "tchat"])
        try await bob.send(.register(password: AccountTests.password), id: 3)
        #expect(await bob.reply(to: 3, within: .seconds(30)) == [.loggedIn(account: "bob"), .ok])
        #expect(await eventually { Self.lines(ida, "ACCOUNT", from: "bob") == ["bob"] })

        // One logged in already joins: its account is on the JOIN.
        let ann = try await AccountTests.registered("ann", on: a)
        try await ann.send(.join(channel: "#team", history: 0), id: 3)
        #expect(await ann.reply(to: 3).last == .ok)
        #expect(
            await ida.waitFor { $0.verb == "JOIN" && $0.source == "ann!ann@tchat" }?.params == [
                "#team", "ann", "tchat",
            ])

        // A client of this server registers (the local path); its account dropped logs it out: ACCOUNT *.
        let carl = try await RawConnection.connect(to: b.address)
        try await carl.hello("carl")
        try await carl.send(.join(channel: "#team", history: 0), id: 2)
        #expect(await carl.reply(to: 2).last == .ok)
        try await carl.send(.register(password: AccountTests.password), id: 3)
        #expect(await carl.reply(to: 3, within: .seconds(30)) == [.loggedIn(account: "carl"), .ok])
        #expect(await eventually { Self.lines(ida, "ACCOUNT", from: "carl") == ["carl"] })
        try await bob.send(.dropAccount(password: AccountTests.password), id: 4)
        #expect(await bob.reply(to: 4, within: .seconds(30)).last == .ok)
        #expect(await eventually { Self.lines(ida, "ACCOUNT", from: "bob") == ["bob", "*"] })

        // WHOIS names the account, here and across the link; a tchat client reads it as a TEXT line.
        try await ivan.send("WHOIS ann")
        #expect(await ivan.waitFor("330", "ivan", "ann", "ann", "is logged in as") != nil)
        await ivan.waitFor("318", "ivan", "ann")
        try await ivan.send("WHOIS bob")
        await ivan.waitFor("318", "ivan", "bob")
        #expect(!ivan.lines.contains { $0.verb == "330" && $0.params.dropFirst().first == "bob" }, "bob's is dropped")
        try await carl.send(.whois(nick: "ann"), id: 5)
        #expect(await carl.reply(to: 5).contains(.text("account: ann")))
        try await carl.send(.whois(nick: "carl"), id: 6)
        #expect(await carl.reply(to: 6).contains(.text("account: carl")))

        // WHO shows who is away (`G`), and WHOX each member's account, here and across the link: how a client
        // learns the accounts of members who joined before it (LIST_CLIENTS' ACCOUNT_CHANGED and AWAY_CHANGED).
        try await carl.send(.setAway("lunch"), id: 7)
        #expect(await carl.reply(to: 7).last == .ok)
        try await bob.send(.setAway("out"), id: 8)
        #expect(await bob.reply(to: 8).last == .ok)
        #expect(await eventually { clientsOnB.awayText(of: "bob") == "out" })
        try await ivan.send("WHO #team %tcnfa,42")
        await ivan.waitFor("315", "ivan", "#team")
        let whox = Dictionary(
            ivan.lines.filter { $0.verb == "354" }.map { ($0.params[3], Array($0.params.dropFirst(2))) },
            uniquingKeysWith: { first, _ in first })
        #expect(
            whox == [
                "early": ["#team", "early", "H@", "early"], "ida": ["#team", "ida", "H", "0"],
                "ivan": ["#team", "ivan", "H", "0"], "bob": ["#team", "bob", "G", "0"],
                "ann": ["#team", "ann", "H", "ann"], "carl": ["#team", "carl", "G", "carl"],
            ])
        #expect(ivan.lines.filter { $0.verb == "354" }.allSatisfy { $0.params[1] == "42" }, "the token comes back")
        try await ivan.send("WHO #team")
        #expect(await eventually { ivan.lines.filter { $0.verb == "315" }.count == 2 })
        let plain = ivan.lines.filter { $0.verb == "352" }
        #expect(plain.count == 6 && ivan.lines.filter { $0.verb == "354" }.count == 6)
        #expect(plain.first { $0.params[5] == "carl" }?.params[6] == "G")
        #expect(plain.first { $0.params[5] == "ann" }?.params[6] == "H")
        try await ivan.send("WHO carl %na")
        #expect(await ivan.waitFor("354", "ivan", "carl")?.params == ["ivan", "carl", "carl"])
        try await ivan.send("WHO carl")
        #expect(await ivan.waitFor("352", "ivan", "*", "carl")?.params[6] == "G")
        #expect(!ivan.lines.contains { $0.verb == "NOTICE" && $0.params.last?.contains("lunch") == true })
        try await ivan.send("WHO #team o")
        #expect(await eventually { ivan.lines.filter { $0.verb == "315" }.count == 5 })
        #expect(ivan.lines.filter { $0.verb == "352" }.count == 7, "nobody is shown as a server operator")
        #expect(
            !carl.frames.contains { if case .accountChanged = $0.frame { true } else { false } },
            "a tchat client that did not ask hears no accounts in LIST_CLIENTS either")
        try await carl.send(.listClients(channel: "#team"), id: 9)
        #expect(await carl.reply(to: 9).allSatisfy { if case .clientInfo = $0 { true } else { $0 == .ok } })

        // A join that read history from disk announced the account its request saw; one that changed meanwhile
        // is told after it (ConnectionHandler.join): only a different account makes a change.
        let carlSession = try #require(clientsOnB.session(named: "carl"))
        #expect(clientsOnB.accountChange(of: carlSession, since: "carl") == nil)
        let change = clientsOnB.accountChange(of: carlSession, since: "")
        #expect(change?.nick == "carl" && change?.account == "carl" && change?.holders.map(\.id) == [carlSession.id])

        // Without the capabilities, nothing; nor for a tchat client that did not ask.
        #expect(ivan.lines.filter { $0.verb == "ACCOUNT" }.isEmpty)
        #expect(Self.lines(ivan, "JOIN", from: "ann") == ["#team"])
        #expect(!carl.frames.contains { if case .accountChanged = $0.frame { true } else { false } })
        #expect(!carl.frames.contains { if case .joinedAccount = $0.frame { true } else { false } })
    }
}
