import Testing

@testable import TChatServer

/// What a reload (SIGHUP) cannot change, and names in its warning as waiting for a restart.
@Suite struct LiveSettingsTests {
    @Test func aChangedStoreOrCommitIntervalIsNamedAsWaitingForARestartAndALiveLimitIsNot() {
        var running = ServerConfiguration(dataDirectory: "/var/lib/tchatd", name: "a")
        running.storeFlags = "postgres://tchat@127.0.0.1:5432/chat"
        running.storeCommitInterval = "\(Duration.milliseconds(8))"
        var changed = running
        #expect(LiveSettings.restartNeeded(running, changed).isEmpty)
        changed.requestBurst += 1
        #expect(LiveSettings.restartNeeded(running, changed).isEmpty, "a reload applies it")
        changed.storeCommitInterval = "\(Duration.milliseconds(20))"
        #expect(LiveSettings.restartNeeded(running, changed) == ["store-commit-interval"])
        changed.storeFlags = ""
        #expect(LiveSettings.restartNeeded(running, changed) == ["store", "store-commit-interval"])
    }
}
