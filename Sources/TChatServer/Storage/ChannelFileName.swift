import TChatProtocol

/// The file a channel's history is kept in, derived once when the channel is created and then recorded in
/// `channels.json`, so a name is never used as a path as it is.
///
/// Letters and digits of any script, `-` and `_` stay readable; every other byte (`.`, `/`, `%`, `#`, spaces,
/// anything invisible) becomes `%XX`. The result can therefore never be `.`, `..`, contain a separator or start
/// with a dot. Encoded names that would exceed a safe file-name length are cut and suffixed with a hash of the
/// whole name, so two long names never share a file.
enum ChannelFileName {
    /// Room left below the usual 255-byte NAME_MAX for the `.jsonl` suffix and temporary-file suffixes.
    static let maxStemBytes = 200

    static func make(for channel: ChannelName) -> String {
        let bare = channel.key.dropFirst()  // the lower-cased name without '#'
        var stem = ""
        for character in bare {
            if character == "-" || character == "_" || character.unicodeScalars.allSatisfy(isWordScalar) {
                stem.append(character)
            } else {
                for byte in character.utf8 { stem += "%" + hex(byte) }
            }
        }
        if stem.utf8.count > maxStemBytes {
            var cut = Substring(stem)
            while cut.utf8.count > maxStemBytes - 17 { cut = cut.dropLast() }
            stem = String(cut) + "~" + String(fnv1a64(channel.key), radix: 16)
        }
        return stem + ".jsonl"
    }

    /// Letters, digits and combining marks of any script: none of them is a separator, a dot or invisible.
    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
            true
        default:
            false
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    /// FNV-1a: a fixed, seedless hash (Swift's `Hasher` is seeded per process, useless for file names).
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
