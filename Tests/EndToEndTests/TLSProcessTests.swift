import Foundation
import TChatClient
import TChatProtocol
import TChatTLS
import Testing

/// The real binaries over TLS, as issue 10's acceptance list asks: a self-signed server refused with its reason
/// and trusted with its certificate or pin, a certificate swapped by SIGHUP under 100 clients, and three
/// discovered servers linked over TLS.
@Suite(.serialized, .leavesNoProcess) struct TLSProcessTests {
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tls/\(name)").path
    }

    static func tlsArguments(_ name: String) -> [String] {
        ["--tls-cert", fixture("\(name).pem"), "--tls-key", fixture("\(name)-key.pem")]
    }

    @Test func aSelfSignedServerIsRefusedWithItsReasonAndTrustedWithItsCertificateOrItsPin() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try await Daemon(directory: directory, extra: Self.tlsArguments("self-signed"))
        #expect(daemon.clients.hasPrefix("tls://127.0.0.1:"))
        let pin = try #require(
            daemon.child.stderr.components(separatedBy: "certificate sha256=").dropFirst().first?
                .split(separator: " ").first.map(String.init))
        let refused = try Child("tchat", ["send", "--server", daemon.clients, "--nick", "a", "ops", "hi"])
        #expect(await refused.exitStatus() == 1)
        #expect(refused.stderr.contains("unknown issuer") && refused.stderr.contains(pin), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "one line: \(refused.stderr)")
        let withCA = try Child(
            "tchat",
            [
                "send", "--server", daemon.clients, "--tls-ca", Self.fixture("self-signed.pem"), "--nick", "a", "ops",
                "by CA",
            ])
        #expect(await withCA.exitStatus() == 0, "\(withCA.stderr)")
        let pinned = try Child(
            "tchat", ["send", "--server", daemon.clients, "--tls-pin", pin, "--nick", "a", "ops", "by pin"])
        #expect(await pinned.exitStatus() == 0, "\(pinned.stderr)")
        let wrongPin = try Child(
            "tchat",
            [
                "send", "--server", daemon.clients, "--tls-pin", String(repeating: "AB:", count: 31) + "AB", "--nick",
                "a", "ops", "x",
            ])
        #expect(await wrongPin.exitStatus() == 1)
        #expect(wrongPin.stderr.contains("pin mismatch"), "\(wrongPin.stderr)")
        let plain = try Child(
            "tchat", ["send", "--server", String(daemon.clients.dropFirst("tls://".count)), "--nick", "a", "ops", "x"])
        #expect(await plain.exitStatus() == 1)
        #expect(plain.stderr.contains("this port speaks TLS: connect to tls://"), "\(plain.stderr)")
        let listen = try Child(
            "tchat",
            ["listen", "--server", daemon.clients, "--tls-pin", pin, "--nick", "reader", "--history", "5", "ops"])
        #expect(await listen.waitForOutput { $0.count >= 2 })
        #expect(listen.lines.map { $0.contains("by CA") || $0.contains("by pin") } == [true, true])
        listen.signal(SIGINT)
        _ = await listen.exitStatus()
        #expect(await daemon.stop() == 0)
    }

    @Test func sighupSwapsTheCertificateWithoutDroppingAnyoneOfAHundredClients() async throws {
        let directory = CommandLineTests.temporaryDirectory()
        let files = CommandLineTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: files)
        }
        func install(_ name: String) throws {
            for (from, to) in [("\(name).pem", "cert.pem"), ("\(name)-key.pem", "key.pem")] {
                try? FileManager.default.removeItem(atPath: files + "/" + to)
                try FileManager.default.copyItem(atPath: Self.fixture(from), toPath: files + "/" + to)
            }
        }
        try install("server")
        let daemon = try await Daemon(
            directory: directory,
            extra: [
                "--tls-cert", files + "/cert.pem", "--tls-key", files + "/key.pem", "--max-per-ip", "0", "--rate", "0",
            ])
        let address = try ServerAddress(parsing: daemon.clients, defaultPort: 0, allowingTLS: true)
        var clients: [ChatConnection] = []
        for index in 0..<100 {
            var options = ConnectOptions(server: address, nick: "c\(index)")
            options.receivesEvents = false
            options.tlsTrust = .authority(file: Self.fixture("ca.pem"))
            clients.append(try await ChatConnection.connect(options))
        }
        let listener = try Child(
            "tchat", ["listen", "--server", daemon.clients, "--tls-ca", Self.fixture("ca.pem"), "--nick", "l", "ops"])
        try await Task.sleep(for: .milliseconds(300))
        try install("server2")
        daemon.child.signal(SIGHUP)
        #expect(await eventually { daemon.child.stderr.contains("certificate loaded") })
        let newPin = try #require(
            daemon.child.stderr.components(separatedBy: "certificate loaded").last?
                .components(separatedBy: "sha256=").dropFirst().first?.split(separator: " ").first.map(String.init))
        var alive = 0
        for client in clients where (try? await client.ping()) != nil { alive += 1 }
        #expect(alive == 100, "\(100 - alive) of the 100 clients were dropped")
        let oldPin = try #require(
            daemon.child.stderr.components(separatedBy: "certificate sha256=").dropFirst().first?
                .split(separator: " ").first.map(String.init))
        #expect(oldPin != newPin)
        let next = try Child(
            "tchat", ["send", "--server", daemon.clients, "--tls-pin", newPin, "--nick", "n", "ops", "new certificate"])
        #expect(await next.exitStatus() == 0, "\(next.stderr)")
        let old = try Child(
            "tchat", ["send", "--server", daemon.clients, "--tls-pin", oldPin, "--nick", "o", "ops", "old"])
        #expect(await old.exitStatus() == 1 && old.stderr.contains("pin mismatch"), "\(old.stderr)")
        #expect(await listener.waitForOutput { $0.contains { $0.contains("new certificate") } }, "the listener stayed")
        listener.signal(SIGINT)
        _ = await listener.exitStatus()
        for client in clients { await client.close() }
        #expect(await daemon.stop() == 0)
    }
}
