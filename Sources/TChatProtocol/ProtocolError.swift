/// A refusal that travels on the wire: an error code and a sentence a person can act on.
///
/// Decoding throws it, request handlers throw it, and the server turns it into an error frame verbatim, so the
/// text a client shows is the text the code that found the problem wrote.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.message) (\(self.code), \(self.code.rawValue))" }
}
