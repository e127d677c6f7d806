import TChatClient
import TChatProtocol
import Testing

@testable import TChatTUI

/// `/register`, `/login`, `/passwd` and `/unregister`: passwords are typed without echo and end up nowhere but in
/// the one session command that needs them.
@Suite struct AccountPromptTests {
    static func everything(_ ui: ChatUI) -> String {
        let buffers = ui.buffers.flatMap(\.lines).map { "\($0)" }.joined(separator: "\n")
        let screen = ScreenComposer.compose(ui).lines.joined(separator: "\n")
        return buffers + screen + "\(ui.input)"
    }

    @Test func registeringAsksTwiceAndShowsNothingTyped() {
        var ui = ChatUITests.connected()
        #expect(ChatUITests.type("/register", into: &ui).isEmpty)
        #expect(ui.secret?.question == "new password for alice: ")
        #expect(ChatUITests.type("hunter2hunter2", into: &ui).isEmpty)
        #expect(ScreenComposer.compose(ui).lines.last == "the same password again:")
        let effects = ChatUITests.type("hunter2hunter2", into: &ui)
        #expect(effects == [.session(.register(password: "hunter2hunter2"))])
        #expect(ui.secret == nil)
        #expect(!Self.everything(ui).contains("hunter2"))
        // Not in the input history either.
        _ = ui.handle(.up)
        #expect(ui.input.text == "/register")
    }

    @Test func twoDifferentNewPasswordsAreAskedForAgain() {
        var ui = ChatUITests.connected()
        _ = ChatUITests.type("/passwd", into: &ui)
        _ = ChatUITests.type("old password", into: &ui)
        _ = ChatUITests.type("new password 1", into: &ui)
        #expect(ChatUITests.type("new password 2", into: &ui).isEmpty)
        #expect(ui.secret?.question == "new password: ")
        _ = ChatUITests.type("new password 3", into: &ui)
        #expect(
            ChatUITests.type("new password 3", into: &ui) == [
                .session(.setPassword(old: "old password", new: "new password 3"))
            ])
    }

    @Test func loginDefaultsToTheNickAskedForAndTakesItAfterwards() {
        var ui = ChatUI(nick: "ann", serverAddress: "127.0.0.1:5000", clock: .utc)
        _ = ui.handle(.connected(ChatUITests.welcome("ann_")))
        _ = ChatUITests.type("/login", into: &ui)
        #expect(ui.secret?.question == "password for ann: ")
        let effects = ChatUITests.type("s3cret-pass", into: &ui)
        #expect(effects == [.session(.login(Credentials(account: "ann", password: "s3cret-pass")))])
        #expect(ui.handle(.loggedIn(account: "ann")) == [.session(.nick("ann"))])
        #expect(!Self.everything(ui).contains("s3cret"))
        // The account dropped elsewhere (another session, an operator): the server says so with no account.
        #expect(ui.handle(.event(.loggedIn(account: ""))).isEmpty)
        #expect(
            ui.buffers[0].lines.last.map { "\($0)" }?.contains("you are logged out: your account was dropped") == true)
    }

    @Test func escapeCancelsAndCtrlCDoesNotQuitWhileAPasswordIsTyped() {
        var ui = ChatUITests.connected()
        _ = ChatUITests.type("/unregister", into: &ui)
        _ = ui.handle(.character("x"))
        #expect(ui.handle(.ctrl("c")).isEmpty)
        #expect(ui.secret == nil)
        #expect(ui.activeBuffer.lines.last.map { "\($0)" }?.contains("cancelled") == true)
        _ = ChatUITests.type("/login bob", into: &ui)
        _ = ui.handle(.escape)
        #expect(ui.secret == nil)
    }

    @Test func accountCommandsNeedAConnection() {
        var ui = ChatUI(nick: "ann", serverAddress: "127.0.0.1:5000", clock: .utc)
        _ = ChatUITests.type("/register", into: &ui)
        #expect(ui.secret == nil)
    }

    @Test func credentialsNeverPrintTheirPassword() {
        let credentials = Credentials(account: "ann", password: "hunter2")
        #expect(!"\(credentials)".contains("hunter2"))
        #expect(!String(reflecting: credentials).contains("hunter2"))
        #expect(!ChatSession.describe(.login(credentials)).contains("hunter2"))
        #expect(!ChatSession.describe(.register(password: "hunter2")).contains("hunter2"))
    }
}

/// `/mode`, `/op`, `/kick`, `/ban`, `/invite` and `/join #channel key`, and what their events show.
@Suite struct ChannelCommandTests {
    @Test func operatorCommandsBecomeRequestsForTheChannelShown() {
        var ui = ChatUITests.connected()
        func frame(_ effects: [Effect]) -> ClientFrame? {
            if case .session(.request(let frame, _))? = effects.first { return frame }
            return nil
        }
        #expect(frame(ChatUITests.type("/mode +i", into: &ui)) == .channelMode(channel: "#ops", change: "+i"))
        #expect(
            frame(ChatUITests.type("/mode #dev +k s3", into: &ui)) == .channelMode(channel: "#dev", change: "+k s3"))
        #expect(frame(ChatUITests.type("/op bob", into: &ui)) == .channelMode(channel: "#ops", change: "+o bob"))
        #expect(frame(ChatUITests.type("/unban eve*", into: &ui)) == .channelMode(channel: "#ops", change: "-b eve*"))
        #expect(
            frame(ChatUITests.type("/kick bob go away", into: &ui))
                == .kick(channel: "#ops", nick: "bob", reason: "go away"))
        #expect(frame(ChatUITests.type("/invite carol", into: &ui)) == .invite(channel: "#ops", nick: "carol"))
        #expect(ChatUITests.type("/join #vault hunter2", into: &ui) == [.session(.joinKeyed("#vault", key: "hunter2"))])
    }

    @Test func kicksModesAndInvitationsShowWhereTheyBelong() {
        var ui = ChatUITests.connected()
        let time = ChatUITests.time
        _ = ui.handle(.event(.modeChanged(channel: "#ops", by: "ann", change: "+i", time: time)))
        #expect(ui.activeBuffer.lines.last.map { "\($0)" }?.contains("ann sets mode +i") == true)
        let tag = ui.handle(.event(.modeChanged(channel: "#ops", by: "ann", change: "+s", time: time)))
        guard case .session(.request(_, let modesTag))? = tag.first else {
            Issue.record("no modes request")
            return
        }
        _ = ui.handle(
            .reply(
                tag: modesTag,
                frames: [.channelModes(channel: "#ops", modes: "+is", operators: "ann", voiced: "", bans: ""), .ok]))
        #expect(ui.activeBuffer.isPrivate)
        #expect(ScreenComposer.compose(ui).lines.contains { $0.contains("#ops is") })
        _ = ui.handle(.event(.invited(channel: "#secret", by: "ann", time: time)))
        #expect(ui.buffers[0].lines.last.map { "\($0)" }?.contains("ann invites you to #secret") == true)
        _ = ui.handle(.event(.kicked(channel: "#ops", nick: "alice", by: "ann", reason: "bye", time: time)))
        #expect(!ui.buffers.contains { $0.name == "#ops" }, "kicked: the channel's entry goes")
    }
}
