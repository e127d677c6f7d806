/// Who may create accounts (`tchatd --registration`).
public enum RegistrationPolicy: String, Sendable, CaseIterable {
    /// Anyone connected over TLS or from this host registers their own nick (REGISTER).
    case open
    /// Only an operator creates accounts, with `tchatd account add`; REGISTER is refused. Logging in works.
    case closed
    /// No accounts at all: nicks are first come, first served and welcome texts belong to nicks, as before
    /// accounts existed. Existing accounts are kept on disk but not used.
    case off
}
