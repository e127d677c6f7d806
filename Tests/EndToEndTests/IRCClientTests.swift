import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Where Debian's IRC clients are, if installed (`.ci/run` installs them).
enum IRCClients {
    static let irssi = ["/usr/bin/irssi", "/usr/local/bin/irssi"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let weechat = ["/usr/bin/weechat", "/usr/local/bin/weechat"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}

/// Real IRC clients, Debian's irssi and WeeChat, in tmux against a real `tchatd --irc-listen` over TLS, chatting
/// with a `tchat` user in its full-screen client: SASL login (irssi PLAIN, WeeChat SCRAM-SHA-256), the topic and
/// names on joining, channel messages and direct messages both ways, and accounts as WeeChat shows them
/// (account-notify, extended-join).
@Suite(
    .serialized, .leavesNoProcess,
    .enabled(if: Tmux.path != nil, "tmux is not installed"),
    .enabled(if: IRCClients.irssi != nil && IRCClients.weechat != nil, "irssi or weechat is not installed"))
struct IRCClientTests {

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tls/\(name)").path
    }

    static func shown(_ screen: [String]) -> String { screen.joined(separator: "\n") }

    /// `tchatd account add NAME` with `password`, before the server starts.
    static func addAccount(_ name: String, password: String, directory: String) async throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = directory + "/\(name).password"
        _ = FileManager.default.createFile(
            atPath: file, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let add = try Child("tchatd", ["account", "add", name, "--data-dir", directory, "--password-file", file])
        #expect(await add.exitStatus() == 0, "\(add.stderr)")
    }

    /// irssi's configuration: one network with SASL PLAIN over TLS (irssi 1.4 has no SCRAM), #ops joined at once,
    /// and every message in one window, so the screen shows channel and private messages alike.
    static func irssiConfiguration(port: String, account: String, password: String) -> String {
        """
        servers = (
          { address = "localhost"; chatnet = "tchat"; port = "\(port)"; use_tls = "yes"; tls_verify = "yes";
            tls_cafile = "\(fixture("ca.pem"))"; autoconnect = "yes"; }
        );
        chatnets = {
          tchat = { type = "IRC"; sasl_mechanism = "PLAIN"; sasl_username = "\(account)";
                    sasl_password = "\(password)"; };
        };
        channels = ( { name = "#ops"; chatnet = "tchat"; autojoin = "yes"; } );
        settings = {
          core = { real_name = "\(account) in irssi"; user_name = "\(account)"; nick = "\(account)"; };
          "fe-common/core" = { autocreate_windows = "no"; };
        };
        """
    }

    @Test func irssiAndWeeChatChatWithATchatUserBothWays() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.addAccount("ann", password: "ann's password", directory: directory)
        try await Self.addAccount("carl", password: "carl-password", directory: directory)
        let daemon = try await Daemon(
            directory: directory,
            extra: [
                "--irc-listen", "127.0.0.1:0", "--tls-cert", Self.fixture("server.pem"), "--tls-key",
                Self.fixture("server-key.pem"),
            ])
        let tmux = Tmux()
        defer { tmux.stop() }
        do {
            try await Self.chat(daemon: daemon, tmux: tmux, directory: directory)
        } catch {
            _ = await daemon.stop()
            throw error
        }
        _ = await daemon.stop()
    }

    static func chat(daemon: Daemon, tmux: Tmux, directory: String) async throws {
        let irc = try #require(daemon.irc)
        #expect(irc.hasPrefix("tls://127.0.0.1:"))
        let port = String(irc.split(separator: ":").last!)

        // bob, in tchat, makes #ops and sets its topic.
        let tchat =
            "env -u NO_COLOR TERM=screen-256color \(try Binaries.path("tchat")) --server \(daemon.clients) "
            + "--tls-ca \(fixture("ca.pem")) --nick bob --join ops"
        try tmux.start("bob", width: 100, height: 30, tchat)
        #expect(try await tmux.waitFor("bob") { $0.contains { $0.contains("you joined #ops") } }.0)
        try tmux.type("bob", "/topic deploys at five")
        #expect(try await tmux.waitFor("bob") { $0[0].contains("deploys at five") }.0)

        // ann, in irssi: SASL PLAIN over TLS, then #ops with its topic and names.
        let home = directory + "/irssi"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try irssiConfiguration(port: port, account: "ann", password: "ann's password")
            .write(toFile: home + "/config", atomically: true, encoding: .utf8)
        try tmux.start("irssi", width: 100, height: 30, "env TERM=screen-256color \(IRCClients.irssi!) --home=\(home)")
        let (joined, irssiScreen) = try await tmux.waitFor("irssi", within: .seconds(20)) { screen in
            screen.contains { $0.contains("Topic for #ops: deploys at five") }
                && screen.contains { $0.contains("Total of 2 nicks") }
        }
        #expect(joined, "\(shown(irssiScreen))")
        #expect(irssiScreen.contains { $0.contains("SASL authentication succeeded") }, "\(shown(irssiScreen))")
        #expect(irssiScreen.contains { $0.contains("[ ann]") || $0.contains("[ bob]") }, "\(shown(irssiScreen))")

        // carl, in WeeChat: SASL SCRAM-SHA-256 over TLS.
        let weechatHome = directory + "/weechat"
        let commands = [
            "/set weechat.network.gnutls_ca_user \(fixture("ca.pem"))",
            "/server add tchat localhost/\(port) -ssl -sasl_mechanism=scram-sha-256 -sasl_username=carl "
                + "-sasl_password=carl-password -nicks=carl -autojoin=#ops",
            "/connect tchat",
        ].joined(separator: ";")
        try tmux.start(
            "weechat", width: 100, height: 30,
            "env TERM=screen-256color \(IRCClients.weechat!) --dir \(weechatHome) --run-command \"\(commands)\"")
        let (weeJoined, _) = try await tmux.waitFor("weechat", within: .seconds(20)) { screen in
            screen.contains { $0.contains("deploys at five") } && screen.contains { $0.contains("#ops") }
        }
        if !weeJoined {
            try tmux.type("weechat", "/buffer 1")
            Issue.record(
                "WeeChat did not join: \(shown(try await tmux.waitFor("weechat", within: .seconds(1)) { _ in false }.1))"
            )
        }

        // bob sees both arrive; each side's lines reach the others.
        #expect(
            try await tmux.waitFor("bob") { screen in
                screen.contains { $0.contains("ann joined") } && screen.contains { $0.contains("carl joined") }
            }.0)
        try tmux.type("bob", "hello irc people")
        for client in ["irssi", "weechat"] {
            let (seen, screen) = try await tmux.waitFor(client) { $0.contains { $0.contains("hello irc people") } }
            #expect(seen, "\(client): \(shown(screen))")
        }
        try tmux.type("irssi", "hi from irssi")
        try tmux.type("weechat", "hi from weechat")
        let (heard, bobScreen) = try await tmux.waitFor("bob") { screen in
            screen.contains { $0.contains("ann │ hi from irssi") }
                && screen.contains { $0.contains("carl │ hi from weechat") }
        }
        #expect(heard, "\(shown(bobScreen))")
        let (crossed, weeLines) = try await tmux.waitFor("weechat") { $0.contains { $0.contains("hi from irssi") } }
        #expect(crossed, "\(shown(weeLines))")

        // Direct messages both ways.
        try tmux.type("bob", "/msg ann psst ann")
        let (private1, irssiPrivate) = try await tmux.waitFor("irssi") { $0.contains { $0.contains("psst ann") } }
        #expect(private1, "\(shown(irssiPrivate))")
        try tmux.type("irssi", "/msg bob back at you bob")
        try tmux.type("weechat", "/msg bob weechat says hi")
        try tmux.type("bob", "/query ann")
        let (private2, bobPrivate) = try await tmux.waitFor("bob") { $0.contains { $0.contains("back at you bob") } }
        #expect(private2, "\(shown(bobPrivate))")
        try tmux.type("bob", "/query carl")
        let (private3, bobCarl) = try await tmux.waitFor("bob") { $0.contains { $0.contains("weechat says hi") } }
        #expect(private3, "\(shown(bobCarl))")

        // Accounts, as WeeChat shows them (account-notify, extended-join): bob registers in tchat; ann, logged in
        // with SASL, joins again.
        try tmux.type("bob", "/register")
        for _ in 0..<2 {
            try await Task.sleep(for: .milliseconds(300))
            try tmux.type("bob", "bob's new password")
        }
        let (identified, weeAccount) = try await tmux.waitFor("weechat", within: .seconds(30)) {
            $0.contains { $0.contains("bob has identified as bob") }
        }
        #expect(identified, "\(shown(weeAccount))")
        try tmux.type("irssi", "/part #ops")
        // irssi ignores a JOIN of a channel it has not seen itself leave yet.
        _ = try await tmux.waitFor("weechat") { $0.contains { $0.contains("ann (ann@tchat) has left #ops") } }
        try await Task.sleep(for: .milliseconds(500))
        try tmux.type("irssi", "/join #ops")
        let (rejoined, weeJoin) = try await tmux.waitFor("weechat") {
            $0.contains { $0.contains("ann [ann]") && $0.contains("has joined #ops") }
        }
        #expect(rejoined, "\(shown(weeJoin))")

        try tmux.type("irssi", "/quit")
        try tmux.type("weechat", "/quit")
        try tmux.type("bob", "/quit")
    }
}
