import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every process a test starts carries `TCHAT_TEST_RUN=<the test process's pid>` in its environment (`Child` and
/// `Tmux` put it there, and a tmux server hands it to its panes), so what a test leaves running can be found, by
/// this trait after each test, and by `.ci/run` after the whole run.
enum TestProcesses {
    static let variable = "TCHAT_TEST_RUN"
    static let marker = "\(variable)=\(getpid())"

    /// The environment a spawned process gets: ours, marked.
    static func environment(_ base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment = base
        environment[variable] = "\(getpid())"
        return environment
    }

    /// The pids of live processes carrying this run's marker (zombies, already ended, are not counted).
    static func marked() -> Set<pid_t> {
        var found = Set<pid_t>()
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return found }
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid(),
                let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
                environ.split(separator: 0).contains(where: { $0.elementsEqual(marker.utf8) })
            else { continue }
            let status = (try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8)) ?? ""
            if let state = status.split(separator: ")").last?.split(separator: " ").first, state == "Z" { continue }
            found.insert(pid)
        }
        return found
    }
}

/// Fails a test that leaves a process it started alive (after 5 s of grace for processes on their way out), and
/// kills what it left.
struct LeavesNoProcess: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard !test.isSuite else {
            try await function()
            return
        }
        let before = TestProcesses.marked()
        try await function()
        var left = TestProcesses.marked().subtracting(before)
        let deadline = ContinuousClock.now + .seconds(5)
        while !left.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
            left = TestProcesses.marked().subtracting(before)
        }
        guard !left.isEmpty else { return }
        let names = left.map { pid in
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return "\(pid) " + command.replacingOccurrences(of: "\0", with: " ")
        }
        Issue.record("processes started by \(test.name) outlived it: \(names.sorted())")
        for pid in left { kill(pid, SIGKILL) }
    }
}

extension Trait where Self == LeavesNoProcess {
    /// Every process a test of this suite starts must be gone when the test ends.
    static var leavesNoProcess: LeavesNoProcess { LeavesNoProcess() }
}
