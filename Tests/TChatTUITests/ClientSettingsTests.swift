import Foundation
import TChatProtocol
import Testing

@testable import TChatTUI

@Suite struct ClientSettingsTests {
    let file = ClientSettings.File(
        server: "10.0.0.1:9000", nick: "filenick", channels: ["#a", "b"], colors: false, timeFormat: "HH:mm:ss",
        scrollback: 2000)

    @Test func flagsBeatTheEnvironmentWhichBeatsTheFile() throws {
        let environment = ["TCHAT_SERVER": "127.0.0.2:1", "TCHAT_NICK": "envnick", "USER": "user"]
        let fromFlags = try ClientSettings.resolve(
            server: "127.0.0.3:2", nick: "flagnick", channels: ["#c"], environment: environment, file: file)
        #expect(fromFlags.server == ServerAddress(host: "127.0.0.3", port: 2) && fromFlags.nick == "flagnick")
        #expect(fromFlags.channels == ["#c"])
        let fromEnvironment = try ClientSettings.resolve(server: nil, nick: nil, environment: environment, file: file)
        #expect(fromEnvironment.server.port == 1 && fromEnvironment.nick == "envnick")
        let fromFile = try ClientSettings.resolve(server: nil, nick: nil, environment: ["USER": "user"], file: file)
        #expect(fromFile.server.port == 9000 && fromFile.nick == "filenick" && fromFile.channels == ["#a", "b"])
        #expect(!fromFile.colors && fromFile.timeFormat == .seconds && fromFile.scrollback == 2000)
        let defaults = try ClientSettings.resolve(server: nil, nick: nil, environment: ["USER": "user"], file: nil)
        #expect(defaults.server == ServerAddress(host: "127.0.0.1", port: 7667) && defaults.nick == "user")
        #expect(defaults.colors && defaults.timeFormat == .minutes && defaults.scrollback == 5000)
    }

    @Test func noColorIsHonoured() throws {
        let settings = try ClientSettings.resolve(server: nil, nick: "a", environment: ["NO_COLOR": "1"], file: nil)
        #expect(!settings.colors)
        let flag = try ClientSettings.resolve(server: nil, nick: "a", noColor: true, environment: [:], file: nil)
        #expect(!flag.colors)
        let empty = try ClientSettings.resolve(server: nil, nick: "a", environment: ["NO_COLOR": ""], file: nil)
        #expect(empty.colors, "NO_COLOR only counts when set to something")
    }

    @Test func badSettingsAreOneClearSentence() throws {
        #expect(throws: ClientSettings.Problem.self) {
            try ClientSettings.resolve(server: "host:99999", nick: "a", environment: [:], file: nil)
        }
        #expect(throws: ClientSettings.Problem.self) {
            try ClientSettings.resolve(server: nil, nick: "a b", environment: [:], file: nil)
        }
        #expect(throws: ClientSettings.Problem.self) {
            try ClientSettings.resolve(server: nil, nick: "a", environment: [:], file: .init(timeFormat: "hh"))
        }
        let path = NSTemporaryDirectory() + "tchat-config-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ClientSettings.loadFile(at: path)
            Issue.record("a broken configuration file was accepted")
        } catch {
            #expect("\(error)".contains(path))
        }
        #expect(try ClientSettings.loadFile(at: path + ".missing") == nil)
        #expect(ClientSettings.configPath(environment: ["XDG_CONFIG_HOME": "/c"]) == "/c/tchat/config.json")
        #expect(ClientSettings.configPath(environment: ["HOME": "/h"]) == "/h/.config/tchat/config.json")
    }
}
