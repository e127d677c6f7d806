import Foundation
import TChatProtocol

/// A channel's key as the database holds it. Swift compares strings by canonical equivalence (`é` written as one
/// scalar or two is one key to the server) and PostgreSQL by bytes, so keys are bound in one form, NFC; and
/// locks are taken in one order, bytewise, as `COLLATE "C"` sorts them on the database's side.
enum StoreKey {
    static func of(_ name: ChannelName) -> String {
        // ASCII is NFC already, and Foundation's normalisation costs more than the rest of a message's path.
        name.key.utf8.allSatisfy { $0 < 0x80 } ? name.key : name.key.precomposedStringWithCanonicalMapping
    }

    static func inLockOrder(_ first: String, _ second: String) -> Bool {
        first.utf8.lexicographicallyPrecedes(second.utf8)
    }
}
