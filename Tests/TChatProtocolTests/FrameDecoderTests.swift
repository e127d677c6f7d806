import NIOCore
import NIOTestUtils
import TChatFuzzing
import TChatProtocol
import Testing

@Suite struct FrameDecoderTests {
    static func frameBytes(_ frame: ClientFrame, id: UInt32) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try frame.encode(requestID: id, into: &buffer)
        return buffer
    }

    static func raw(_ frame: ClientFrame, id: UInt32) throws -> RawFrame {
        var buffer = try frameBytes(frame, id: id)
        buffer.moveReaderIndex(forwardBy: 4)
        let type = buffer.readInteger(as: UInt8.self)!
        let requestID = buffer.readInteger(as: UInt32.self)!
        return RawFrame(type: type, requestID: requestID, payload: buffer)
    }

    @Test func splitAndCoalescedReadsGiveTheSameFrames() throws {
        // NIO's verifier feeds the input whole, byte by byte, and in other splits, and expects the same output.
        let first = try Self.frameBytes(.join(channel: "#ops", history: 10), id: 1)
        let second = try Self.frameBytes(.send(channel: "#ops", body: .text("héllo")), id: 2)
        var both = first
        var copy = second
        both.writeBuffer(&copy)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (first, [.success(try Self.raw(.join(channel: "#ops", history: 10), id: 1))]),
                (
                    both,
                    [
                        .success(try Self.raw(.join(channel: "#ops", history: 10), id: 1)),
                        .success(try Self.raw(.send(channel: "#ops", body: .text("héllo")), id: 2)),
                    ]
                ),
            ],
            decoderFactory: { FrameDecoder() })
    }

    @Test func oversizeLengthIsRefusedFromTheLengthFieldAlone() throws {
        var decoder = FrameDecoder(maxFrameLength: 1024)
        // Only the four length bytes exist: the refusal cannot have waited for (or allocated) the body.
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameDecoder.FrameTooLarge(length: 0xFFFF_FFFF, maximum: 1024)) {
            _ = try decoder.decode(buffer: &buffer)
        }
        var justOver = ByteBuffer(bytes: [0x00, 0x00, 0x04, 0x01])
        #expect(throws: FrameDecoder.FrameTooLarge.self) { _ = try decoder.decode(buffer: &justOver) }
        var atLimit = ByteBuffer(bytes: [0x00, 0x00, 0x04, 0x00])
        #expect(try decoder.decode(buffer: &atLimit) == nil, "a frame of exactly the maximum waits for its bytes")
    }

    @Test func lengthsBelowTheHeaderAreErrorsButTheStreamStaysInStep() throws {
        var decoder = FrameDecoder()
        for length in 0..<5 {
            var buffer = ByteBuffer(bytes: [0, 0, 0, UInt8(length)] + [UInt8](repeating: 0xAB, count: length))
            var next = try Self.frameBytes(.whoami, id: 9)
            buffer.writeBuffer(&next)
            let first = try #require(try decoder.decode(buffer: &buffer))
            guard case .failure(let error) = first else {
                Issue.record("length \(length) was accepted")
                continue
            }
            #expect(error.code == .malformedFrame)
            let following = try #require(try decoder.decode(buffer: &buffer)).get()
            #expect(following.requestID == 9 && following.type == FrameType.whoami.rawValue)
        }
    }

    @Test func aPartialFrameAtEndOfStreamIsDropped() throws {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: [0, 0, 0, 20, 0x15, 0, 0])
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
    }

    @Test func randomBytesNeverCrashTheDecoderOrTheFieldReaders() {
        var generator = SeededGenerator(seed: 0x7C4A7)
        for round in 0..<20_000 {
            var decoder = FrameDecoder(maxFrameLength: 4096)
            let count = Int.random(in: 0..<256, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if round % 2 == 0, bytes.count >= 5 {
                // Half the inputs get a plausible header so the field readers see random payloads too.
                let length = UInt32(bytes.count - 4)
                bytes.replaceSubrange(0..<4, with: withUnsafeBytes(of: length.bigEndian, Array.init))
                bytes[4] = UInt8.random(in: 0x01...0x21, using: &generator)
            }
            var buffer = ByteBuffer(bytes: bytes)
            while true {
                guard let result = try? decoder.decode(buffer: &buffer) else { break }
                if case .success(let raw) = result {
                    _ = try? ClientFrame(decoding: raw)
                    _ = try? ServerFrame(decoding: raw)
                }
            }
        }
    }
}
