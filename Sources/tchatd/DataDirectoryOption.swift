import ArgumentParser

/// `--data-dir`, one option group for the server and `tchatd account`: ArgumentParser hands a subcommand the value
/// its parent parsed only when both declare the same group.
struct DataDirectoryOption: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Where history is kept (default: $XDG_STATE_HOME/tchatd, else ~/.local/state/tchatd).", valueName: "dir"))
    var dataDirectory: String?

    var directory: String { dataDirectory ?? TChatDaemon.defaultDataDirectory() }
}
