/// The version of this source tree, reported by `tchatd` in welcomes and by `tchat` in hellos.
public enum TChatVersion {
    public static let current = "0.1.0"
}
