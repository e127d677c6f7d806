import Foundation
import TChatTestSupport
import Testing

/// The binaries with `--store postgres://`: an operator adds an account to the database with `tchatd account
/// --store` before the server ever ran, the server takes it from there, and a script logs in and sends with
/// `tchat send --once`.
@Suite(.leavesNoProcess, .enabled(if: PostgresCluster.binaries != nil, "PostgreSQL is not installed"))
struct StoreCommandLineTests {
    @Test func anOperatorAddsAnAccountToTheStoreAndAScriptSendsOnce() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try await cluster.createDatabase("chat")
        let store = "postgres://\(cluster.user)@127.0.0.1:\(cluster.port)/chat"
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secrets = directory + "-secrets"
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        let password = try AccountCommandLineTests.passwordFile("deploy-bot-password", mode: 0o600, in: secrets)

        let added = try Child(
            "tchatd",
            ["account", "add", "deploy", "--store", store, "--data-dir", directory, "--password-file", password])
        #expect(await added.exitStatus() == 0, "\(added.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/accounts.json"), "in the database, not the file")
        let unreachable = try Child(
            "tchatd", ["account", "list", "--store", "postgres://\(cluster.user)@127.0.0.1:1/chat"])
        #expect(await unreachable.exitStatus() == 1)
        #expect(unreachable.stderr.contains("cannot use the store"), "\(unreachable.stderr)")

        let daemon = try await Daemon(directory: directory, extra: ["--store", store, "--registration", "closed"])
        let send = try Child(
            "tchat",
            [
                "send", "--once", "--server", daemon.clients, "--nick", "deploy", "--password-file", password, "ops",
                "release 42 is out",
            ])
        #expect(await send.exitStatus() == 0, "\(send.stderr)")
        let listen = try Child(
            "tchat",
            [
                "listen", "--server", daemon.clients, "--nick", "deploy", "--password-file", password, "--history", "5",
                "ops",
            ])
        #expect(
            await listen.waitForOutput { $0.contains { $0.contains("\"body\":\"release 42 is out\"") } },
            "\(listen.stderr)")
        listen.signal(SIGINT)
        _ = await listen.exitStatus()
        let list = try Child("tchatd", ["account", "list", "--store", store])
        #expect(await list.exitStatus() == 0, "\(list.stderr)")
        #expect(list.lines.map { String($0.prefix { $0 != "\t" }) } == ["deploy"])
        #expect(await daemon.stop() == 0)
    }
}
