import TChatProtocol

/// What one client may see of another. Where a client connects from, its host name and its process id tell a
/// stranger where to find the person and their machine; IRC networks hide hosts by default for that reason (Ergo
/// cloaks them, InspIRCd and ngircd can). So a client sees them of itself only; the others see its nick, client,
/// server and how long it has been connected. Server operators (`--operator`, logged in) see everything.
enum ClientVisibility {
    /// `info` as `viewer` may see it: address, host and pid blanked (empty, empty, 0) unless it is the viewer's own
    /// or the viewer is a server operator.
    static func info(_ info: ClientInfo, shownTo viewer: Nick, isOperator: Bool = false) -> ClientInfo {
        guard !isOperator, Nick.key(for: info.nick) != viewer.key else { return info }
        var shown = info
        shown.address = ""
        shown.host = ""
        shown.processID = 0
        return shown
    }
}
