/// A setting's file that cannot be used (the link secret, the discovery directory, the MOTD), said in one line that
/// names the file and what to do about it.
struct SettingsError: Error, Sendable, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}
