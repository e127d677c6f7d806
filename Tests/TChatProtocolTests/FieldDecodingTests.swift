import NIOCore
import TChatProtocol
import Testing

/// Every way a frame's fields can be wrong, and the error code it gets.
@Suite struct FieldDecodingTests {
    static func raw(_ type: FrameType, _ payload: [UInt8], id: UInt32 = 1) -> RawFrame {
        RawFrame(type: type.rawValue, requestID: id, payload: ByteBuffer(bytes: payload))
    }

    static func str(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    static func code(of frame: RawFrame) -> ErrorCode? {
        do {
            _ = try ClientFrame(decoding: frame)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func truncatedFieldsAreMalformed() {
        #expect(Self.code(of: Self.raw(.join, Self.str("#ops"))) == .malformedFrame)  // history missing
        #expect(Self.code(of: Self.raw(.join, [0x00, 0x09, 0x23])) == .malformedFrame)  // string cut short
        #expect(Self.code(of: Self.raw(.ping, [1, 2, 3])) == .malformedFrame)
    }

    @Test func helloFlagsCarryRedirectsAwayChangesAccountsAndNoticesApart() throws {
        for flags in 0..<16 {
            let hello = Hello(
                nick: "a", clientName: "c", clientVersion: "1", processID: 1, host: "h",
                acceptsRedirect: flags & 1 == 0, wantsAwayChanges: flags & 2 != 0, wantsAccounts: flags & 4 != 0,
                knowsNotices: flags & 8 != 0)
            var buffer = ByteBuffer()
            try ClientFrame.hello(hello).encode(requestID: 1, into: &buffer)
            #expect(buffer.getInteger(at: buffer.writerIndex - 1, as: UInt8.self) == UInt8(flags))
            let payload = Array(buffer.readableBytesView.dropFirst(9))
            #expect(try ClientFrame(decoding: Self.raw(.hello, payload)) == .hello(hello))
        }
    }

    @Test func bytesAfterTheLastFieldAreMalformed() {
        #expect(Self.code(of: Self.raw(.whoami, [0])) == .malformedFrame)
        #expect(Self.code(of: Self.raw(.join, Self.str("#ops") + [0, 5, 0xFF])) == .malformedFrame)
    }

    @Test func invalidUTF8IsRefused() {
        #expect(Self.code(of: Self.raw(.nick, [0, 2, 0xC3, 0x28])) == .invalidUTF8)
        #expect(Self.code(of: Self.raw(.reverse, [0, 0, 0, 1, 0xFF])) == .invalidUTF8)
        #expect(Self.code(of: Self.raw(.send, Self.str("#ops") + [0, 0, 0, 0, 1, 0x80])) == .invalidUTF8)
    }

    @Test func bodiesAreCheckedByContentType() {
        let channel = Self.str("#ops")
        func body(_ type: UInt8, _ text: String) -> [UInt8] {
            let bytes = Array(text.utf8)
            return channel + [type] + withUnsafeBytes(of: UInt32(bytes.count).bigEndian, Array.init) + bytes
        }
        #expect(Self.code(of: Self.raw(.send, body(1, "{\"a\":"))) == .invalidJSON)
        #expect(Self.code(of: Self.raw(.send, body(1, "{\"a\":1}"))) == nil)
        #expect(Self.code(of: Self.raw(.send, body(0, "{\"a\":"))) == nil, "text is not parsed as JSON")
        #expect(Self.code(of: Self.raw(.send, body(2, "waves"))) == nil, "an action is text")
        #expect(Self.code(of: Self.raw(.send, body(3, "bot here"))) == nil, "a notice is text")
        #expect(Self.code(of: Self.raw(.send, body(4, "x"))) == .unknownContentType)
    }

    @Test func unknownAndServerOnlyTypesAreRefused() {
        #expect(Self.code(of: RawFrame(type: 0x7F, requestID: 1, payload: ByteBuffer())) == .unknownFrameType)
        #expect(Self.code(of: RawFrame(type: 0x00, requestID: 1, payload: ByteBuffer())) == .unknownFrameType)
        #expect(Self.code(of: Self.raw(.ok, [])) == .unknownFrameType, "a client may not send server frames")
        #expect(throws: ProtocolError.self) { try ServerFrame(decoding: Self.raw(.hello, [])) }
    }

    @Test func unknownErrorCodesFromANewerServerKeepTheirText() throws {
        let frame = Self.raw(.error, [0x03, 0xE7] + Self.str("new"))
        guard case .error(let error) = try ServerFrame(decoding: frame) else {
            Issue.record("not an error")
            return
        }
        #expect(error.message == "new (error code 999)")
    }

    @Test func framesAppendedToOneBufferNeverCopyIt() throws {
        // Found by a flood of pings: each frame written copied the whole buffer, quadratic in the replies to one read.
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        let storage = buffer.withUnsafeMutableWritableBytes { UInt(bitPattern: $0.baseAddress) }
        for index in 0..<10_000 {
            try ServerFrame.error(ProtocolError(.rateLimited, "slow down")).encode(
                requestID: UInt32(index), into: &buffer)
        }
        #expect(buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == storage)
    }

    @Test func aFailedEncodeLeavesTheBufferAsItWas() {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        let long = String(repeating: "x", count: 70_000)
        #expect(throws: ProtocolError.self) { try ClientFrame.nick(long).encode(requestID: 1, into: &buffer) }
        #expect(Array(buffer.readableBytesView) == [1, 2, 3])
    }
}
