#!/usr/bin/env python3
"""Every attack on the peer port that issue 10 lists, against a real tchatd process with linking configured.

    scripts/peer-attacks.py --tchatd .build/debug/tchatd

The attacker is written from docs/protocol.md alone (frames, the link handshake and its HMAC), so this is also a
second implementation of the spec. First as a stranger (no secret), then as a server that knows the secret and
lies. After each attack: the attack was refused, tchatd logged it, and tchatd still serves a client (a ping is
answered, the next message gets the next id). Last, a history file holding message id 2^64 - 1 (what the overflow
once left) must not stop tchatd from starting. Exit status 0 when everything held; each check prints one line.
"""

import argparse
import hashlib
import hmac
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import FrameSocket, link_handshake, frame, hello, join, send, split_frames, string, error_code, sent_id  # noqa: E402

CHALLENGE, PROOF, SERVER_HELLO, LOAD, PEERS = 0x50, 0x51, 0x40, 0x41, 0x43
CLIENT_ADDED, CLIENT_RENAMED, JOINED, FORWARD, PEER_MESSAGE = 0x44, 0x46, 0x47, 0x49, 0x4A
PEER_DIRECT, PEER_TOPIC, CHANNEL_STATE, SYNC_REQUEST, ERROR = 0x4B, 0x4C, 0x4D, 0x4E, 0x81
NOW = lambda: int(time.time() * 1000)  # noqa: E731
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def body(text): return b"\x00" + u32(len(text.encode())) + text.encode()


def peer_hello(server_id, started_at=None, client_address="", clients=0, name="mallory"):
    return frame(SERVER_HELLO, 0, u16(1) + u64(server_id) + string(name) + string("0.1.0") + u32(1) + string("evil")
                 + string(client_address) + string("127.0.0.1:9") + u32(clients) + u32(10000)
                 + u64(started_at if started_at is not None else NOW()) + string(""))  # store: its own files


def client_added(nick, connected_at):
    return frame(CLIENT_ADDED, 0, string(nick) + string("6.6.6.6:6") + u64(connected_at) + string("x") + string("1")
                 + string("h") + u32(1))


def chat_message(channel, mid, author, text, when=None):
    return string(channel) + u64(mid) + u64(when or NOW()) + string(author) + body(text)


class Conn(FrameSocket):
    """A connection to either port (tchatwire.FrameSocket), with the errors it was sent."""

    def errors(self):
        return [(error_code(f), f[4:].decode(errors="replace")) for t, _, f in self.frames if t == ERROR]


class Attacker(Conn):
    """The dialling side of a link, from the spec's handshake."""

    def authenticate(self, secret, server_id, hello_frame=None):
        self.listener_id = link_handshake(self, secret, server_id)
        if self.listener_id is None:
            return False
        self.send(hello_frame or peer_hello(server_id))
        return self.pump(3, until=lambda fs: any(t == SERVER_HELLO for t, _, _ in fs))


class Client(Conn):
    def __init__(self, port, nick):
        super().__init__(port)
        self.next_rid = 2
        self.send(hello(nick))
        self.pump(3, until=lambda fs: any(rid == 1 and t in (0x80, 0x81) for t, rid, _ in fs))

    def request(self, data_for_rid):
        rid = self.next_rid
        self.next_rid += 1
        self.send(data_for_rid(rid))
        self.pump(5, until=lambda fs: any(r == rid and t in (0x80, 0x81) for t, r, _ in fs))
        return [(t, f) for t, r, f in self.frames if r == rid]

    def ping_ok(self):
        rid = self.next_rid
        self.next_rid += 1
        self.send(frame(0x01, rid, u64(rid)))
        return self.pump(2, until=lambda fs: any(r == rid and t == 0x02 for t, r, _ in fs))


class Server:
    def __init__(self, binary, directory, secret_path, extra=()):
        self.log = open(os.path.join(directory, "tchatd.log"), "a+")
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--data-dir",
             os.path.join(directory, "data"), "--link-secret", secret_path, "--heartbeat", "0.5", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        self.client_port = int(fields["clients"].rsplit(":", 1)[1])
        self.peer_port = int(fields["peers"].rsplit(":", 1)[1])

    def logged(self, *words, seconds=3):
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.log.flush()
            with open(self.log.name) as f:
                if any(all(w in line for w in words) for line in f):
                    return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        return self.process.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tchatd", default=".build/debug/tchatd")
    options = parser.parse_args()
    work = tempfile.mkdtemp(prefix="tchat-peer-attacks-")
    secret = os.urandom(16).hex().encode()
    secret_path = os.path.join(work, "link-secret")
    with open(os.open(secret_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
        f.write(secret + b"\n")
    server = Server(options.tchatd, work, secret_path, ["--max-clients", "3"])
    try:
        run(server, secret)
    finally:
        server.stop()
    # The overflow's leftovers: a history file ending in id 2^64 - 1 must not stop the next start.
    path = os.path.join(work, "data", "channels", "ops.jsonl")
    with open(path, "a") as f:
        f.write('{"id":18446744073709551615,"time":"2026-11-29T00:00:00.000Z","from":"mallory","type":"text",'
                '"body":"boom"}\n')
    again = Server(options.tchatd, work, secret_path)
    client = Client(again.client_port, "after")
    reply = client.request(lambda rid: send("#ops", "after the restart", rid))
    sent = [f for t, f in reply if t == 0x83]
    check(bool(sent) and again.process.poll() is None,
          f"a history file holding id 2^64-1: tchatd starts, moves it aside, and numbers on (id {sent_id(sent[0]) if sent else '?'})")
    check(any(name.startswith("ops.jsonl.damaged-") for name in os.listdir(os.path.dirname(path))),
          "the damaged file is kept aside")
    client.close()
    check(again.stop() == 0, "tchatd stops cleanly")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


def run(server, secret):
    alice = Client(server.client_port, "alice")
    bob = Client(server.client_port, "bob")
    alice.request(lambda rid: join("#ops", rid))
    ids = []
    for text in ("one", "two", "three"):
        ids += [sent_id(f) for t, f in alice.request(lambda rid: send("#ops", text, rid)) if t == 0x83]

    def still_serving(what):
        got = [sent_id(f) for t, f in alice.request(lambda rid: send("#ops", "still here", rid)) if t == 0x83]
        ok = alice.ping_ok() and got == [ids[-1] + 1]
        if got:
            ids.extend(got)
        check(ok, f"{what}: refused, and tchatd still serves (ping answered, next id {got})")

    # --- Strangers, no secret -------------------------------------------------------------------------------
    decoy = socket.socket()
    decoy.bind(("127.0.0.1", 0))
    decoy.listen(8)
    decoy.settimeout(0.1)
    decoy_port = decoy.getsockname()[1]
    stranger_frames = {
        "SERVER_HELLO (join the network)": peer_hello(0x6666),
        "SYNC_REQUEST (read all history)": frame(SYNC_REQUEST, 0, string("#ops") + u64(0) + u32(1000)),
        "CHANNEL_STATE (create a channel)": frame(CHANNEL_STATE, 0, string("#evil") + u64(5)),
        "PEERS (make tchatd dial anywhere)": frame(PEERS, 0, u16(1) + u64(42) + string(f"127.0.0.1:{decoy_port}")),
        "PEER_MESSAGE id 2^64-1": frame(PEER_MESSAGE, 0, u64(0) + u64(0) + chat_message("#ops", 2**64 - 1, "alice", "x")),
        "CLIENT_ADDED alice, 1 ms (take a nick)": client_added("alice", 1),
        "FORWARD as alice": frame(FORWARD, 0, u64(1) + string("#ops") + string("alice") + body("forged")),
        "PEER_DIRECT as bob": frame(PEER_DIRECT, 0, string("bob") + string("alice") + u64(NOW()) + body("forged")),
        "PEER_TOPIC": frame(PEER_TOPIC, 0, string("#ops") + string("pwned") + string("alice") + u64(NOW())),
        "LOAD 0 (draw redirects)": frame(LOAD, 0, u32(0) + u32(1000000)),
    }
    for what, data in stranger_frames.items():
        attacker = Attacker(server.peer_port)
        attacker.send(data)
        closed = attacker.wait_closed()
        errors = attacker.errors()
        learnt = [hex(t) for t, _, _ in attacker.frames if t not in (CHALLENGE, ERROR)]
        check(closed and errors and errors[0][0] == 212 and not learnt,
              f"stranger sends {what}: ERROR 212 ({errors[0][1] if errors else 'none'}), closed, learnt {learnt or 'nothing'}")
        attacker.close()
    try:
        decoy.accept()
        dialled = True
    except socket.timeout:
        dialled = False
    check(not dialled, "stranger's PEERS made tchatd dial nothing")
    check(server.logged("link refused", "out of turn"), "the refusals are logged")
    listing = alice.request(lambda rid: frame(0x17, rid))
    check(b"#evil" not in b"".join(f for _, f in listing), "no channel was created")
    wrong = Attacker(server.peer_port)
    check(not wrong.authenticate(b"a guess at the secret!", 0x6667), "a wrong secret does not link")
    check(not any(t == PROOF for t, _, _ in wrong.frames), "tchatd sent no proof to one that proved nothing")
    check(server.logged("different link secrets"), "a wrong secret is logged")
    wrong.close()
    still_serving("strangers")

    # --- A server that knows the secret and lies ---------------------------------------------------------------
    liar = Attacker(server.peer_port)
    check(liar.authenticate(secret, 0x7777), "with the secret, the spec's handshake links (the HMAC vector holds)")
    liar.pump(0.3)
    liar.send(client_added("alice", 1))
    check(server.logged("refused", "connected at"), "CLIENT_ADDED alice at 1 ms: refused, logged")
    liar.send(client_added("alice", NOW() - 3600_000))
    alice.pump(1, until=lambda fs: any(t == 0x88 for t, _, _ in fs))
    renamed = [f for t, _, f in alice.frames if t == 0x88]
    check(bool(renamed), "CLIENT_ADDED alice an hour ago: neither keeps the nick (alice got NICK_CHANGED)")
    liar.send(frame(CLIENT_RENAMED, 0, string("alice") + string("alice")))
    time.sleep(0.2)
    dm = bob.request(lambda rid: frame(0x16, rid, string("alice") + body("for alice")))
    liar.pump(0.3)
    check(any(t == 0x81 for t, _ in dm) and not any(t == PEER_DIRECT for t, _, _ in liar.frames),
          "then renaming its client to alice: it does not get the nick, nor alice's direct messages")
    alice.request(lambda rid: frame(0x11, rid, string("alice")))  # alice takes her nick back
    liar.send(client_added("mallory", NOW()))
    for what, data, words in [
        ("FORWARD as bob (speak for another server's client)",
         frame(FORWARD, 0, u64(1) + string("#ops") + string("bob") + body("I am bob")), "not one of its clients"),
        ("PEER_DIRECT as bob", frame(PEER_DIRECT, 0, string("bob") + string("alice") + u64(NOW()) + body("x")),
         "not one of its clients"),
        ("PEER_TOPIC with an OSC 52 escape", frame(PEER_TOPIC, 0, string("#ops") + string("\x1b]52;c;x\x07")
                                                   + string("mallory") + u64(NOW())), "control characters"),
        ("PEER_TOPIC of 2 KB", frame(PEER_TOPIC, 0, string("#ops") + string("x" * 2048) + string("mallory")
                                     + u64(NOW())), "at most 390"),
        ("PEER_TOPIC from tomorrow", frame(PEER_TOPIC, 0, string("#ops") + string("later") + string("mallory")
                                           + u64(NOW() + 86400_000)), "ahead of this server's clock"),
        ("CLIENT_ADDED with a Cyrillic nick", client_added("\u0430lice", NOW()), "non-ASCII"),
        ("PEER_MESSAGE id 2^64-1", frame(PEER_MESSAGE, 0, u64(7) + u64(1)
                                         + chat_message("#ops", 2**64 - 1, "alice", "boom")), "highest message id"),
        ("PEER_MESSAGE last+5 as unasked history (a hole)",
         frame(PEER_MESSAGE, 0, u64(0) + u64(0) + chat_message("#ops", ids[-1] + 5, "alice", "hole")), "did not ask"),
        ("PEER_MESSAGE from a server that is not the sequencer",
         frame(PEER_MESSAGE, 0, u64(7) + u64(1) + chat_message("#ops", ids[-1] + 1, "alice", "mine")), "sequencer only"),
    ]:
        liar.send(data)
        check(server.logged("refused", words), f"liar sends {what}: refused, logged")
    check(not liar.closed, "refusing a frame keeps the link")
    still_serving("a lying server's frames")
    history = alice.request(lambda rid: frame(0x20, rid, string("#ops") + u64(0) + u16(100)))
    got = [struct.unpack(">Q", f[2 + len("#ops"):10 + len("#ops")])[0] for t, f in history if t == 0x84]
    check(got == list(range(1, len(got) + 1)), f"the channel's ids stay contiguous: {got}")
    liar.send(frame(PEERS, 0, u16(1) + u64(42) + string(f"127.0.0.1:{decoy_port}")))
    try:
        connection, _ = decoy.accept()
        connection.settimeout(2)
        first = connection.recv(64)
        check(len(first) > 4 and first[4] == CHALLENGE, "a linked server's PEERS: tchatd dials, and asks for the secret")
        connection.close()
    except socket.timeout:
        check(False, "a linked server's PEERS was not followed")
    liar.close()

    early = Attacker(server.peer_port)
    early.authenticate(secret, 0x8888, peer_hello(0x8888, started_at=1))
    early.wait_closed()
    check(any("before 2020" in text for _, text in early.errors()),
          "SERVER_HELLO started at 1 ms (to be the sequencer): refused")
    early.close()

    # The sequencer (a plausible early start) rewriting a forwarded message.
    sequencer = Attacker(server.peer_port)
    sequencer.authenticate(secret, 0x9999, peer_hello(0x9999, started_at=1_700_000_000_000))
    sequencer.pump(0.5)
    rid = alice.next_rid
    alice.next_rid += 1
    alice.send(send("#ops", "the real words", rid))
    sequencer.pump(3, until=lambda fs: any(t == FORWARD for t, _, _ in fs))
    forward = next((f for t, _, f in sequencer.frames if t == FORWARD), None)
    if forward:
        seq = struct.unpack(">Q", forward[:8])[0]
        sequencer.send(frame(PEER_MESSAGE, 0, u64(sequencer.listener_id) + u64(seq)
                             + chat_message("#ops", ids[-1] + 1, "alice", "rewritten words")))
    check(server.logged("refused", "not what was forwarded"), "the sequencer rewriting a forwarded message: refused")
    alice.pump(0.3)
    check(not any(r == rid and t == 0x83 for t, r, _ in alice.frames), "and alice is never told it was stored")
    sequencer.close()
    # With the liar gone, tchatd numbers the message itself: the real words, stored and acknowledged.
    alice.pump(5, until=lambda fs: any(r == rid and t == 0x83 for t, r, _ in fs))
    real = [sent_id(f) for t, r, f in alice.frames if r == rid and t == 0x83]
    check(real == [ids[-1] + 1], f"once the liar is gone, the real words are numbered ({real})")
    ids.extend(real)

    # Redirects: tchatd is full (3 clients) and a liar with room advertises an address that is not its own.
    lure = Attacker(server.peer_port)
    lure.authenticate(secret, 0xAAAA, peer_hello(0xAAAA, client_address="127.0.0.2:9999"))
    lure.send(frame(LOAD, 0, u32(0) + u32(1000000)))
    check(server.logged("client address", "no client is sent there"), "an address tchatd cannot vouch for: logged")
    third = Client(server.client_port, "carol")
    fourth = Client(server.client_port, "dave")
    refusals = [error_code(f) for t, r, f in fourth.frames if t == ERROR]
    check(not any(t == 0x95 for t, _, _ in fourth.frames) and 203 in refusals,
          "a full tchatd refuses (error 203) rather than redirect to the liar's address")
    for conn in (lure, third, fourth):
        conn.close()
    still_serving("the lying servers")
    for conn in (alice, bob):
        conn.close()
    decoy.close()


if __name__ == "__main__":
    sys.exit(main())
