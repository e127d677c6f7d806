import Foundation
import Logging
import TChatProtocol
import Testing

@testable import TChatServer

#if canImport(Glibc)
    import Glibc
#endif

/// The link secret's file, the discovery directory that holds one, and what the log makes of text that came over
/// a wire.
@Suite struct LinkSecretTests {
    @Test func aSecretOthersCanReadOrTooShortToResistGuessingIsRefusedNamingTheFile() throws {
        let readable = TestServer.writeSecret("readable by all", mode: 0o644)
        do {
            _ = try LinkSecret.load(path: readable)
            Issue.record("a 0644 secret was accepted")
        } catch {
            #expect(error.description.contains("readable by group or others (mode 644): chmod 600 \(readable)"))
        }
        let short = TestServer.temporaryDirectory() + "/short"
        _ = FileManager.default.createFile(
            atPath: short, contents: Data("tiny\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: SettingsError.self) { try LinkSecret.load(path: short) }
        #expect(throws: SettingsError.self) { try LinkSecret.load(path: short + ".missing") }
        #expect(throws: SettingsError.self) { try LinkSecret.load(path: TestServer.temporaryDirectory()) }
        // Whitespace around it is not part of it: an editor's final newline does not change the secret.
        let withNewline = TestServer.writeSecret("same")
        let text = try String(contentsOfFile: withNewline, encoding: .utf8)
        let bare = TestServer.temporaryDirectory() + "/bare"
        _ = FileManager.default.createFile(
            atPath: bare, contents: Data(("  " + text.trimmingCharacters(in: .newlines)).utf8),
            attributes: [.posixPermissions: 0o600])
        #expect(try LinkSecret.load(path: withNewline).key == LinkSecret.load(path: bare).key)
    }

    @Test func aServerWithAnUnusableSecretDoesNotStart() async throws {
        let readable = TestServer.writeSecret("readable by all", mode: 0o640)
        await #expect(throws: SettingsError.self) { _ = try await TestServer { $0.linkSecretFile = readable } }
    }

    @Test func theDiscoveryDirectoryIsMadePrivateAndRefusedWhenItIsNot() throws {
        let base = TestServer.temporaryDirectory()
        let registry = DiscoveryRegistry(directory: base + "/runtime/tchatd/servers")
        try registry.prepare()
        var info = stat()
        stat(registry.directory, &info)
        #expect(info.st_mode & 0o777 == 0o700)
        let secret = try registry.secret()
        stat(registry.directory + "/link-secret", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try registry.secret().key == secret.key, "created once, then read")
        chmod(registry.directory, 0o755)
        #expect(throws: SettingsError.self) { try registry.prepare() }
        chmod(registry.directory, 0o700)
        chmod(base + "/runtime/tchatd", 0o777)
        #expect(throws: SettingsError.self, "a parent others can write to") { try registry.prepare() }
        try? FileManager.default.removeItem(atPath: base)
    }

    @Test func logLinesQuoteControlCharactersInsteadOfObeyingThem() {
        #expect(LineLogHandler.escaped("plain") == "plain")
        #expect(LineLogHandler.escaped("a\u{1B}]0;title\u{07}b") == "a\\u{1B}]0;title\\u{7}b")
        #expect(LineLogHandler.escaped("csi\u{9B}2J\nnext") == "csi\\u{9B}2J\\nnext")
        #expect(LineLogHandler.escaped("evil\u{202E}txt.exe") == "evil\\u{202E}txt.exe", "a bidi override is shown")
        // A value cannot close its quotes early and forge a key=value pair after them.
        let pipe = Pipe()
        let output = LogOutput(pipe.fileHandleForWriting)
        let handler = LineLogHandler(logLevel: .info, output: output)
        handler.log(
            event: LogEvent(
                level: .warning, message: "refused", metadata: ["reason": "a\\\" forged=yes"], source: "t", file: "f",
                function: "f", line: 1))
        output.flush()
        try? pipe.fileHandleForWriting.close()
        let line = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(line.hasSuffix(#" refused reason="a\\\" forged=yes"\#n"#), "\(line)")
    }
}
