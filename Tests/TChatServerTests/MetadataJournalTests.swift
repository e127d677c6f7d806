import Foundation
import TChatClient
import TChatProtocol
import Testing

@testable import TChatServer

/// nicks.json and channels.json are written whole only now and then; each change in between is a line of their
/// journals.
@Suite(.serialized)
struct MetadataJournalTests {
    static func record(_ nick: String, welcome: String = "", seen: UInt64 = 1) -> NickRecord {
        NickRecord(
            nick: nick, welcome: welcome, firstSeen: Timestamp(milliseconds: 1_790_000_000_000),
            lastSeen: Timestamp(milliseconds: 1_790_000_000_000 + seen), connections: seen, connectedMs: 0)
    }

    @Test func linesApplyInOrderOverTheWholeFile() throws {
        var records = ["ann": Self.record("ann"), "bob": Self.record("bob")]
        let lines = try Journals.nicks.encode(
            [
                ("ann", Self.record("Ann", welcome: "hi", seen: 5)), ("bob", nil), ("cy", Self.record("cy")),
                ("cy", Self.record("cy", seen: 9)),
            ], after: 6)
        var untouched = records
        // Lines the whole file already holds (a crash before the journal was removed) are skipped.
        let skipped = try Journals.nicks.apply(
            lines, to: &untouched, holding: 10, path: "j", key: { $0.nick.lowercased() })
        #expect(skipped.applied == 0 && skipped.last == 10 && untouched == records)
        let read = try Journals.nicks.apply(lines, to: &records, holding: 6, path: "j", key: { $0.nick.lowercased() })
        #expect(read.applied == 4 && read.last == 10)
        #expect(records["ann"] == Self.record("Ann", welcome: "hi", seen: 5))
        #expect(records["bob"] == nil)
        #expect(records["cy"]?.connections == 9)
        #expect(throws: StorageError.self) {
            _ = try Journals.nicks.apply(Array("{oops\n".utf8), to: &records, holding: 0, path: "j", key: { $0.nick })
        }
        #expect(
            !MetadataJournal<NickRecord>.isDue(lines: 9_999, records: 100)
                && MetadataJournal<NickRecord>.isDue(lines: 10_000, records: 100))
        #expect(
            !MetadataJournal<NickRecord>.isDue(lines: 19_999, records: 20_000)
                && MetadataJournal<NickRecord>.isDue(lines: 20_000, records: 20_000))
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
        // The first write is whole, so that nicks.json is there to read; the next ones go to the journal.
        #expect(await eventually { FileManager.default.fileExists(atPath: directory + "/nicks.json") })
        let whole = try? Data(contentsOf: URL(fileURLWithPath: directory + "/nicks.json"))
        #expect(whole != nil)
        for index in 0..<30 {
            let connection = try await server.connect("n\(index)", events: false)
            if index == 7 { _ = try await connection.request(.setWelcome("seven's text")) }
            await connection.quit()
        }
        await server.stop()
        let after = try? Data(contentsOf: URL(fileURLWithPath: directory + "/nicks.json"))
        #expect(after == whole, "not rewritten")
        let journal = try String(contentsOfFile: directory + "/" + Journals.nicks.fileName, encoding: .utf8)
        #expect(journal.split(separator: "\n").count >= 30)
        let restarted = try await TestServer(directory: directory) { $0.registration = .off }
        let seven = try await restarted.connect("n7", events: false)
        #expect(seven.welcome.welcomeText == "seven's text")
        let known = restarted.server.context?.clients.snapshot().nicks.map(\.nick) ?? []
        #expect(Set(known).isSuperset(of: ["first", "n0", "n29"]))
        await restarted.stop()
    }

    @Test func channelChangesAreJournalledAndSurviveARestart() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TestServer(directory: directory)
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.send(.text("first"), to: "#one")
        let whole = try Data(contentsOf: URL(fileURLWithPath: directory + "/channels.json"))
        for index in 0..<10 { _ = try await alice.send(.text("\(index)"), to: "#c\(index)") }
        _ = try await alice.join("#one", history: 0)
        _ = try await alice.request(.setTopic(channel: "#one", topic: "kept across a restart"))
        await server.stop()
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/channels.json")) == whole, "not rewritten")
        let journal = try String(contentsOfFile: directory + "/" + Journals.channels.fileName, encoding: .utf8)
        #expect(journal.contains("#c9") && journal.contains("kept across a restart"))
        let restarted = try await TestServer(directory: directory)
        let bob = try await restarted.connect("bob", events: false)
        let (info, replay) = try await bob.join("#one", history: 5)
        #expect(info.topic == "kept across a restart" && replay.map(\.body.text) == ["first"])
        #expect(restarted.server.context?.channels.channelCount == 11)
        await restarted.stop()
    }

    /// Once a journal is as long as its records (here: at least 5 lines), the whole file is written and the
    /// journal starts again, and nothing is lost on the way.
    @Test func aLongJournalIsFoldedIntoTheWholeFile() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await TestServer(directory: directory) {
            $0.journalCompaction = 5
            $0.fsync = .always
        }
        let alice = try await server.connect("alice", events: false)
        _ = try await alice.join("#a", history: 0)
        _ = try await alice.send(.text("x"), to: "#b")
        var sizes: [Int] = []
        for index in 0..<12 {
            _ = try await alice.request(.setTopic(channel: "#a", topic: "topic \(index)"))
            // A message to a new channel makes the writer write the index before its first line: two lines each.
            _ = try await alice.send(.text("new"), to: "#c\(index)")
            let journal = (try? String(contentsOfFile: directory + "/" + Journals.channels.fileName, encoding: .utf8))
            sizes.append(journal?.split(separator: "\n").count ?? 0)
        }
        await server.stop()
        let folded = zip(sizes, sizes.dropFirst()).contains { $0 > 0 && $1 < $0 }
        #expect(folded && sizes.allSatisfy { $0 <= 16 }, "folded when due: \(sizes)")
        let restarted = try await TestServer(directory: directory)
        let bob = try await restarted.connect("bob", events: false)
        let (info, _) = try await bob.join("#a", history: 0)
        #expect(info.topic == "topic 11")
        #expect(restarted.server.context?.channels.channelCount == 14)
        await restarted.stop()
    }

    /// A crash after channels.json was written whole and before its journal was removed: the lines the file holds
    /// already (numbered up to its `journal`) are not replayed over it, so an older topic (or a lifted ban) does not
    /// come back; a later line is.
    @Test func linesTheWholeFileHoldsAreNotReplayedOverIt() async throws {
        let directory = TestServer.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/channels", withIntermediateDirectories: true)
        func ops(_ topic: String) -> ChannelRecord {
            ChannelRecord(
                name: "#ops", file: "ops.jsonl", created: "2026-01-01T00:00:00.000Z", topic: topic, topicBy: "ann",
                topicTime: "2026-01-01T00:00:00.000Z")
        }
        let dev = ChannelRecord(
            name: "#dev", file: "dev.jsonl", created: "2026-01-01T00:00:00.000Z", topic: "", topicBy: "",
            topicTime: "")
        let whole = try JSONEncoder().encode(ChannelsFile(version: 1, channels: [ops("newer")], journal: 2))
        try whole.write(to: URL(fileURLWithPath: directory + "/channels.json"))
        let lines =
            try Journals.channels.encode([("#ops", ops("older")), ("#ops", ops("older still"))], after: 0)
            + Journals.channels.encode([("#dev", dev)], after: 2)
        try Data(lines).write(to: URL(fileURLWithPath: directory + "/" + Journals.channels.fileName))
        let server = try await TestServer(directory: directory)
        let bob = try await server.connect("bob", events: false)
        let (info, _) = try await bob.join("#ops", history: 0)
        #expect(info.topic == "newer")
        #expect(server.server.context?.channels.channelCount == 2, "#dev, from line 3, is there")
        await server.stop()
    }
}
