import Foundation
import NIOCore
import TChatFuzzing
import TChatProtocol
import Testing

/// A seeded mutation fuzzer for the frame decoder and every frame's field decoding.
///
/// It starts from the byte-exact vectors of `docs/protocol.md` (a valid frame of every type) and mutates them the
/// ways a hostile or broken peer would: flipped bits, random bytes, bytes inserted or cut out, a length field
/// nudged, frames spliced, truncated or repeated. Every input must either be refused with a `ProtocolError` (or
/// the decoder's `FrameTooLarge`) or decode to a frame that encodes and decodes again to the same frame. No input
/// may crash or hang. `TCHAT_FUZZ_INPUTS` sets how many inputs (`scripts/fuzz` runs 1,000,000); `TCHAT_FUZZ_SEED`
/// the seed, so a failure found once is found again.
@Suite struct FuzzTests {
    static let inputs = FuzzSettings.inputs(default: 30_000)

    /// Inputs that once broke something, kept so they never do again (none so far; see `docs/security.md`).
    static let regressions: [[UInt8]] = [
        [0, 0, 0, 0],
        [0, 0, 0, 1, 0x10],
        [0xFF, 0xFF, 0xFF, 0xFF],
        [0, 0, 0, 5, 0x7E, 0, 0, 0, 1],
        [0, 0, 0, 7, 0x11, 0, 0, 0, 8, 0xFF, 0xFF],
    ]

    @Test func mutatedFramesAreRefusedOrRoundTrip() throws {
        let corpus = try ProtocolDocumentTests.documentVectors().map(\.bytes)
        #expect(corpus.count > 40)
        var generator = SeededGenerator(seed: FuzzSettings.seed)
        var decoded = 0
        var refused = 0
        for input in Self.regressions { try Self.check(input, decoded: &decoded, refused: &refused) }
        for _ in 0..<Self.inputs {
            let input = FrameMutator.mutate(corpus, using: &generator)
            try Self.check(input, decoded: &decoded, refused: &refused)
        }
        // The mix must exercise both paths, or the mutations are too timid or too wild to prove anything.
        #expect(decoded > Self.inputs / 20, "only \(decoded) inputs decoded")
        #expect(refused > Self.inputs / 20, "only \(refused) inputs refused")
    }

    /// Decodes every frame in `input` as a client, server and peer frame would be.
    static func check(_ input: [UInt8], decoded: inout Int, refused: inout Int) throws {
        var decoder = FrameDecoder(maxFrameLength: 4096)
        var buffer = ByteBuffer(bytes: input)
        while buffer.readableBytes > 0 {
            let result: FrameDecoder.InboundOut?
            do {
                result = try decoder.decode(buffer: &buffer)
            } catch is FrameDecoder.FrameTooLarge {
                refused += 1
                return
            }
            guard let result else { return }  // a partial frame: the server waits (and times out)
            guard case .success(let raw) = result else {
                refused += 1
                continue
            }
            if let frame = try? ClientFrame(decoding: raw) {
                decoded += 1
                var again = ByteBuffer()
                try frame.encode(requestID: raw.requestID, into: &again)
                let reread = try ProtocolDocumentTests.decodeOne(Array(again.readableBytesView))
                #expect(try ClientFrame(decoding: reread) == frame, "\(input)")
            } else if let frame = try? ServerFrame(decoding: raw) {
                decoded += 1
                var again = ByteBuffer()
                try frame.encode(requestID: raw.requestID, into: &again)
                let reread = try ProtocolDocumentTests.decodeOne(Array(again.readableBytesView))
                #expect(try ServerFrame(decoding: reread) == frame, "\(input)")
            } else if let frame = try? PeerFrame(decoding: raw) {
                decoded += 1
                var again = ByteBuffer()
                try frame.encode(into: &again)
                let reread = try ProtocolDocumentTests.decodeOne(Array(again.readableBytesView))
                #expect(try PeerFrame(decoding: reread) == frame, "\(input)")
            } else {
                refused += 1
            }
        }
    }
}
