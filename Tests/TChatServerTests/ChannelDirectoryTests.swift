import NIOEmbedded
import TChatProtocol
import Testing

@testable import TChatServer

/// The channel directory, a channel's member list and the membership index, each alone.
@Suite struct ChannelDirectoryTests {
    func make(_ name: ChannelName, _ file: String) -> ChatChannel {
        ChatChannel(
            name: name, file: file, created: .now(),
            state: ChatChannel.State(history: HistoryWindow(capacity: 10, limit: 100)))
    }

    @Test func namesDifferingInCaseAreOneChannelAndFilesAreNeverShared() throws {
        let directory = ChannelDirectory([], unclaimedFiles: [])
        let first = try ChannelName(validating: "#Team")
        let (made, isNew) = directory.channel(creating: first) { make(first, $0) }
        #expect(isNew)
        let again = directory.channel(creating: try ChannelName(validating: "#team")) { make(first, $0) }
        #expect(!again.isNew)
        #expect(again.channel === made)
        #expect(directory.count == 1)
        #expect(directory.channel(try ChannelName(validating: "#TEAM")) === made)
    }

    @Test func aNewChannelNeverTakesAFileNoChannelOwns() throws {
        let name = try ChannelName(validating: "#ops")
        let taken = ChannelFileName.make(for: name)
        let directory = ChannelDirectory([], unclaimedFiles: [taken])
        let (channel, _) = directory.channel(creating: name) { make(name, $0) }
        #expect(channel.file != taken)
        #expect(channel.file.hasSuffix("~2.jsonl"))
    }

    @Test func remoteMembersAreKeyedByNickCaseInsensitively() {
        var members = ChannelMembers()
        let added = members.addRemote("Bob", on: 7)
        let addedAgain = members.addRemote("bob", on: 7)
        #expect(added && !addedAgain)
        #expect(members.count == 1)
        let renamed = members.renameRemote(from: "BOB", to: "Robert")
        #expect(renamed)
        #expect(members.remote.values.map(\.nick) == ["Robert"])
        let removedOld = members.removeRemote("bob")
        let removedNew = members.removeRemote("ROBERT")
        #expect(!removedOld && removedNew)
        #expect(members.count == 0)
    }

    /// The servers a committed message is pushed to: those with a member in the channel, each once, and none
    /// once its last member there has gone (whether it left, quit or was renamed on the way).
    @Test func remoteMembersCountTheServersTheyAreOn() {
        var members = ChannelMembers()
        _ = members.addRemote("ann", on: 7)
        _ = members.addRemote("bob", on: 7)
        _ = members.addRemote("cy", on: 9)
        _ = members.addRemote("ANN", on: 9)  // already in, on 7
        #expect(members.remoteServers == [7: 2, 9: 1])
        _ = members.renameRemote(from: "bob", to: "robert")
        _ = members.removeRemote("ann")
        #expect(members.remoteServers == [7: 1, 9: 1])
        _ = members.removeRemote("Robert")
        _ = members.removeRemote("nobody")
        #expect(members.remoteServers == [9: 1])
        _ = members.removeRemote("cy")
        #expect(members.remoteServers.isEmpty)
        // A rename onto a nick another server's member holds (nick tables prevent it; the counts hold anyway).
        _ = members.addRemote("ann", on: 7)
        _ = members.addRemote("bob", on: 9)
        _ = members.renameRemote(from: "ann", to: "BOB")
        #expect(members.remoteServers == [7: 1])
        #expect(members.remote.values.map(\.nick) == ["BOB"])
    }

    @Test func theIndexFindsAMembersChannelsWithoutLookingAtOthers() throws {
        let index = MembershipIndex()
        let a = make(try ChannelName(validating: "#a"), "a.jsonl")
        let b = make(try ChannelName(validating: "#b"), "b.jsonl")
        let session = ClientSession(
            id: 7, channel: EmbeddedChannel(), address: "127.0.0.1:1", connectedAt: .now(),
            hello: Hello(nick: "ann", clientName: "unit", clientVersion: "1", processID: 1, host: "h"))
        index.add(session, to: a)
        index.add(session, to: b)
        #expect(index.count(of: session) == 2)
        index.remove(session, from: a)
        #expect(index.channels(of: session).map(\.name.name) == ["#b"])
        #expect(index.removeAll(of: session).map(\.name.name) == ["#b"])
        #expect(index.count(of: session) == 0)

        index.add(remote: "Bob", to: a)
        index.add(remote: "bob", to: b)
        #expect(Set(index.channels(ofRemote: "BOB").map(\.name.name)) == ["#a", "#b"])
        #expect(Set(index.rename(remote: "bob", to: "Rob").map(\.name.name)) == ["#a", "#b"])
        #expect(index.channels(ofRemote: "bob").isEmpty)
        index.remove(remote: "rob", from: a)
        #expect(index.removeAll(ofRemote: "Rob").map(\.name.name) == ["#b"])
        #expect(index.channels(ofRemote: "rob").isEmpty)
    }
}
