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
