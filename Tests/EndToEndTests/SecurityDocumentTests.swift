import Foundation
import Testing

/// Every row of `docs/security.md` names the test (or script) that backs it, and every test it names exists.
@Suite struct SecurityDocumentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func testSources() throws -> String {
        let tests = root.appendingPathComponent("Tests")
        var text = ""
        let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            if file.pathExtension == "swift" { text += try String(contentsOf: file, encoding: .utf8) }
        }
        return text
    }

    @Test func everyRowIsBackedByATestThatExists() throws {
        let document = try String(
            contentsOf: Self.root.appendingPathComponent("docs/security.md"), encoding: .utf8)
        let sources = try Self.testSources()
        let rows = document.split(separator: "\n").filter {
            $0.hasPrefix("| ") && !$0.hasPrefix("| input ") && !$0.hasPrefix("| event ")
        }
        #expect(rows.count >= 35)
        let reference = /`(\w+Tests)\.(\w+)`/
        // The crash test kills real processes; it is a script, and CI runs it after the Swift tests.
        let ci = try String(contentsOf: Self.root.appendingPathComponent(".ci/run"), encoding: .utf8)
        #expect(ci.contains("scripts/crash.py"))
        for row in rows {
            let references = row.matches(of: reference)
            #expect(!references.isEmpty || row.contains("`scripts/crash.py`"), "no test for: \(row.prefix(80))")
            for match in references {
                let (suite, member) = (String(match.1), String(match.2))
                #expect(sources.contains("struct \(suite)"), "no suite \(suite)")
                #expect(
                    sources.contains("func \(member)(") || sources.contains("static let \(member)"),
                    "no \(suite).\(member)")
            }
        }
    }
}
