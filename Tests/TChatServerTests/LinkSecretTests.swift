import Foundation
import Logging
import TChatProtocol
import Testing

@testable import TChatServer

#if canImport(Glibc)
    import Glibc
#endif

/// The link secret's file, the discovery directory that holds one, nick collisions between linked servers, and
/// what the log makes of text that came over a wire.
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
        FileManager.default.createFile(atPath: short, contents: Data("tiny\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: SettingsError.self) { try LinkSecret.load(path: short) }
        #expect(throws: SettingsError.self) { try LinkSecret.load(path: short + ".missing") }
        #expect(throws: SettingsError.self) { try LinkSecret.load(path: TestServer.temporaryDirectory()) }
        // Whitespace around it is not part of it: an editor's final newline does not change the secret.
        let withNewline = TestServer.writeSecret("same")
        let text = try String(contentsOfFile: withNewline, encoding: .utf8)
        let bare = TestServer.temporaryDirectory() + "/bare"
        FileManager.default.createFile(
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

    @Test func aNickCollisionTakesTheNickFromEveryHolderAndIsSettledAlikeEverywhere() throws {
        let fixture = try ManagerTests.Fixture()
        let (alice, _) = try fixture.session("alice")
        let remote = { (nick: String) in
            RemoteClient(
                nick: nick, address: "x", connectedAt: Timestamp(milliseconds: 1), clientName: "c", clientVersion: "v",
                host: "h", processID: 1)
        }
        // Server 0xBBBB... claims an alice of its own, "connected" in 1970: nobody keeps the nick.
        let change = try #require(fixture.clients.addRemote(remote("alice"), serverID: 0xBBBB_0000_0000_0000, serverName: "B"))
        #expect(change.local?.old == "alice" && change.local?.new.hasPrefix("alice_") == true)
        #expect(change.to == "alice_bbbb")
        #expect(fixture.clients.currentNick(of: alice)?.name == change.local?.new)
        #expect(fixture.clients.locate("alice") == nil, "the nick is free")
        // B's frames keep naming its client "alice": that name leads to its client, and only for B.
        #expect(fixture.clients.remoteNick("alice", on: 0xBBBB_0000_0000_0000) == "alice_bbbb")
        #expect(fixture.clients.remoteNick("alice", on: 0xCCCC_0000_0000_0000) == nil)
        #expect(fixture.clients.remoteNick(change.local!.new, on: 0xBBBB_0000_0000_0000) == nil, "not B's client")
        // B renames its client as the rule says: nothing changes here.
        #expect(fixture.clients.renameRemote(from: "alice", to: "alice_bbbb", serverID: 0xBBBB_0000_0000_0000) == nil)
        // A third server's bob meets a second claim from B: both lose it.
        _ = fixture.clients.addRemote(remote("bob"), serverID: 0xCCCC_0000_0000_0000, serverName: "C")
        let second = try #require(fixture.clients.addRemote(remote("bob"), serverID: 0xBBBB_0000_0000_0000, serverName: "B"))
        #expect(second.otherRemote?.from == "bob" && second.otherRemote?.to == "bob_cccc" && second.to == "bob_bbbb")
        // A rename into a nick held here is a collision too.
        let (carol, _) = try fixture.session("carol")
        let renamed = try #require(
            fixture.clients.renameRemote(from: "alice_bbbb", to: "carol", serverID: 0xBBBB_0000_0000_0000))
        #expect(renamed.local?.old == "carol" && renamed.to.hasPrefix("carol_"))
        #expect(fixture.clients.currentNick(of: carol)?.name != "carol")
        #expect(fixture.clients.removeRemotes(of: 0xBBBB_0000_0000_0000).count == 2)
    }

    @Test func logLinesQuoteControlCharactersInsteadOfObeyingThem() {
        #expect(LineLogHandler.escaped("plain") == "plain")
        #expect(LineLogHandler.escaped("a\u{1B}]0;title\u{07}b") == "a\\u{1B}]0;title\\u{7}b")
        #expect(LineLogHandler.escaped("csi\u{9B}2J\nnext") == "csi\\u{9B}2J\\nnext")
    }
}
