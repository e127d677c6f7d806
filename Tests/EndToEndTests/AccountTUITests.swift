import Foundation
import Testing

/// Issue 12's walk-through in real full-screen clients in tmux: register, make an invite-only channel, invite
/// someone, kick them, and log in again from a new client. Passwords never show on any screen.
@Suite(.serialized, .enabled(if: Tmux.path != nil, "tmux is not installed"))
struct AccountTUITests {
    static let password = "pony-staple-42"

    @Test func registerRunAnInviteOnlyChannelAndLogInAgain() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let tmux = Tmux()
        defer { tmux.stop() }
        func expectScreen(_ name: String, _ text: String, _ note: String = "") async throws {
            let (seen, screen) = try await tmux.waitFor(name) { $0.contains { $0.contains(text) } }
            #expect(seen, "\(name) never showed '\(text)' \(note):\n\(screen.joined(separator: "\n"))")
            #expect(!screen.contains { $0.contains(Self.password) }, "a password on \(name)'s screen")
        }

        try tmux.start("ann", try TUITests.tchat(daemon.clients, nick: "ann"))
        try await expectScreen("ann", "connected to")
        try tmux.type("ann", "/register")
        try await expectScreen("ann", "new password for ann:")
        try tmux.type("ann", Self.password)
        try await expectScreen("ann", "the same password again:")
        try tmux.type("ann", Self.password)
        try await expectScreen("ann", "you are logged in to the account ann")
        try tmux.type("ann", "/join #ops")
        try await expectScreen("ann", "you joined #ops")
        try tmux.type("ann", "/mode +i")
        try await expectScreen("ann", "ann sets mode +i")
        try await expectScreen("ann", "#ops i", "(the sidebar's mark of a private channel)")

        try tmux.start("bob", try TUITests.tchat(daemon.clients, nick: "bob"))
        try await expectScreen("bob", "connected to")
        try tmux.type("bob", "/join #ops")
        try await expectScreen("bob", "invite-only")
        try tmux.type("ann", "/invite bob")
        try await expectScreen("bob", "ann invites you to #ops")
        try tmux.type("bob", "/join #ops")
        try await expectScreen("bob", "you joined #ops")
        try await expectScreen("ann", "bob joined #ops")
        try tmux.type("ann", "/kick bob off topic")
        try await expectScreen("bob", "ann kicked you from #ops (off topic)")
        try await expectScreen("ann", "ann kicked bob (off topic)")

        // A second client asking for ann is refused the nick, then logs in and takes it.
        try tmux.type("ann", "/quit")
        try tmux.start("ann2", try TUITests.tchat(daemon.clients, nick: "ann"))
        try await expectScreen("ann2", "connected to")
        try await expectScreen("ann2", "registered")
        try tmux.type("ann2", "/login")
        try await expectScreen("ann2", "password for ann:")
        try tmux.type("ann2", Self.password)
        try await expectScreen("ann2", "you are now known as ann")
        try tmux.type("ann2", "/join #ops")
        try await expectScreen("ann2", "you joined #ops", "(an operator joins an invite-only channel)")
        try tmux.type("ann2", "/quit")
        try tmux.type("bob", "/quit")
        #expect(await daemon.stop() == 0)
        #expect(!daemon.child.stderr.contains(Self.password))
    }
}
