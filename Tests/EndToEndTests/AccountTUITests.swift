import Foundation
import Testing

/// Issue 12's walk-through in real full-screen clients in tmux: register, make an invite-only channel, invite
/// someone, kick them, and log in again from a new client. Passwords never show on any screen.
@Suite(.serialized, .leavesNoProcess, .enabled(if: Tmux.path != nil, "tmux is not installed"))
struct AccountTUITests {
    static let password = "pony-staple-42"

    /// Waits until `name`'s screen shows `text`, and checks that no password shows there.
    static func expect(_ text: String, on name: String, in tmux: Tmux, _ note: String) async throws {
        let (seen, screen) = try await tmux.waitFor(name) { $0.contains { $0.contains(text) } }
        #expect(seen, "\(name) never showed '\(text)' \(note):\n\(screen.joined(separator: "\n"))")
        #expect(!screen.contains { $0.contains(password) }, "a password on \(name)'s screen")
    }

    @Test func registerRunAnInviteOnlyChannelAndLogInAgain() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let tmux = Tmux()
        defer { tmux.stop() }
        func expectScreen(_ name: String, _ text: String, _ note: String = "") async throws {
            try await Self.expect(text, on: name, in: tmux, note)
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

    /// A laptop and a phone logged in to one account: both are in the channels either joins, both see what either
    /// sends, and the others see one alice, who leaves when the last of her sessions does.
    @Test func twoSessionsOfOneAccountAreOnePersonToOthers() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory)
        let tmux = Tmux()
        defer { tmux.stop() }
        func expectScreen(_ name: String, _ text: String, _ note: String = "") async throws {
            try await Self.expect(text, on: name, in: tmux, note)
        }

        try tmux.start("laptop", try TUITests.tchat(daemon.clients, nick: "alice"))
        try await expectScreen("laptop", "connected to")
        try tmux.type("laptop", "/register")
        try tmux.type("laptop", Self.password)
        try tmux.type("laptop", Self.password)
        try await expectScreen("laptop", "you are logged in to the account alice")
        try tmux.type("laptop", "/join #team")
        try await expectScreen("laptop", "you joined #team")

        // The phone connects as alice_ (the nick is registered), logs in, and shares alice with the laptop.
        try tmux.start("phone", try TUITests.tchat(daemon.clients, nick: "alice"))
        try await expectScreen("phone", "registered")
        try await expectScreen("phone", "as alice_")
        try tmux.type("phone", "/login")
        try tmux.type("phone", Self.password)
        try await expectScreen("phone", "[alice]", "(the nick in the status line)")
        try await expectScreen("phone", "you joined #team", "(the laptop's channel)")

        try tmux.start("bob", try TUITests.tchat(daemon.clients, nick: "bob"))
        try await expectScreen("bob", "connected to")
        try tmux.type("bob", "/join #team")
        try await expectScreen("bob", "you joined #team")
        try tmux.type("bob", "standup in five")
        try await expectScreen("laptop", "standup in five")
        try await expectScreen("phone", "standup in five")
        try tmux.type("phone", "coming")
        try await expectScreen("bob", "alice │ coming")
        try await expectScreen("laptop", "alice │ coming", "(said from the phone)")
        try await expectScreen("bob", "#team · 2 members", "(alice once)")

        // A direct message sent from the phone shows on the laptop too, in the conversation with bob.
        try tmux.type("phone", "/msg bob on my way")
        try tmux.type("bob", "/msg alice got it")
        try await expectScreen("bob", "on my way")
        try tmux.type("laptop", "/msg bob at my desk now")
        try await expectScreen("laptop", "on my way", "(sent from the phone)")
        try await expectScreen("laptop", "got it")
        try await expectScreen("phone", "got it")
        try await expectScreen("bob", "at my desk now")
        try tmux.keys("bob", "F2")
        try tmux.keys("phone", "F2")

        // The laptop leaves: bob still has alice, on her phone; the phone leaving is alice leaving.
        try tmux.type("laptop", "/quit")
        try tmux.type("bob", "anyone?")
        try await expectScreen("phone", "anyone?")
        #expect(!(try tmux.screen("bob")).contains { $0.contains("alice quit") }, "alice quit with her phone on")
        try tmux.type("phone", "/quit")
        try await expectScreen("bob", "alice quit")
        try tmux.type("bob", "/quit")
        #expect(await daemon.stop() == 0)
        #expect(!daemon.child.stderr.contains(Self.password))
    }
}
