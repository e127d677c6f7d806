extension Duration {
    /// The duration in seconds, fractions kept.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The seconds as people write them in a message that names a limit: `5`, `2.5`, `0.25`.
    public var secondsText: String {
        let seconds = inSeconds
        if seconds == seconds.rounded() { return String(Int(seconds)) }
        return String((seconds * 1000).rounded() / 1000)
    }
}
