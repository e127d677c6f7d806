import Foundation
import Logging
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// What an operator's files and log do under load: the connection log is rotated, and a log nobody reads never
/// stops the server.
@Suite(.serialized)
struct OperatorFilesTests {
    @Test func theConnectionLogIsRotatedKeepingSoManyFiles() async throws {
        let server = try await TestServer {
            $0.connectionLog.maxBytes = 4096
            $0.connectionLog.keep = 2
        }
        defer { server.removeData() }
        for index in 0..<120 {
            let connection = try await server.connect("c\(index)", events: false)
            await connection.quit()
        }
        await server.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: server.directory).filter {
            $0.hasPrefix("clients.jsonl")
        }
        // The live file is made again by the next connection after a rotation.
        #expect(Set(files).isSubset(of: ["clients.jsonl", "clients.jsonl.1", "clients.jsonl.2"]))
        #expect(files.contains("clients.jsonl.1") && files.contains("clients.jsonl.2"))
        for file in files {
            let size = try FileManager.default.attributesOfItem(atPath: server.directory + "/" + file)[.size] as? Int
            // A file is cut once a batch takes it past the bound: a batch of lines over it at most.
            #expect((size ?? .max) < 4096 + 8192, "\(file): \(size ?? -1) bytes")
        }
        let newest = files.contains("clients.jsonl") ? "clients.jsonl" : "clients.jsonl.1"
        let text = try String(contentsOfFile: server.directory + "/" + newest, encoding: .utf8)
        #expect(text.contains("\"nick\":\"c119\""))
    }

    /// The server froze once standard error was a pipe nobody read: 64 KB of log and every loop waited on `write`.
    @Test func logLinesToAPipeNobodyReadsNeverBlockTheCaller() async throws {
        let pipe = Pipe()
        let output = LogOutput(pipe.fileHandleForWriting, bound: 1000)
        let logger = Logger(label: "t") { _ in LineLogHandler(logLevel: .info, output: output) }
        let started = ContinuousClock.now
        let padding = String(repeating: "x", count: 100)
        for index in 0..<20_000 { logger.info("line \(index) \(padding)") }
        #expect(ContinuousClock.now - started < .seconds(5), "logging waited for the pipe")
        #expect(output.droppedLines > 10_000)
        // Once someone reads, what waited is written, and the drop is said.
        let reader = Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }
        output.flush()
        logger.info("after")
        output.flush()
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: await reader.value, as: UTF8.self)
        #expect(text.contains("log lines dropped") && text.contains("after"))
    }
}
