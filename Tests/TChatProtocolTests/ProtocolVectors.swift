import TChatProtocol

/// The frames behind every hex test vector in `docs/protocol.md`, by the name each vector carries there.
enum ProtocolVectors {
    static let time = Timestamp(milliseconds: 1_764_000_000_000)  // 2025-11-24T16:00:00.000Z

    static let client: [String: (requestID: UInt32, frame: ClientFrame)] = [
        "client-ping": (7, .ping(token: 0x0102_0304_0506_0708)),
        "client-pong": (0, .pong(token: 42)),
        "hello": (
            1,
            .hello(
                Hello(
                    version: 1, nick: "alice", clientName: "tchat", clientVersion: "0.1.0", processID: 4242,
                    host: "box"))
        ),
        "nick": (2, .nick("alice2")),
        "whoami": (3, .whoami),
        "join": (4, .join(channel: "#ops", history: 50)),
        "part": (5, .part(channel: "#ops", reason: "bye")),
        "send-text": (6, .send(channel: "#ops", body: .text("hi"))),
        "send-json": (7, .send(channel: "#ops", body: .json("{\"a\":1}"))),
        "send-action": (7, .send(channel: "#ops", body: MessageBody(.action, "waves"))),
        "send-direct": (8, .sendDirect(nick: "bob", body: .text("psst"))),
        "list-channels": (9, .listChannels),
        "set-topic": (10, .setTopic(channel: "#ops", topic: "deploys")),
        "list-clients": (11, .listClients(channel: "#ops")),
        "whois": (12, .whois(nick: "bob")),
        "list-servers": (13, .listServers),
        "help": (14, .help),
        "reverse": (15, .reverse("héllo 👋🏽")),
        "set-welcome": (16, .setWelcome("hi!")),
        "get-welcome": (17, .getWelcome),
        "history": (18, .history(channel: "#ops", before: 100, limit: 20)),
        "quit": (19, .quit(reason: "done")),
        "register": (20, .register(password: "correct horse")),
        "login": (21, .login(mechanism: "SCRAM-SHA-256", data: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")),
        "login-plain": (21, .login(mechanism: "PLAIN", data: "\0ann\0correct horse")),
        "login-continue": (
            22,
            .loginContinue(
                data: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        ),
        "set-password": (23, .setPassword(old: "correct horse", new: "battery staple")),
        "drop-account": (24, .dropAccount(password: "battery staple")),
        "channel-mode": (25, .channelMode(channel: "#ops", change: "+k hunter2")),
        "channel-mode-query": (26, .channelMode(channel: "#ops", change: "")),
        "kick": (27, .kick(channel: "#ops", nick: "eve", reason: "spam")),
        "invite": (28, .invite(channel: "#ops", nick: "bob")),
        "join-keyed": (29, .joinKeyed(channel: "#ops", key: "hunter2", history: 50)),
        "kill": (30, .kill(nick: "eve", reason: "spam")),
        "server-ban": (31, .serverBan(mask: "address:203.0.113.9", reason: "spam")),
        "server-unban": (32, .serverUnban(mask: "account:eve")),
        "close-channel": (33, .closeChannel(channel: "#spam", reason: "abuse")),
        "set-away": (34, .setAway("lunch")),
        "send-once": (35, .sendOnce(channel: "#ops", key: "k1", body: .text("hi"))),
    ]

    static let server: [String: (requestID: UInt32, frame: ServerFrame)] = [
        "server-ping": (0, .ping(token: 99)),
        "server-pong": (7, .pong(token: 0x0102_0304_0506_0708)),
        "ok": (6, .ok),
        "error": (6, .error(ProtocolError(.noSuchChannel, "no #x"))),
        "welcome": (
            1,
            .welcome(
                Welcome(
                    version: 1, serverName: "hub", serverVersion: "0.1.0", nick: "alice",
                    address: "127.0.0.1:50000", connectedAt: time, maxFrameLength: 65536, welcomeText: "hey",
                    motd: "be nice"))
        ),
        "sent": (6, .sent(id: 12, time: time)),
        "message": (
            0, .message(ChatMessage(channel: "#ops", id: 12, time: time, from: "alice", body: .text("hi")))
        ),
        "direct": (0, .direct(DirectMessage(from: "alice", to: "bob", time: time, body: .text("psst")))),
        "joined": (0, .joined(channel: "#ops", nick: "bob", time: time)),
        "parted": (0, .parted(channel: "#ops", nick: "bob", reason: "bye", time: time)),
        "nick-changed": (0, .nickChanged(old: "bob", new: "rob", time: time)),
        "quitted": (0, .quitted(nick: "bob", reason: "done", time: time)),
        "topic": (0, .topic(channel: "#ops", topic: "deploys", setBy: "alice", time: time)),
        "notice": (0, .notice("restart at 5")),
        "client-info": (
            3,
            .clientInfo(
                ClientInfo(
                    nick: "alice", address: "127.0.0.1:50000", connectedAt: time, durationMilliseconds: 1500,
                    clientName: "tchat", clientVersion: "0.1.0", host: "box", processID: 4242, server: "hub"))
        ),
        "channel-info": (
            4,
            .channelInfo(
                ChannelInfo(
                    name: "#ops", members: 2, topic: "deploys", topicSetBy: "alice", topicSetAt: time,
                    lastMessageID: 12))
        ),
        "server-info": (
            13,
            .serverInfo(
                ServerInfo(
                    name: "hub", version: "0.1.0", clientAddress: "127.0.0.1:7667", clients: 3, capacity: 10000,
                    startedAt: time, isThisServer: true))
        ),
        "help-entry": (14, .helpEntry(name: "JOIN", arguments: "channel history", summary: "join a channel")),
        "text": (15, .text("👋🏽 olléh")),
        "redirect": (1, .redirect(address: "127.0.0.1:7669", server: "hub-2")),
        "auth-data": (
            21,
            .authData(
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        ),
        "logged-in": (22, .loggedIn(account: "ann")),
        "channel-modes": (
            26, .channelModes(channel: "#ops", modes: "+ik hunter2", operators: "ann", voiced: "", bans: "eve*")
        ),
        "mode-changed": (0, .modeChanged(channel: "#ops", by: "ann", change: "+i", time: time)),
        "kicked": (0, .kicked(channel: "#ops", nick: "eve", by: "ann", reason: "spam", time: time)),
        "invited": (0, .invited(channel: "#ops", by: "ann", time: time)),
        "away-changed": (0, .awayChanged(nick: "alice", text: "lunch", time: time)),
        "account-changed": (0, .accountChanged(nick: "alice", account: "alice", time: time)),
        "joined-account": (0, .joinedAccount(channel: "#ops", nick: "alice", account: "alice", time: time)),
    ]

    static let peer: [String: PeerFrame] = [
        "link-challenge": .challenge(LinkChallenge(serverID: 0x0102_0304_0506_0708, nonce: Array(0..<32))),
        "link-proof": .proof([
            0xf2, 0x1f, 0x01, 0xe0, 0x0b, 0x58, 0xca, 0xe5, 0x64, 0x4e, 0xa4, 0xc4, 0x27, 0x06, 0xa1, 0x06,
            0x74, 0x3d, 0x24, 0x97, 0x16, 0xf6, 0x78, 0xdd, 0x63, 0xdf, 0x2e, 0xf4, 0x2f, 0x53, 0xeb, 0xa3,
        ]),
        "peer-error": .error(ProtocolError(.linkRefused, "no link secret")),
        "server-hello": .hello(
            PeerHello(
                serverID: 0x0102_0304_0506_0708, name: "hub", softwareVersion: "0.1.0", processID: 4242, host: "box",
                clientAddress: "127.0.0.1:7667", peerAddress: "127.0.0.1:7668", clients: 3, capacity: 10000,
                startedAt: time)),
        "load": .load(clients: 3, capacity: 10000),
        "goodbye": .goodbye(reason: "bye"),
        "peers": .peers([KnownPeer(serverID: 9, peerAddress: "127.0.0.1:7678")]),
        "client-added": .clientAdded(
            RemoteClient(
                nick: "alice", address: "127.0.0.1:50000", connectedAt: time, clientName: "tchat",
                clientVersion: "0.1.0", host: "box", processID: 4242)),
        "client-removed": .clientRemoved(nick: "alice", reason: "bye"),
        "client-renamed": .clientRenamed(old: "alice", new: "alicia"),
        "peer-joined": .joined(channel: "#ops", nick: "alice", time: time),
        "peer-parted": .parted(channel: "#ops", nick: "alice", reason: "", time: time),
        "forward": .forward(seq: 7, channel: "#ops", from: "alice", body: .text("hi")),
        "peer-message": .message(
            origin: 9, seq: 7, ChatMessage(channel: "#ops", id: 12, time: time, from: "alice", body: .text("hi"))),
        "peer-direct": .direct(DirectMessage(from: "alice", to: "bob", time: time, body: .text("psst"))),
        "peer-topic": .topic(channel: "#ops", topic: "deploys", setBy: "alice", time: time),
        "channel-state": .channelState(channel: "#ops", lastID: 12),
        "sync-request": .syncRequest(channel: "#ops", after: 10, limit: 1000),
        "account": .record(
            .account(
                SharedAccount(
                    name: "ann", passwordHash: "scrypt$15$8$1$AAE=$" + String(repeating: "A", count: 43) + "=",
                    scramSalt: [1, 2], scramIterations: 4096, storedKey: Array(repeating: 0xAA, count: 32),
                    serverKey: Array(repeating: 0xBB, count: 32), created: time, updated: time, welcome: "hi"))),
        "account-dropped": .record(.accountDropped(name: "ann", time: time)),
        "peer-server-ban": .record(.serverBan(mask: "address:192.0.2.7", reason: "spam", by: "root", time: time)),
        "peer-server-unban": .record(.serverUnban(mask: "address:192.0.2.7", time: time)),
        "channel-access": .record(
            .channelAccess(
                SharedChannelAccess(
                    channel: "#ops", created: time, modes: "it", key: "k3y", operators: ["ann"], voiced: ["bob"],
                    bans: ["account:eve"], orphaned: false, time: time, by: "ann", change: "+i"))),
        "operators": .record(.operators(["root", "ann"])),
        "peer-kick": .record(.kick(channel: "#ops", nick: "eve", by: "ann", reason: "bye")),
        "peer-invite": .record(.invite(channel: "#ops", nick: "bob", by: "ann")),
        "peer-kill": .record(.kill(nick: "eve", by: "root", reason: "spam")),
        "peer-away": .record(.away(nick: "bob", text: "lunch")),
        "peer-logged-in": .record(.loggedIn(nick: "bob", account: "bob")),
        "forward-once": .forwardOnce(seq: 7, channel: "#ops", from: "alice", key: "k1", body: .text("hi")),
    ]
}
