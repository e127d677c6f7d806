import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TChatClient
import TChatProtocol
import TChatTLS
import Testing

@testable import TChatServer

/// TLS on the client port, as a client meets it: what it is told when a certificate cannot be trusted, what works
/// with a CA file or a pin, and a certificate swapped under a running server.
@Suite struct TLSTests {
    static func options(_ server: TestServer, host: String = "127.0.0.1", trust: TLSTrust, nick: String = "t")
        -> ConnectOptions
    {
        var options = ConnectOptions(
            server: ServerAddress(host: host, port: server.address.port, usesTLS: true), nick: nick)
        options.receivesEvents = false
        options.tlsTrust = trust
        return options
    }

    static func failure(_ options: ConnectOptions) async -> String {
        do {
            let connection = try await ChatConnection.connect(options)
            await connection.close()
            return "connected"
        } catch {
            return "\(error)"
        }
    }

    static func fingerprint(_ name: String) throws -> CertificateFingerprint {
        try CertificateFingerprint(of: try NIOSSLCertificate.fromPEMFile(TestServer.fixture("\(name).pem"))[0])
    }

    @Test func fingerprintsReadAsOpenSSLPrintsThemAndNothingElse() throws {
        let fingerprint = try Self.fingerprint("server")
        #expect(try CertificateFingerprint(parsing: fingerprint.description) == fingerprint)
        let bare = fingerprint.description.replacingOccurrences(of: ":", with: "").lowercased()
        #expect(try CertificateFingerprint(parsing: "sha256:" + bare) == fingerprint)
        #expect(try CertificateFingerprint(parsing: "SHA256 Fingerprint=" + fingerprint.description) == fingerprint)
        for bad in ["", "AB:CD", String(repeating: "g", count: 64), bare + "00"] {
            #expect(throws: TLSSetupError.self, "\(bad)") { try CertificateFingerprint(parsing: bad) }
        }
    }

    @Test func certificateFilesThatCannotBeUsedAreRefusedNamingTheFile() throws {
        let missing = TestServer.temporaryDirectory() + "/none.pem"
        let cases: [(String, String, String)] = [
            (missing, TestServer.fixture("server-key.pem"), missing),
            (TestServer.fixture("server.pem"), missing, missing),
            (TestServer.fixture("server.pem"), TestServer.fixture("server2-key.pem"), "does not belong"),
            (TestServer.fixture("server-key.pem"), TestServer.fixture("server-key.pem"), "server-key.pem"),
        ]
        for (certificate, key, words) in cases {
            do {
                _ = try TLSIdentity(certificateFile: certificate, keyFile: key)
                Issue.record("\(certificate) with \(key) was accepted")
            } catch {
                #expect(error.description.contains(words), "\(error)")
            }
        }
        let chain = try TLSIdentity(
            certificateFile: TestServer.fixture("server.pem"), keyFile: TestServer.fixture("server-key.pem"))
        #expect(chain.chain.count == 2, "the intermediate travels with the leaf")
    }

    @Test func aCertificateThatCannotBeTrustedIsRefusedWithItsReason() async throws {
        let ca = TLSTrust.authority(file: TestServer.fixture("ca.pem"))
        let expired = try await TestServer(configure: TestServer.tls("expired"))
        let wrongHost = try await TestServer(configure: TestServer.tls("wrong-host"))
        let selfSigned = try await TestServer(configure: TestServer.tls("self-signed"))
        let good = try await TestServer(configure: TestServer.tls())
        defer {
            for server in [expired, wrongHost, selfSigned, good] { server.removeData() }
        }
        #expect(await Self.failure(Self.options(expired, host: "localhost", trust: ca)).contains("certificate expired"))
        #expect(await Self.failure(Self.options(wrongHost, host: "localhost", trust: ca)).contains("wrong host"))
        let unknown = await Self.failure(Self.options(selfSigned, trust: .systemRoots))
        let selfSignedPrint = try Self.fingerprint("self-signed").description
        #expect(unknown.contains("unknown issuer") && unknown.contains(selfSignedPrint))
        let mismatch = await Self.failure(Self.options(good, trust: .pinned([try Self.fingerprint("server2")])))
        let goodPrint = try Self.fingerprint("server").description
        #expect(mismatch.contains("pin mismatch") && mismatch.contains(goodPrint))
        #expect(await Self.failure(Self.options(good, trust: .systemRoots)).contains("unknown issuer"))
        // What works: the CA (by name or by IP address), the self-signed certificate as its own authority, a pin.
        #expect(await Self.failure(Self.options(good, host: "localhost", trust: ca)) == "connected")
        #expect(await Self.failure(Self.options(good, trust: ca)) == "connected")
        #expect(
            await Self.failure(
                Self.options(selfSigned, trust: .authority(file: TestServer.fixture("self-signed.pem")))) == "connected"
        )
        #expect(await Self.failure(Self.options(good, trust: .pinned([try Self.fingerprint("server")]))) == "connected")
        // A pin trusts the certificate whatever its dates: an expired one that is pinned is what was asked for.
        #expect(
            await Self.failure(Self.options(expired, trust: .pinned([try Self.fingerprint("expired")]))) == "connected")
        for server in [expired, wrongHost, selfSigned, good] { await server.stop() }
    }

    @Test func plaintextAndTLSMeetingAreToldApart() async throws {
        let tls = try await TestServer(configure: TestServer.tls())
        let plain = try await TestServer()
        defer {
            tls.removeData()
            plain.removeData()
        }
        var plaintext = ConnectOptions(server: ServerAddress(host: "127.0.0.1", port: tls.address.port), nick: "p")
        plaintext.receivesEvents = false
        let toTLS = await Self.failure(plaintext)
        #expect(toTLS.contains("this port speaks TLS") && toTLS.contains("tls://127.0.0.1:\(tls.address.port)"))
        let toPlain = await Self.failure(Self.options(plain, trust: .authority(file: TestServer.fixture("ca.pem"))))
        #expect(toPlain.contains("does not speak TLS"), "\(toPlain)")
        await tls.stop()
        await plain.stop()
    }

    @Test func aPlaintextPortOnLoopbackServesBesideTheTLSOne() async throws {
        let server = try await TestServer {
            TestServer.tls()(&$0)
            $0.plainClientAddress = ServerAddress(host: "127.0.0.1", port: 0)
        }
        defer { server.removeData() }
        let plain = try #require(server.server.addresses?.plain)
        #expect(!plain.usesTLS && server.address.usesTLS)
        let script = try await ChatConnection.connect(ConnectOptions(server: plain, nick: "script"))
        let person = try await server.connect("person")
        let log = EventLog(person)
        _ = try await person.join("#ops", history: 0)
        try await script.send(.text("build passed"), to: "#ops")
        await log.wait(for: "the script's message over TLS") { _ in log.messages.map(\.body.text) == ["build passed"] }
        await server.stop()
    }

    /// SIGHUP, in process: the new certificate for new connections, nobody dropped, a broken file ignored.
    @Test func aSwappedCertificateReachesNewConnectionsAndNobodyIsDropped() async throws {
        let directory = TestServer.temporaryDirectory()
        let certificate = directory + "/cert.pem"
        let key = directory + "/key.pem"
        func install(_ name: String) throws {
            for (from, to) in [("\(name).pem", certificate), ("\(name)-key.pem", key)] {
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: TestServer.fixture(from), toPath: to)
            }
        }
        try install("server")
        let logs = LogCapture()
        let server = try await TestServer(logs: logs) {
            $0.tlsCertificateFile = certificate
            $0.tlsKeyFile = key
        }
        defer { server.removeData() }
        var clients: [ChatConnection] = []
        for index in 0..<100 { clients.append(try await server.connect("c\(index)", events: false)) }
        try install("server2")
        server.server.reload()
        let newPrint = try Self.fingerprint("server2").description
        #expect(await logs.contains("certificate loaded", newPrint))
        for client in clients { #expect(try await client.ping() < .seconds(2)) }
        #expect(
            await Self.failure(Self.options(server, trust: .pinned([try Self.fingerprint("server2")]))) == "connected")
        #expect(
            await Self.failure(Self.options(server, trust: .pinned([try Self.fingerprint("server")]))).contains(
                "pin mismatch"))
        // A half-written renewal: logged, and the certificate in use stays.
        try Data("-----BEGIN CERTIFICATE-----\nhalf".utf8).write(to: URL(fileURLWithPath: certificate))
        server.server.reload()
        #expect(await logs.contains("certificate not reloaded", "old one is kept", level: .error))
        #expect(
            await Self.failure(Self.options(server, trust: .pinned([try Self.fingerprint("server2")]))) == "connected")
        for client in clients { #expect(try await client.ping() < .seconds(2)) }
        await server.stop()
    }

    /// Found by review: a connection whose TLS handshake never finishes could never be closed (nothing written before
    /// the handshake can leave, and the close waited for the write), so it held its slot, and shutdown, for ever.
    @Test func connectionsThatNeverFinishTheTLSHandshakeAreClosedOnBothPorts() async throws {
        let server = try await TestServer {
            TestServer.tls()(&$0)
            $0.frameTimeout = .milliseconds(500)
            $0.linkHandshakeTimeout = .milliseconds(500)
            $0.maxConnectionsPerAddress = 3
        }
        defer { server.removeData() }
        var silent: [RawConnection] = []
        for _ in 0..<3 { silent.append(try await RawConnection.connect(to: server.address)) }
        // A fourth from the same address is refused, before any handshake: it is closed too.
        let refused = try await RawConnection.connect(to: server.address)
        let peers = [
            try await RawPeer.connect(to: server.peerAddress), try await RawPeer.connect(to: server.peerAddress),
        ]
        // Half a ClientHello, then nothing.
        try await silent[0].send([0x16, 0x03, 0x01, 0x00, 0x80, 0x01])
        #expect(await eventually(within: .seconds(5)) { refused.isClosed }, "the refused connection stayed open")
        #expect(await eventually(within: .seconds(5)) { silent.allSatisfy(\.isClosed) }, "silent TLS clients stayed")
        #expect(await eventually(within: .seconds(5)) { peers.allSatisfy(\.isClosed) }, "silent TLS links stayed")
        // Their slots are free again, and a half-open one does not hold up the shutdown.
        let client = try await server.connect("after", events: false)
        #expect(try await client.ping() < .seconds(1))
        _ = try await RawConnection.connect(to: server.address)
        let started = ContinuousClock.now
        await server.stop()
        #expect(ContinuousClock.now - started < .seconds(5), "shutdown waited on a connection that could not close")
    }

    /// A server that answers every HELLO with a redirect to a plaintext address unless the client asks to stay.
    final class Redirector: ChannelInboundHandler {
        typealias InboundIn = FrameDecoder.InboundOut
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard let raw = try? unwrapInboundIn(data).get(), case .hello(let hello)? = try? ClientFrame(decoding: raw)
            else { return }
            var out = context.channel.allocator.buffer(capacity: 256)
            if hello.acceptsRedirect {
                try? ServerFrame.redirect(address: "127.0.0.1:1", server: "plain").encode(
                    requestID: raw.requestID, into: &out)
                try? ServerFrame.error(ProtocolError(.redirected, "go")).encode(requestID: raw.requestID, into: &out)
            } else {
                let welcome = Welcome(
                    version: 1, serverName: "kept", serverVersion: "1", nick: hello.nick, address: "a",
                    connectedAt: .now(), maxFrameLength: 65536, welcomeText: "", motd: "")
                try? ServerFrame.welcome(welcome).encode(requestID: raw.requestID, into: &out)
                try? ServerFrame.ok.encode(requestID: raw.requestID, into: &out)
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    @Test func aTLSClientNeverFollowsARedirectToPlaintext() async throws {
        let identity = try TLSIdentity(
            certificateFile: TestServer.fixture("server.pem"), keyFile: TestServer.fixture("server-key.pem"))
        let context = try identity.serverContext()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(Redirector())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var options = ConnectOptions(
            server: ServerAddress(host: "127.0.0.1", port: listener.localAddress?.port ?? 0, usesTLS: true), nick: "n")
        options.tlsTrust = .authority(file: TestServer.fixture("ca.pem"))
        options.receivesEvents = false
        let connection = try await ChatConnection.connect(options)
        #expect(connection.welcome.serverName == "kept" && connection.server.usesTLS)
        await connection.close()
        try await listener.close()
    }
}
