import Foundation
import Testing

/// Accounts from the command line: `tchatd account` while the server runs, `--registration closed` and
/// `--require-account`, and `tchat send` / `listen` logging in with a password file that only its owner can read.
@Suite(.leavesNoProcess) struct AccountCommandLineTests {
    static func passwordFile(_ password: String, mode: Int, in directory: String) throws -> String {
        let path = directory + "/password-\(mode)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(
            atPath: path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: mode])
        return path
    }

    @Test func anOperatorAddsAnAccountThatScriptsThenLogInTo() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secrets = directory + "-secrets"
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        let readable = try Self.passwordFile("deploy-bot-password", mode: 0o644, in: secrets)
        let owned = try Self.passwordFile("deploy-bot-password", mode: 0o600, in: secrets)

        let daemon = try await Daemon(
            directory: directory, extra: ["--registration", "closed", "--require-account"])

        let refused = try Child(
            "tchatd", ["account", "add", "deploy", "--data-dir", directory, "--password-file", readable])
        #expect(await refused.exitStatus() != 0)
        #expect(refused.stderr.contains("readable by group or others"), "\(refused.stderr)")

        let added = try Child(
            "tchatd", ["account", "add", "deploy", "--data-dir", directory, "--password-file", owned])
        #expect(await added.exitStatus() == 0, "\(added.stderr)")
        let fromStdin = try Child(
            "tchatd", ["account", "add", "ops-bot", "--data-dir", directory], stdin: "ops-bot-password\n")
        #expect(await fromStdin.exitStatus() == 0, "\(fromStdin.stderr)")
        let list = try Child("tchatd", ["account", "list", "--data-dir", directory])
        #expect(await list.exitStatus() == 0)
        #expect(list.lines.map { String($0.prefix { $0 != "\t" }) } == ["deploy", "ops-bot"])

        // Without a login this server admits nobody.
        let anonymous = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "guest", "ops", "hi"])
        #expect(await anonymous.exitStatus() == 1)
        #expect(anonymous.stderr.contains("logged-in clients only"), "\(anonymous.stderr)")

        // The server reads the new accounts within seconds; scripts log in with the file or the environment.
        var sent = false
        for _ in 0..<40 where !sent {
            let send = try Child(
                "tchat",
                ["send", "--server", daemon.clients, "--nick", "deploy", "--password-file", owned, "ops", "up"])
            sent = await send.exitStatus() == 0
            if !sent { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(sent)
        let listen = try Child(
            "tchat", ["listen", "--server", daemon.clients, "--nick", "deploy", "--history", "5", "ops"],
            environment: ["TCHAT_PASSWORD_FILE": owned])
        #expect(await listen.waitForOutput { $0.contains { $0.contains("\"body\":\"up\"") } }, "\(listen.stderr)")
        listen.signal(SIGINT)
        _ = await listen.exitStatus()

        let wrong = try Child(
            "tchat", ["send", "--server", daemon.clients, "--nick", "ops-bot", "--password-file", owned, "ops", "x"])
        #expect(await wrong.exitStatus() == 1)
        #expect(wrong.stderr.contains("the account or the password is wrong"), "\(wrong.stderr)")
        #expect(await daemon.stop() == 0)
        #expect(!daemon.child.stderr.contains("deploy-bot-password"))
    }
}
