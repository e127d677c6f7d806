import Foundation
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// nicks.json is written whole only now and then; each change in between is a line of nicks.journal.jsonl.
@Suite(.serialized)
struct NickJournalTests {
    static func record(_ nick: String, welcome: String = "", seen: UInt64 = 1) -> NickRecord {
        NickRecord(
            nick: nick, welcome: welcome, firstSeen: Timestamp(milliseconds: 1_790_000_000_000),
            lastSeen: Timestamp(milliseconds: 1_790_000_000_000 + seen), connections: seen, connectedMs: 0)
    }

    @Test func linesApplyInOrderOverTheWholeFile() throws {
        var records = ["ann": Self.record("ann"), "bob": Self.record("bob")]
        let lines = try NickJournal.encode([
            ("ann", Self.record("Ann", welcome: "hi", seen: 5)), ("bob", nil), ("cy", Self.record("cy")),
            ("cy", Self.record("cy", seen: 9)),
        ])
        let count = try NickJournal.apply(lines, to: &records, path: "j")
        #expect(count == 4)
        #expect(records["ann"] == Self.record("Ann", welcome: "hi", seen: 5))
        #expect(records["bob"] == nil)
        #expect(records["cy"]?.connections == 9)
        #expect(throws: StorageError.self) { _ = try NickJournal.apply(Array("{oops\n".utf8), to: &records, path: "j") }
        #expect(!NickJournal.isDue(lines: 9_999, nicks: 100) && NickJournal.isDue(lines: 10_000, nicks: 100))
        #expect(!NickJournal.isDue(lines: 19_999, nicks: 20_000) && NickJournal.isDue(lines: 20_000, nicks: 20_000))
    }

    @Test func comingsAndGoingsAreJournalledAndSurviveARestart() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TestServer(directory: directory) {
            $0.registration = .off
            $0.fsync = .always  // every turn writes what changed
        }
        let first = try await server.connect("first", events: false)
        await first.quit()
        // The first write makes the journal (nicks.json is written whole only when the journal is long).
        #expect(await eventually { FileManager.default.fileExists(atPath: directory + "/" + NickJournal.fileName) })
        let whole = try? Data(contentsOf: URL(fileURLWithPath: directory + "/nicks.json"))
        for index in 0..<30 {
            let connection = try await server.connect("n\(index)", events: false)
            if index == 7 { _ = try await connection.request(.setWelcome("seven's text")) }
            await connection.quit()
        }
        await server.stop()
        let after = try? Data(contentsOf: URL(fileURLWithPath: directory + "/nicks.json"))
        #expect(after == whole, "not rewritten")
        let journal = try String(contentsOfFile: directory + "/" + NickJournal.fileName, encoding: .utf8)
        #expect(journal.split(separator: "\n").count >= 31)
        let restarted = try await TestServer(directory: directory) { $0.registration = .off }
        let seven = try await restarted.connect("n7", events: false)
        #expect(seven.welcome.welcomeText == "seven's text")
        let known = restarted.server.context?.clients.snapshot().nicks.map(\.nick) ?? []
        #expect(Set(known).isSuperset(of: ["first", "n0", "n29"]))
        await restarted.stop()
    }
}
