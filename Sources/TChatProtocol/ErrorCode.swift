/// Every error code an error frame can carry; `docs/protocol.md` lists the same table.
///
/// The hundreds group them: 1xx the frame itself is wrong, 2xx the session is in the wrong state, 3xx a request's
/// arguments are refused, 5xx the server failed. A client can act on the group without knowing every code.
public enum ErrorCode: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case frameTooLarge = 100
    case malformedFrame = 101
    case unknownFrameType = 102
    case invalidUTF8 = 103
    case invalidJSON = 104
    case unknownContentType = 105
    case fieldTooLong = 106

    case unsupportedVersion = 200
    case helloRequired = 201
    case alreadyWelcomed = 202
    case serverFull = 203
    case idleTimeout = 204
    case shuttingDown = 205
    case sendQueueFull = 206
    case notImplemented = 207
    case redirected = 208
    case rateLimited = 209
    case tooManyConnections = 210
    case frameTimeout = 211
    case linkRefused = 212
    case tlsRequired = 213
    case loginFailed = 214
    case loginThrottled = 215
    case accountRequired = 216
    case insecureTransport = 217
    case notLoggedIn = 218
    case registrationClosed = 219
    case killed = 220
    case serverBanned = 221

    case invalidNick = 300
    case nickInUse = 301
    case invalidChannel = 302
    case noSuchChannel = 303
    case notOnChannel = 304
    case noSuchNick = 305
    case invalidArgument = 306
    case tooManyChannels = 307
    case nickRegistered = 308
    case alreadyRegistered = 309
    case banned = 310
    case inviteOnly = 311
    case badChannelKey = 312
    case cannotSend = 313
    case notChannelOperator = 314
    case notServerOperator = 315

    case storageFailure = 500
    case internalError = 501

    /// The name used in logs, in `tchat`'s error lines and in the spec.
    public var description: String {
        switch self {
        case .frameTooLarge: "frame-too-large"
        case .malformedFrame: "malformed-frame"
        case .unknownFrameType: "unknown-frame-type"
        case .invalidUTF8: "invalid-utf8"
        case .invalidJSON: "invalid-json"
        case .unknownContentType: "unknown-content-type"
        case .fieldTooLong: "field-too-long"
        case .unsupportedVersion: "unsupported-version"
        case .helloRequired: "hello-required"
        case .alreadyWelcomed: "already-welcomed"
        case .serverFull: "server-full"
        case .idleTimeout: "idle-timeout"
        case .shuttingDown: "shutting-down"
        case .sendQueueFull: "send-queue-full"
        case .notImplemented: "not-implemented"
        case .redirected: "redirected"
        case .rateLimited: "rate-limited"
        case .tooManyConnections: "too-many-connections"
        case .frameTimeout: "frame-timeout"
        case .linkRefused: "link-refused"
        case .tlsRequired: "tls-required"
        case .loginFailed: "login-failed"
        case .loginThrottled: "login-throttled"
        case .accountRequired: "account-required"
        case .insecureTransport: "insecure-transport"
        case .notLoggedIn: "not-logged-in"
        case .registrationClosed: "registration-closed"
        case .killed: "killed"
        case .serverBanned: "server-banned"
        case .invalidNick: "invalid-nick"
        case .nickInUse: "nick-in-use"
        case .invalidChannel: "invalid-channel"
        case .noSuchChannel: "no-such-channel"
        case .notOnChannel: "not-on-channel"
        case .noSuchNick: "no-such-nick"
        case .invalidArgument: "invalid-argument"
        case .tooManyChannels: "too-many-channels"
        case .nickRegistered: "nick-registered"
        case .alreadyRegistered: "already-registered"
        case .banned: "banned"
        case .inviteOnly: "invite-only"
        case .badChannelKey: "bad-channel-key"
        case .cannotSend: "cannot-send"
        case .notChannelOperator: "not-channel-operator"
        case .notServerOperator: "not-server-operator"
        case .storageFailure: "storage-failure"
        case .internalError: "internal-error"
        }
    }

    /// Whether the server closes the connection after sending this error.
    public var closesConnection: Bool {
        switch self {
        case .frameTooLarge, .unsupportedVersion, .serverFull, .idleTimeout, .shuttingDown, .sendQueueFull,
            .notImplemented, .redirected, .tooManyConnections, .frameTimeout, .linkRefused, .tlsRequired,
            .accountRequired, .killed, .serverBanned:
            true
        default:
            false
        }
    }
}
