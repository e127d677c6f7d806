import Foundation
import NIOCore
import TChatProtocol
import Testing

/// Every hex vector in `docs/protocol.md` must encode and decode exactly, and every frame type must have one.
@Suite struct ProtocolDocumentTests {
    struct Vector {
        var name: String
        var bytes: [UInt8]
    }

    static func documentVectors() throws -> [Vector] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        var vectors: [Vector] = []
        var current: Vector?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# vector: ") {
                let name = line.dropFirst("# vector: ".count).split(separator: " ").first.map(String.init) ?? ""
                current = Vector(name: name, bytes: [])
            } else if line.hasPrefix("```"), let vector = current {
                vectors.append(vector)
                current = nil
            } else if current != nil {
                for hex in line.split(separator: " ") {
                    guard let byte = UInt8(hex, radix: 16) else {
                        Issue.record("vector \(current!.name): '\(hex)' is not a hex byte")
                        continue
                    }
                    current!.bytes.append(byte)
                }
            }
        }
        return vectors
    }

    static func decodeOne(_ bytes: [UInt8]) throws -> RawFrame {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: bytes)
        let raw = try #require(try decoder.decode(buffer: &buffer)).get()
        #expect(buffer.readableBytes == 0, "the vector holds more than one frame")
        return raw
    }

    @Test func everyVectorEncodesAndDecodesExactly() throws {
        let vectors = try Self.documentVectors()
        #expect(
            vectors.count == ProtocolVectors.client.count + ProtocolVectors.server.count + ProtocolVectors.peer.count)
        for vector in vectors {
            var encoded = ByteBuffer()
            if let (id, frame) = ProtocolVectors.client[vector.name] {
                try frame.encode(requestID: id, into: &encoded)
                let raw = try Self.decodeOne(vector.bytes)
                #expect(raw.requestID == id, "\(vector.name)")
                #expect(try ClientFrame(decoding: raw) == frame, "\(vector.name)")
            } else if let (id, frame) = ProtocolVectors.server[vector.name] {
                try frame.encode(requestID: id, into: &encoded)
                let raw = try Self.decodeOne(vector.bytes)
                #expect(raw.requestID == id, "\(vector.name)")
                #expect(try ServerFrame(decoding: raw) == frame, "\(vector.name)")
            } else if let frame = ProtocolVectors.peer[vector.name] {
                try frame.encode(into: &encoded)
                let raw = try Self.decodeOne(vector.bytes)
                #expect(raw.requestID == 0, "\(vector.name)")
                #expect(try PeerFrame(decoding: raw) == frame, "\(vector.name)")
            } else {
                Issue.record("docs/protocol.md has a vector '\(vector.name)' the tests do not know")
                continue
            }
            #expect(Array(encoded.readableBytesView) == vector.bytes, "\(vector.name) encodes differently")
        }
    }

    @Test func everyFrameTypeHasAVector() throws {
        let names = Set(try Self.documentVectors().map(\.name))
        var covered = Set<FrameType>()
        for (name, entry) in ProtocolVectors.client where names.contains(name) { covered.insert(entry.frame.type) }
        for (name, entry) in ProtocolVectors.server where names.contains(name) { covered.insert(entry.frame.type) }
        for type in FrameType.allCases {
            #expect(covered.contains(type), "no vector in docs/protocol.md for \(type)")
        }
        var peerCovered = Set<PeerFrameType>()
        for (name, frame) in ProtocolVectors.peer where names.contains(name) { peerCovered.insert(frame.type) }
        for type in PeerFrameType.allCases {
            #expect(peerCovered.contains(type), "no vector in docs/protocol.md for \(type)")
        }
    }

    @Test func everyErrorCodeIsInTheTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        for code in ErrorCode.allCases {
            let row = "| \(code.rawValue) | `\(code)` | \(code.closesConnection ? "yes" : "no") |"
            let listed = text.contains(row)
            #expect(listed, "docs/protocol.md's error table lacks or misstates \(code.rawValue) \(code)")
        }
    }
}
