/// The versions of the wire protocol this build speaks.
///
/// A hello names one version; the server answers in that version or refuses with `unsupportedVersion`, naming
/// every entry of `supported`, so a client can tell a too-old server from a broken one.
public enum ProtocolVersion {
    /// The version this build sends in its hello.
    public static let current: UInt16 = 1
    /// Every version a server built from this source accepts.
    public static let supported: [UInt16] = [1]
}

/// Limits that are part of the protocol itself, shared by both ends so a client can refuse what a server would.
public enum ProtocolLimits {
    /// The length field of the MESSAGE a channel message becomes: type and request id (5), channel (2 + n), id (8),
    /// time (8), sender (2 + n) and body (5 + n). The server refuses a SEND whose MESSAGE would not fit its
    /// `--max-frame`, so that it never sends a frame longer than the WELCOME says.
    public static func messageFrameLength(channel: String, from: String, bodyBytes: Int) -> Int {
        30 + channel.utf8.count + from.utf8.count + bodyBytes
    }

    /// Likewise for DIRECT: type and request id (5), sender and recipient (2 + n each), time (8), body (5 + n).
    public static func directFrameLength(from: String, to: String, bodyBytes: Int) -> Int {
        22 + from.utf8.count + to.utf8.count + bodyBytes
    }

    /// The default and the smallest sensible `--max-frame`: a frame's length field may not exceed it.
    public static let defaultMaxFrameLength = 64 * 1024
    /// Bytes in a frame before its fields: the length (4), the type (1) and the request id (4).
    public static let headerLength = 9
    /// The length field counts the type and the request id, so no frame's length is below this.
    public static let minimumLengthField = 5
    /// Longest nick, in ASCII characters.
    public static let maxNickLength = 32
    /// Longest channel name in characters (grapheme clusters), not counting the leading `#`.
    public static let maxChannelNameCharacters = 50
    /// Longest channel name in UTF-8 bytes, not counting the `#`; it bounds file names in the data directory.
    public static let maxChannelNameBytes = 200
    /// Longest topic in UTF-8 bytes (IRC servers commonly allow 390).
    public static let maxTopicBytes = 390
    /// Longest part or quit reason in UTF-8 bytes.
    public static let maxReasonBytes = 300
    /// Longest away text in UTF-8 bytes (IRC servers commonly allow 200 to 390).
    public static let maxAwayBytes = 300
    /// Longest welcome text in UTF-8 bytes.
    public static let maxWelcomeBytes = 1000
    /// Longest client name, client version or host name in a hello, in UTF-8 bytes.
    public static let maxHelloFieldBytes = 255
    /// Longest password, in UTF-8 bytes (after NFKC normalization a password may grow, so a server checks the
    /// normalized form too).
    public static let maxPasswordBytes = 256
    /// Shortest password a server accepts for a new account or a new password, in characters.
    public static let minPasswordCharacters = 8
    /// Longest LOGIN or LOGIN_CONTINUE data, and AUTH_DATA, in bytes.
    public static let maxAuthDataBytes = 1024
    /// Most messages one join or history request can ask for.
    public static let maxHistoryRequest: UInt16 = 1000
    /// The highest message id: 2^53 − 1, so that an id survives every JSON tool (jq reads numbers as doubles), and
    /// so that adding to one that came over the wire can never overflow.
    public static let maxMessageID: UInt64 = (1 << 53) - 1
    /// No time on the wire is earlier than 2020-01-01T00:00:00Z: tchat did not exist then, so an earlier time is a
    /// lie or a bug (a linked server claiming to have started in 1970 to become the sequencer).
    public static let earliestTime = Timestamp(milliseconds: 1_577_836_800_000)
    /// How far ahead of this server's clock a linked server's time may be, in milliseconds (5 minutes).
    public static let maxClockSkew: UInt64 = 5 * 60 * 1000
    /// Longest server name, in UTF-8 bytes.
    public static let maxServerNameBytes = 64
    /// Most servers one PEERS frame may name.
    public static let maxGossipedServers = 256
}
