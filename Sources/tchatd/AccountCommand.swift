import ArgumentParser
import Foundation
import TChatAuth
import TChatProtocol
import TChatServer

/// `tchatd account`: creates and manages accounts in a data directory, or in the database of `--store`, while the
/// server runs or not (it reads the change within two seconds). With `--registration closed` this is the only way
/// accounts are made.
struct AccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Create, reset, drop or list accounts in a data directory or the --store database.",
        subcommands: [Add.self, Password.self, Drop.self, List.self])

    struct Secret: ParsableArguments {
        @Option(
            name: .customLong("password-file"),
            help: ArgumentHelp(
                "Read the password from this file's first line (mode 600); else from standard input.",
                valueName: "file"))
        var passwordFile: String?

        func password(for name: String) throws -> String {
            if let passwordFile {
                do {
                    return try PasswordFile.read(passwordFile)
                } catch {
                    throw ValidationError(error.description)
                }
            }
            guard let password = PasswordFile.readStandardInput(prompt: "password for \(name): "),
                !password.isEmpty
            else {
                throw ValidationError("no password: give --password-file or type one on standard input")
            }
            return password
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account; its name is the nick it owns.")
        @Argument(help: "The account name (a nick).") var name: String
        @OptionGroup var location: DataDirectoryOption
        @OptionGroup var store: StoreOptions
        @OptionGroup var secret: Secret

        func run() throws {
            try AccountCommand.carryOut {
                let password = try secret.password(for: name)
                try store.withAccounts(directory: location.directory) { accounts in
                    try AccountAdministration.add(name, password: password, in: accounts)
                }
            }
            print("account \(name) created")
        }
    }

    struct Password: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "passwd", abstract: "Set a new password for an account.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var location: DataDirectoryOption
        @OptionGroup var store: StoreOptions
        @OptionGroup var secret: Secret

        func run() throws {
            try AccountCommand.carryOut {
                let password = try secret.password(for: name)
                try store.withAccounts(directory: location.directory) { accounts in
                    try AccountAdministration.setPassword(name, password: password, in: accounts)
                }
            }
            print("password of \(name) changed")
        }
    }

    struct Drop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account; its nick is free again.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var location: DataDirectoryOption
        @OptionGroup var store: StoreOptions

        func run() throws {
            try AccountCommand.carryOut {
                try store.withAccounts(directory: location.directory) { accounts in
                    try AccountAdministration.drop(name, in: accounts)
                }
            }
            print("account \(name) dropped")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every account, with when it was created.")
        @OptionGroup var location: DataDirectoryOption
        @OptionGroup var store: StoreOptions

        func run() throws {
            try AccountCommand.carryOut {
                let listed = try store.withAccounts(directory: location.directory) { accounts in
                    try AccountAdministration.list(in: accounts)
                }
                for account in listed {
                    print("\(account.name)\t\(account.created.iso8601)")
                }
            }
        }
    }

    /// A refusal as one line on standard error and exit status 1, not a stack of error types.
    static func carryOut(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ValidationError {
            throw error
        } catch let error as ProtocolError {
            FileHandle.standardError.write(Data("tchatd account: \(error.message)\n".utf8))
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("tchatd account: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
