import Foundation
import Testing

/// Each `tchat-bench` scenario, small, against a real `tchatd`: what it reports adds up and nothing is lost,
/// duplicated or reordered. Never a timing: the numbers that matter come from `bench/compare` on a quiet machine.
@Suite(.serialized, .leavesNoProcess)
struct BenchSmokeTests {
    static func report(_ arguments: [String], within timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let bench = try Child("tchat-bench", arguments + ["--json"])
        let status = await bench.exitStatus(within: timeout)
        #expect(status == 0, "tchat-bench \(arguments.joined(separator: " ")): \(bench.stderr)")
        guard let line = bench.lines.last,
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw ProcessError("tchat-bench printed no JSON report: \(bench.stdout) \(bench.stderr)") }
        return object
    }

    /// Load generators are many clients on one address sending as fast as they can: lift those limits, as
    /// bench/compare does for every server.
    static let unthrottled = ["--max-per-ip", "0", "--rate", "0", "--connect-rate", "0", "--create-rate", "0"]

    static func number(_ report: [String: Any], _ key: String) -> Double {
        (report[key] as? NSNumber)?.doubleValue ?? .nan
    }

    @Test func fanoutAndRoomsDeliverEverythingOnceInOrder() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory, extra: Self.unthrottled)

        let fanout = try await Self.report([
            "fanout", "--server", daemon.clients, "--receivers", "20", "--senders", "3", "--messages", "600",
            "--window", "16", "--timeout", "30",
        ])
        #expect(fanout["scenario"] as? String == "fanout")
        #expect(Self.number(fanout, "deliveries") == 20 * 600)
        #expect(Self.number(fanout, "deliveries_expected") == 20 * 600)
        #expect(Self.number(fanout, "messages_sent") == 600)
        for key in ["lost", "duplicated", "reordered", "errors"] { #expect(Self.number(fanout, key) == 0, "\(key)") }
        #expect(Self.number(fanout, "latency_p50") <= Self.number(fanout, "latency_p99"))
        #expect(Self.number(fanout, "latency_p99") <= Self.number(fanout, "latency_max"))

        // 40 clients in 8 rooms of 5: each of a client's messages reaches the 4 others in its room.
        let rooms = try await Self.report([
            "rooms", "--server", daemon.clients, "--clients", "40", "--channels", "8", "--messages", "400",
            "--window", "4", "--timeout", "30", "--server-pid", String(daemon.child.process.processIdentifier),
        ])
        #expect(Self.number(rooms, "deliveries") == 400 * 4)
        // The server's CPU across the sending phase: read, and no more than the whole run's can be.
        let sending = Self.number(rooms, "server_cpu_sending")
        #expect(sending >= 0 && sending < 30)
        #expect(rooms["server_cpu_per_message_sending"] != nil)
        #expect(Self.number(rooms, "deliveries_expected") == 400 * 4)
        for key in ["lost", "duplicated", "reordered", "errors"] { #expect(Self.number(rooms, key) == 0, "\(key)") }
        #expect(await daemon.stop() == 0)
    }

    @Test func acksCountsWhatTheServerAcknowledged() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory, extra: Self.unthrottled)
        // Paced: 4 senders at 200 messages/s in all for a second: about 50 each are due (how many were sent in
        // time and how many were answered within the second depend on the machine, not on the tool).
        let paced = try await Self.report([
            "acks", "--server", daemon.clients, "--senders", "4", "--channels", "2", "--rate", "200", "--seconds", "1",
        ])
        #expect(Self.number(paced, "senders") == 4)
        #expect(Self.number(paced, "refused") == 0 && Self.number(paced, "errors") == 0)
        let due = Self.number(paced, "sent") + Self.number(paced, "not_sent_in_time")
        #expect((200...204).contains(due), "about 50 due per sender: \(paced)")
        #expect(Self.number(paced, "acknowledged") > 0)
        #expect(Self.number(paced, "acknowledged") <= Self.number(paced, "sent"))
        #expect(Self.number(paced, "unanswered") == 0)
        #expect(Self.number(paced, "latency_p50") <= Self.number(paced, "latency_p99"))
        // As fast as the window lets.
        let windowed = try await Self.report([
            "acks", "--server", daemon.clients, "--senders", "2", "--channels", "1", "--window", "8", "--seconds",
            "0.5", "--prefix", "w",
        ])
        #expect(Self.number(windowed, "acknowledged") > 0 && Self.number(windowed, "errors") == 0)
        #expect(await daemon.stop() == 0)
    }

    @Test func idleReportsTheServersMemoryPerClient() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory, extra: Self.unthrottled)
        let idle = try await Self.report([
            "idle", "--server", daemon.clients, "--clients", "300", "--channels", "10", "--hold", "0.2",
            "--server-pid", String(daemon.child.process.processIdentifier), "--timeout", "30",
        ])
        #expect(Self.number(idle, "clients") == 300)
        #expect(Self.number(idle, "errors") == 0)
        #expect(Self.number(idle, "connections_per_second") > 0)
        // Measured, not made up: the server's resident set grew while 300 clients joined.
        #expect(Self.number(idle, "server_memory_after") > Self.number(idle, "server_memory_before"))
        #expect(Self.number(idle, "server_memory_per_client") > 0)
        #expect(await daemon.stop() == 0)
    }

    @Test func historyMeasuresEveryPolicyAndAStartUp() async throws {
        let scratch = CommandLineTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let history = try await Self.report(
            [
                "history", "--messages", "2000", "--stored", "20000", "--scratch", scratch,
                "--tchatd", try Binaries.path("tchatd"),
            ], within: .seconds(120))
        for policy in ["always", "interval", "never"] {
            #expect(Self.number(history, "appends_per_second_fsync_\(policy)") > 0, "\(policy)")
        }
        #expect(Self.number(history, "stored_messages") == 20000)
        #expect(Self.number(history, "startup_time") > 0)
        // Every temporary data directory is gone afterwards.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }

    @Test func passwordsTimesBothHashes() async throws {
        let report = try await Self.report(["passwords", "--count", "2", "--log-n", "10", "--iterations", "4096"])
        #expect(Self.number(report, "scrypt_log2_N") == 10)
        #expect(Self.number(report, "scrypt_median") > 0 && Self.number(report, "scram_median") > 0)
        #expect(Self.number(report, "scram_iterations") == 4096)
    }

    @Test func loginsStormAndFailuresAreAnsweredAsTheThrottleSays() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secrets = directory + "-secrets"
        defer { try? FileManager.default.removeItem(atPath: secrets) }
        let password = try AccountCommandLineTests.passwordFile("storm-password-1", mode: 0o600, in: secrets)
        let add = try Child(
            "tchatd", ["account", "add", "storm", "--data-dir", directory, "--password-file", password])
        #expect(await add.exitStatus() == 0, "\(add.stderr)")
        let tls = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tls").path
        let daemon = try await Daemon(
            directory: directory, extra: ["--tls-cert", tls + "/server.pem", "--tls-key", tls + "/server-key.pem"])
        let report = try await Self.report([
            "logins", "--server", daemon.clients, "--account", "storm", "--password-file", password, "--logins", "4",
            "--concurrency", "2", "--failures", "10", "--failure-interval", "0",
        ])
        #expect(report["scenario"] as? String == "logins")
        let storm = try #require(report["storm"] as? [String: Any])
        let failures = try #require(report["failures"] as? [String: Any])
        #expect((storm["answers"] as? [String: Int])?["ok"] == 4)
        let answers = try #require(failures["answers"] as? [String: Int])
        #expect(answers["login-failed", default: 0] + answers["login-throttled", default: 0] == 10)
        #expect(answers["login-failed", default: 0] <= 6 && answers["login-throttled", default: 0] >= 4)
        #expect(await daemon.stop() == 0)
    }

    @Test func aTargetOffLoopbackIsRefused() async throws {
        let bench = try Child("tchat-bench", ["fanout", "--server", "192.0.2.1:7667"])
        #expect(await bench.exitStatus() != 0)
        #expect(bench.stderr.contains("only targets loopback"))
    }
}
