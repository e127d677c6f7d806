import ArgumentParser
import Foundation
import Synchronization
import TChatAuth
import TChatClient
import TChatProtocol

/// `tchat-bench logins`: what password work does to everyone else. A bystander pings the server every 20 ms while
/// (1) a storm of PLAIN logins over TLS makes it check one scrypt hash per login, and (2) one address fails 100
/// SCRAM logins in a row, as a guesser would (a random proof: no key derived on this side), one every 50 ms so that
/// the bystander is measured over seconds, not the few milliseconds the refusals take. Reports the bystander's
/// round trips during each, and what the server answered.
struct LoginBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logins",
        abstract: "Bystander latency during a storm of logins and during 100 failed logins from one address.",
        discussion: """
            The server must speak TLS on --server (PLAIN is refused otherwise) and have the account \
            --account with the password in --password-file (tchatd account add). Run the storm first: the \
            failures then make this address wait, as they should. bench/logins sets all of it up.
            """)

    @Option(help: ArgumentHelp("The server, tls:// on a loopback address.", valueName: "tls://host:port"))
    var server: String
    @Option(help: "The account the storm logs in to.") var account = "storm"
    @Option(help: ArgumentHelp("Its password, on the first line (mode 600).", valueName: "file"))
    var passwordFile: String
    @Option(help: "Logins in the storm.") var logins = 200
    @Option(help: "Storm logins under way at once.") var concurrency = 20
    @Option(help: "Failed logins in a row from one address.") var failures = 100
    @Option(help: "Seconds between two failed logins, so that the bystander is measured over a while.")
    var failureInterval: Double = 0.05
    @Option(help: "Seconds after which the run stops, whatever it reached.") var timeout: Double = 120
    @Flag(help: "Print the report as one JSON object.") var json = false

    /// The `--json` report: one object on one line, as every scenario prints.
    struct Report: Codable {
        var scenario: String
        var storm: Phase
        var failures: Phase
    }

    struct Phase: Codable {
        var name: String
        var seconds: Double
        var attempts: Int
        var answers: [String: Int]
        var pings: Int
        var pingP50Ms: Double
        var pingP99Ms: Double
        var pingMaxMs: Double
    }

    func run() async throws {
        guard (1...10_000).contains(logins), (1...1000).contains(failures), (1...200).contains(concurrency),
            (0...1).contains(failureInterval)
        else {
            throw ValidationError(
                "--logins 1...10000, --failures 1...1000, --concurrency 1...200, --failure-interval 0...1")
        }
        let address = try ServerAddress(parsing: server, defaultPort: 7667, allowingTLS: true)
        guard address.usesTLS, address.host.hasPrefix("127.") || address.host == "::1" else {
            throw ValidationError("--server must be tls:// on a loopback address")
        }
        let password: String
        do {
            password = try PasswordFile.read(passwordFile)
        } catch {
            throw ValidationError(error.description)
        }
        var bystanderOptions = ConnectOptions(server: address, nick: "bystander")
        bystanderOptions.tlsTrust = .unverified
        let options = bystanderOptions
        let deadline = ContinuousClock.now + .seconds(timeout)
        let bystander = try await ChatConnection.connect(options)
        let storm = try await measure("storm of \(logins) PLAIN logins", bystander) {
            try await self.storm(options: options, password: password, deadline: deadline)
        }
        let guesses = try await measure("\(failures) failed SCRAM logins from one address", bystander) {
            try await self.guess(options: options, deadline: deadline)
        }
        await bystander.quit()
        let phases = [storm, guesses]
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let report = Report(scenario: "logins", storm: storm, failures: guesses)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        for phase in phases {
            let answers = phase.answers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                separator: ", ")
            print(
                "\(phase.name): \(String(format: "%.1f", phase.seconds)) s, \(phase.attempts) attempts (\(answers)); "
                    + "bystander ping p50 \(String(format: "%.2f", phase.pingP50Ms)) ms, p99 "
                    + "\(String(format: "%.2f", phase.pingP99Ms)) ms, max \(String(format: "%.2f", phase.pingMaxMs)) ms "
                    + "over \(phase.pings) pings")
        }
    }

    /// Runs `work` while the bystander pings every 20 ms; the work returns its attempts and answers.
    private func measure(
        _ name: String, _ bystander: ChatConnection, _ work: @escaping @Sendable () async throws -> (Int, [String: Int])
    ) async throws -> Phase {
        let start = ContinuousClock.now
        let stop = Atomic<Bool>(false)
        let pinging = Task {
            var samples: [Double] = []
            while !stop.load(ordering: .relaxed) {
                if let trip = try? await bystander.ping() {
                    samples.append(Double(trip.components.attoseconds) / 1e15 + Double(trip.components.seconds) * 1e3)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return samples
        }
        let (attempts, answers) = try await work()
        stop.store(true, ordering: .relaxed)
        let samples = await pinging.value.sorted()
        let seconds =
            Double((ContinuousClock.now - start).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - start).components.seconds)
        func quantile(_ q: Double) -> Double {
            samples.isEmpty ? 0 : samples[min(Int(Double(samples.count) * q), samples.count - 1)]
        }
        return Phase(
            name: name, seconds: seconds, attempts: attempts, answers: answers, pings: samples.count,
            pingP50Ms: quantile(0.5), pingP99Ms: quantile(0.99), pingMaxMs: samples.last ?? 0)
    }

    /// Each login its own connection; a "busy" refusal is tried again after 100 ms, as a client would.
    private func storm(options: ConnectOptions, password: String, deadline: ContinuousClock.Instant) async throws
        -> (Int, [String: Int])
    {
        let tally = Tally()
        let (logins, account) = (self.logins, self.account)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = tally.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard index < logins, ContinuousClock.now < deadline else { return }
                        var mine = options
                        mine.nick = "storm\(index)"
                        let connection = try await ChatConnection.connect(mine)
                        while ContinuousClock.now < deadline {
                            tally.attempts.wrappingAdd(1, ordering: .relaxed)
                            let answer = await Self.answer {
                                try await connection.request(
                                    .login(mechanism: "PLAIN", data: "\0\(account)\0\(password)"))
                            }
                            tally.answers.withLock { $0[answer, default: 0] += 1 }
                            guard answer == ErrorCode.loginThrottled.description else { break }
                            try await Task.sleep(for: .milliseconds(100))
                        }
                        await connection.close()
                    }
                }
            }
            try await group.waitForAll()
        }
        return (tally.attempts.load(ordering: .relaxed), tally.answers.withLock { $0 })
    }

    /// What the storm's tasks count together.
    private final class Tally: Sendable {
        let answers = Mutex<[String: Int]>([:])
        let attempts = Atomic<Int>(0)
        let next = Atomic<Int>(0)
    }

    /// Wrong proofs, one after another on one connection, as fast as the answers come.
    private func guess(options: ConnectOptions, deadline: ContinuousClock.Instant) async throws
        -> (Int, [String: Int])
    {
        var mine = options
        mine.nick = "guesser"
        let connection = try await ChatConnection.connect(mine)
        var answers: [String: Int] = [:]
        var attempts = 0
        for index in 0..<failures where ContinuousClock.now < deadline {
            attempts += 1
            let answer = await Self.answer {
                let nonce = "guess\(index)x\(UInt32.random(in: 0...UInt32.max))"
                let first = try await connection.request(
                    .login(mechanism: "SCRAM-SHA-256", data: "n,,n=\(account),r=\(nonce)"))
                guard case .authData(let challenge)? = first.first,
                    let full = challenge.split(separator: ",").first?.dropFirst(2)
                else { return first }
                let proof = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
                return try await connection.request(.loginContinue(data: "c=biws,r=\(full),p=\(proof)"))
            }
            answers[answer, default: 0] += 1
            try await Task.sleep(for: .milliseconds(Int(failureInterval * 1000)))
        }
        await connection.close()
        return (attempts, answers)
    }

    /// "ok", or the error code's name.
    private static func answer(_ request: () async throws -> [ServerFrame]) async -> String {
        do {
            _ = try await request()
            return "ok"
        } catch let error as ProtocolError {
            return error.code.description
        } catch {
            return "failed: \(error)"
        }
    }
}
