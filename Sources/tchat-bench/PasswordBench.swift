import ArgumentParser
import Foundation
import TChatAuth

/// `tchat-bench passwords`: what the account password hashes cost on this machine, so that docs/accounts.md can give
/// the time per hash of the parameters tchatd uses (issue 12 asks for at least 50 ms).
struct PasswordBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwords",
        abstract: "Time per scrypt password hash and per SCRAM key derivation, with the parameters tchatd uses.",
        discussion: """
            Hashes --count passwords one after another on one thread (a login or a registration costs one), and \
            reports the median and the slowest.
            """)

    @Option(help: "Hashes to time.") var count = 10
    @Option(help: "log2 of scrypt's N.") var logN = PasswordHash.standard.logN
    @Option(help: "SCRAM iterations (PBKDF2-HMAC-SHA-256).") var iterations = ScramKeys.standardIterations
    @Flag(help: "Print the report as one JSON object.") var json = false

    func run() async throws {
        guard (1...1000).contains(count) else { throw ValidationError("--count must be 1 to 1000") }
        guard (1...ScramClient.maximumIterations).contains(iterations) else {
            throw ValidationError("--iterations must be 1 to \(ScramClient.maximumIterations)")
        }
        var scrypt: [Double] = []
        var scram: [Double] = []
        for index in 0..<count {
            let password = "correct horse battery staple \(index)"
            scrypt.append(try Self.seconds { _ = try PasswordHash.make(password: password, logN: logN) })
            scram.append(
                try Self.seconds {
                    _ = try ScramKeys(password: password, salt: Array("salt \(index)".utf8), iterations: iterations)
                })
        }
        var report = Report(scenario: "passwords")
        report.add("scrypt log2 N", Double(logN))
        report.add("scrypt memory", Double((1 << logN) * PasswordHash.standard.blockSize * 128) / 1_048_576, "MiB")
        report.add("scrypt median", Self.median(scrypt) * 1000, "ms")
        report.add("scrypt slowest", (scrypt.max() ?? 0) * 1000, "ms")
        report.add("scram iterations", Double(iterations))
        report.add("scram median", Self.median(scram) * 1000, "ms")
        report.add("scram slowest", (scram.max() ?? 0) * 1000, "ms")
        try report.finish(json: json)
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
