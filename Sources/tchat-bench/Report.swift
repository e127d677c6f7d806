import ArgumentParser
import Foundation
import Histogram

/// A benchmark's figures, named in words for people and as one JSON object for scripts.
struct Report {
    var scenario: String
    var fields: [(name: String, value: Double, unit: String)] = []

    mutating func add(_ name: String, _ value: Double, _ unit: String = "") {
        fields.append((name, value, unit))
    }

    mutating func addLatency(_ histogram: Histogram<UInt64>) {
        for (name, percentile) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)] {
            add("latency \(name)", Double(histogram.valueAtPercentile(percentile)) / 1000, "ms")
        }
        add("latency max", Double(histogram.max) / 1000, "ms")
    }

    /// Prints the report, then fails the command if a client got an error or lost its connection, so that a script
    /// can trust a zero exit status.
    func finish(json: Bool) throws {
        print(json: json)
        if let errors = fields.first(where: { $0.name == "errors" })?.value, errors > 0 { throw ExitCode.failure }
    }

    func print(json: Bool) {
        if json {
            var object: [String: Any] = ["scenario": scenario]
            for field in fields { object[Self.key(field.name)] = field.value }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Swift.print(String(decoding: data, as: UTF8.self))
            return
        }
        Swift.print(scenario)
        for field in fields {
            let value =
                field.value.rounded() == field.value && abs(field.value) < 1e15
                ? String(Int(field.value)) : String(format: "%.3f", field.value)
            Swift.print("  \(field.name) \(value)\(field.unit.isEmpty ? "" : " " + field.unit)")
        }
    }

    /// "latency p99.9" → "latency_p99_9"
    static func key(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
