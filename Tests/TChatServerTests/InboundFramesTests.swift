import NIOCore
import TChatProtocol
import Testing

@testable import TChatServer

/// Cutting a client's bytes into frames, and the half-received clock behind `--frame-timeout`, without a socket.
@Suite struct InboundFramesTests {
    /// A frame as the wire carries it: length, type, request id, payload.
    static func frame(type: UInt8, requestID: UInt32, payload: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(5 + payload.count))
        buffer.writeInteger(type)
        buffer.writeInteger(requestID)
        buffer.writeBytes(payload)
        return Array(buffer.readableBytesView)
    }

    static func read(_ bytes: some Collection<UInt8>, into frames: inout InboundFrames) -> [RawFrame] {
        var buffer = ByteBuffer(bytes: Array(bytes))
        frames.receive(&buffer)
        var out: [RawFrame] = []
        while let next = try? frames.next() { out.append(try! next.get()) }
        return out
    }

    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func aFrameSplitOverReadsStartsTheClockOnceAndStopsItWhenWhole() {
        var frames = InboundFrames(maxFrameLength: 1024)
        let bytes = Self.frame(type: 3, requestID: 9, payload: Array("hello".utf8))
        #expect(Self.read(bytes.prefix(2), into: &frames).isEmpty)
        frames.settle(now: start)
        #expect(frames.partialSince == start)
        // More of the same frame does not restart the clock: trickling a byte at a time is no sign of life.
        #expect(Self.read(bytes[2..<7], into: &frames).isEmpty)
        frames.settle(now: start + .seconds(5))
        #expect(frames.partialSince == start)
        let whole = Self.read(bytes[7...], into: &frames)
        frames.settle(now: start + .seconds(6))
        #expect(whole.map(\.requestID) == [9])
        #expect(whole.first.map { String(buffer: $0.payload) } == "hello")
        #expect(frames.partialSince == nil)
        #expect(frames.waitingBytes == 0)
    }

    @Test func framesInOneReadComeOutInOrderAndATailRestartsTheClock() {
        var frames = InboundFrames(maxFrameLength: 1024)
        let first = Self.frame(type: 3, requestID: 1, payload: [1, 2, 3])
        let second = Self.frame(type: 3, requestID: 2, payload: [])
        let third = Self.frame(type: 3, requestID: 3, payload: Array(repeating: 7, count: 40))
        #expect(Self.read(first.prefix(4), into: &frames).isEmpty)
        frames.settle(now: start)
        let got = Self.read(first.dropFirst(4) + second + third.prefix(10), into: &frames)
        frames.settle(now: start + .seconds(2))
        #expect(got.map(\.requestID) == [1, 2])
        // A frame was completed: the half-received one began arriving in this read, not the earlier one.
        #expect(frames.partialSince == start + .seconds(2))
        #expect(frames.waitingBytes == 10)
        let last = Self.read(third.dropFirst(10), into: &frames)
        frames.settle(now: start + .seconds(3))
        #expect(last.map(\.requestID) == [3])
        #expect(last.first.map { Array($0.payload.readableBytesView) } == Array(repeating: 7, count: 40))
    }

    @Test func anOversizeLengthIsRefusedFromItsFourBytes() {
        var frames = InboundFrames(maxFrameLength: 1024)
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        frames.receive(&buffer)
        #expect(throws: FrameDecoder.FrameTooLarge.self) { try frames.next() }
    }

    @Test func aTooShortFrameIsAnErrorValueAndTheStreamStaysInStep() throws {
        var frames = InboundFrames(maxFrameLength: 1024)
        var buffer = ByteBuffer(bytes: [0, 0, 0, 2, 0xAA, 0xBB] + Self.frame(type: 3, requestID: 4, payload: []))
        frames.receive(&buffer)
        let bad = try frames.next()
        #expect(throws: ProtocolError.self) { try bad?.get() }
        #expect(try frames.next()?.get().requestID == 4)
    }

    @Test func anEndlessRunOfReadsEndingMidFrameKeepsOnlyTheUnfinishedBytes() {
        var frames = InboundFrames(maxFrameLength: 1024)
        let one = Self.frame(type: 3, requestID: 1, payload: Array(repeating: 1, count: 100))
        var delivered = 0
        var stream = one.suffix(0)[...]
        for _ in 0..<1_000 {
            stream = (stream + one)[...]
            // Each read ends 7 bytes into the next frame.
            let cut = stream.count - one.count + 7
            delivered += Self.read(stream.prefix(cut), into: &frames).count
            frames.settle(now: start)
            stream = stream.dropFirst(cut)
            #expect(frames.waitingBytes == 7)
            #expect(frames.heldBytes <= 1024)
        }
        #expect(delivered == 999)
    }
}
