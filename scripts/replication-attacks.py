#!/usr/bin/env python3
"""Attacks on the peer protocol's replication frames (0x52-0x5A), by a linked server that knows the secret and lies.

    scripts/replication-attacks.py --tchatd .build/debug/tchatd

Written from docs/protocol.md alone ("The peer protocol": the handshake and its HMAC, "What a linked server may
say", "Accounts and channels across the network", frames 0x40-0x5A), docs/security.md (Accounts, Known limits) and
docs/accounts.md: a second implementation of ACCOUNT, ACCOUNT_DROPPED, CHANNEL_ACCESS, OPERATORS, PEER_KICK and
PEER_KILL, with SCRAM-SHA-256 (RFC 5802) and scrypt stored forms made here. One tchatd runs with a link secret in a
temporary data directory; ann (registered, logged in) runs #lobby and #den; the attacker links, proves the secret,
and sends what the docs say is refused: a later copy of ann's account with its own password, hashes costlier than
the server runs, records from the future, 20,000 made-up drops, a drop dated before ann existed, rules for unknown
channels, kicks of a whole open channel or by a client not in it, and malformed records. What the docs say a linked
server is trusted with (older channel rules win, PEER_KILL, OPERATORS) is done too and its documented outcome is
checked. After each attack a client's PING must still be answered. One line per check; exit status 0 when all held.
"""

import argparse
import base64
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
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import FrameSocket, link_handshake, frame, hello, join, send, split_frames, string, error_code  # noqa: E402

# Peer frames (docs/protocol.md, "The peer protocol").
SERVER_HELLO, LOAD, CLIENT_ADDED, PEER_JOINED = 0x40, 0x41, 0x44, 0x47
CHALLENGE, PROOF = 0x50, 0x51
ACCOUNT, ACCOUNT_DROPPED, CHANNEL_ACCESS, OPERATORS = 0x52, 0x53, 0x56, 0x57
PEER_KICK, PEER_KILL = 0x58, 0x5A
# Client frames.
REGISTER, LOGIN, LOGIN_CONTINUE, DROP_ACCOUNT = 0x22, 0x23, 0x24, 0x26
LIST_CHANNELS, LIST_CLIENTS, CHANNEL_MODE, KILL = 0x17, 0x19, 0x27, 0x2B
OK, ERROR, SENT, CHANNEL_INFO, CLIENT_INFO = 0x80, 0x81, 0x83, 0x91, 0x90
AUTH_DATA, LOGGED_IN, CHANNEL_MODES, MODE_CHANGED, KICKED = 0x96, 0x97, 0x98, 0x99, 0x9A

ANN_PASSWORD = "ann-keeps-a-long-password-7"
EVIL_PASSWORD = "mallory-wants-in-123"
DORA_PASSWORD = "dora-leaves-soon-99"
MALLOP_PASSWORD = "mallop-registers-here-5"
NOW = lambda: int(time.time() * 1000)  # noqa: E731
MINUTE = 60_000
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition


def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def b64(data): return base64.b64encode(data).decode()


class Fields:
    """Reads a frame's fields in order."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def int(self, n): return int.from_bytes(self.take(n), "big")
    def str(self): return self.take(self.int(2)).decode(errors="replace")


# --- Records, as the spec lays them out ---------------------------------------------------------------------------

class Keys:
    """What accounts.json keeps of a password: scrypt's stored form and the SCRAM salt, iterations and keys."""

    def __init__(self, password, iterations=4096, logn=15, r=8, p=1):
        salt = os.urandom(16)
        derived = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 15, r=8, p=1, maxmem=64 << 20, dklen=32)
        # Parameters other than 15/8/1 are written into the stored form only: nobody here runs them.
        self.hash = f"scrypt${logn}${r}${p}${b64(salt)}${b64(derived)}"
        self.salt = os.urandom(16)
        self.iterations = iterations
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        self.stored_key = hashlib.sha256(client_key).digest()
        self.server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()


def account(name, keys, created, updated, welcome="", hash_text=None, salt=None, iterations=None):
    salt = keys.salt if salt is None else salt
    return frame(ACCOUNT, 0, string(name) + string(hash_text or keys.hash) + u8(len(salt)) + salt
                 + u32(keys.iterations if iterations is None else iterations) + keys.stored_key + keys.server_key
                 + u64(created) + u64(updated) + string(welcome))


def account_dropped(name, when):
    return frame(ACCOUNT_DROPPED, 0, string(name) + u64(when))


def channel_access(channel, created, modes="", key="", operators="", voiced="", bans="", orphaned=0, when=None,
                   by="", change=""):
    return frame(CHANNEL_ACCESS, 0, string(channel) + u64(created) + string(modes) + string(key) + string(operators)
                 + string(voiced) + string(bans) + u8(orphaned) + u64(when or NOW()) + string(by) + string(change))


def peer_kick(channel, nick, by, reason="out"):
    return frame(PEER_KICK, 0, string(channel) + string(nick) + string(by) + string(reason))


def peer_kill(nick, by, reason="bye"):
    return frame(PEER_KILL, 0, string(nick) + string(by) + string(reason))


def peer_hello(server_id, name="mallory-net"):
    return frame(SERVER_HELLO, 0, u16(1) + u64(server_id) + string(name) + string("0.1.0") + u32(1) + string("evil")
                 + string("") + string("127.0.0.1:9") + u32(0) + u32(10000) + u64(NOW()) + string(""))  # store


def client_added(nick):
    return frame(CLIENT_ADDED, 0, string(nick) + string("6.6.6.6:6") + u64(NOW() - 1000) + string("x") + string("1")
                 + string("h") + u32(1))


def peer_joined(channel, nick):
    return frame(PEER_JOINED, 0, string(channel) + string(nick) + u64(NOW()))


# --- Connections ------------------------------------------------------------------------------------------------

class Conn(FrameSocket):
    """A connection to either port (tchatwire.FrameSocket)."""

    def wait_closed(self, seconds=3):
        return super().wait_closed(seconds)


class Attacker(Conn):
    """The dialling side of a link, from the spec's handshake; keeps the link alive with LOAD."""

    def authenticate(self, secret, server_id):
        if link_handshake(self, secret, server_id) is None:
            return False
        self.send(peer_hello(server_id))
        linked = self.pump(3, until=lambda fs: any(t == SERVER_HELLO for t, _, _ in fs))
        if linked:
            threading.Thread(target=self._heartbeat, daemon=True).start()
        return linked

    def _heartbeat(self):
        # A link silent for three heartbeats is closed; send LOAD twice a second (bounded by the run's own limit).
        for _ in range(240):
            if self.closed:
                return
            self.send(frame(LOAD, 0, u32(0) + u32(10000)))
            time.sleep(0.5)


class Client(Conn):
    def __init__(self, port, nick=None):
        super().__init__(port)
        self.next_rid = 2
        self.hello_answer = []
        if nick:
            self.send(hello(nick))
            self.pump(5, until=lambda fs: any(rid == 1 and t in (OK, ERROR) for t, rid, _ in fs))
            self.hello_answer = [(t, f) for t, r, f in self.frames if r == 1]

    def request(self, ftype, fields=b"", seconds=5):
        rid = self.next_rid
        self.next_rid += 1
        self.send(frame(ftype, rid, fields))
        self.pump(seconds, until=lambda fs: any(r == rid and t in (OK, ERROR) for t, r, _ in fs))
        return [(t, f) for t, r, f in self.frames if r == rid]

    def raw(self, data_for_rid, seconds=5):
        rid = self.next_rid
        self.next_rid += 1
        self.send(data_for_rid(rid))
        self.pump(seconds, until=lambda fs: any(r == rid and t in (OK, ERROR) for t, r, _ in fs))
        return [(t, f) for t, r, f in self.frames if r == rid]

    def ping_ok(self, seconds=3):
        rid = self.next_rid
        self.next_rid += 1
        self.send(frame(0x01, rid, u64(rid)))
        return self.pump(seconds, until=lambda fs: any(r == rid and t == 0x02 for t, r, _ in fs))

    def events(self, ftype):
        return [f for t, r, f in self.frames if t == ftype and r == 0]


def code(answer):
    return error_code(answer[-1][1]) if answer and answer[-1][0] == ERROR else None


def scram_login(port, name, password):
    """A fresh connection logs in before HELLO (RFC 5802 with SHA-256). Returns (logged in, error code, iterations)."""
    client = Client(port)
    try:
        nonce = b64(os.urandom(18))
        bare = f"n={name},r={nonce}"
        first = client.request(LOGIN, string("SCRAM-SHA-256") + string("n,," + bare))
        if not first or first[0][0] != AUTH_DATA:
            return False, code(first), None
        server_first = Fields(first[0][1]).str()
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        iterations = int(attrs["i"])
        if not 4096 <= iterations <= 10_000_000:
            return False, None, iterations
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{bare},{server_first},{without_proof}".encode()
        proof = bytes(a ^ b for a, b in zip(client_key, hmac.new(stored, auth, hashlib.sha256).digest()))
        final = client.request(LOGIN_CONTINUE, string(without_proof + ",p=" + b64(proof)))
        logged = any(t == LOGGED_IN for t, _ in final)
        if logged:
            server_final = Fields(next(f for t, f in final if t == AUTH_DATA)).str()
            server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
            logged = server_final == "v=" + b64(hmac.new(server_key, auth, hashlib.sha256).digest())
        return logged, code(final), iterations
    finally:
        client.close()


def hello_code(port, nick):
    """The error a HELLO with `nick` gets (None for a welcome): 308 says the nick is a registered account."""
    client = Client(port, nick)
    client.close()
    return code(client.hello_answer)


def registered(port, nick):
    return hello_code(port, nick) == 308


class Server:
    def __init__(self, binary, directory, secret_path):
        self.log = open(os.path.join(directory, "tchatd.log"), "a+")
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--data-dir",
             os.path.join(directory, "data"), "--link-secret", secret_path, "--registration", "open",
             "--name", "home"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        try:
            line = self.process.stdout.readline()
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            self.client_port = int(fields["clients"].rsplit(":", 1)[1])
            self.peer_port = int(fields["peers"].rsplit(":", 1)[1])
        except BaseException:
            self.stop()
            raise

    def lines(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read().splitlines()

    def logged_since(self, mark, *words, seconds=2):
        """A log line after the first `mark` lines holding every word."""
        deadline = time.time() + seconds
        while True:
            found = [line for line in self.lines()[mark:] if all(w.lower() in line.lower() for w in words)]
            if found or time.time() >= deadline:
                return found
            time.sleep(0.05)

    def refused_since(self, mark, frame_name, seconds=2):
        """Log lines after `mark` refusing a frame of a linked server (not, say, a dial's "Connection refused")."""
        deadline = time.time() + seconds
        while True:
            found = [line for line in self.lines()[mark:] if "refused" in line
                     and (f"frame={frame_name} " in line or (frame_name == "ACCOUNT" and "account record" in line))]
            if found or time.time() >= deadline:
                return found
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


# --- The attacks ---------------------------------------------------------------------------------------------------

class World:
    """Everything the attacks share: the server, its clients, and the linked liar."""

    def __init__(self, server, secret):
        self.server, self.secret = server, secret
        self.port = server.client_port
        self.controls = 0
        self.evil = Keys(EVIL_PASSWORD)

    def still_serving(self, what):
        alive = self.server.process.poll() is None
        check(alive and self.watch.ping_ok(5), f"{what}: tchatd still answers a client's PING")

    def settle(self):
        """Sends a valid ACCOUNT for a fresh name and waits until it is taken: every frame before it has been handled."""
        self.controls += 1
        name = f"ctl{self.controls}"
        self.liar.send(account(name, self.evil, NOW() - 1000, NOW() - 1000))
        deadline = time.time() + 5
        while time.time() < deadline:
            if registered(self.port, name):
                return True
            time.sleep(0.1)
        check(False, f"control account {name} (a valid ACCOUNT) was taken, so earlier frames have been handled")
        return False


def setup(w):
    w.watch = Client(w.port, "watch")
    w.ann = Client(w.port, "ann")
    answer = w.ann.request(REGISTER, string(ANN_PASSWORD), seconds=15)
    check([t for t, _ in answer] == [LOGGED_IN, OK], "setup: ann registers her nick from this host")
    w.ann_registered_at = NOW()
    for channel in ("#lobby", "#den"):
        check(w.ann.raw(lambda rid: join(channel, rid))[-1][0] == OK, f"setup: ann makes {channel} (its operator)")
    w.bob = Client(w.port, "bob")
    check(w.bob.raw(lambda rid: join("#lobby", rid))[-1][0] == OK, "setup: bob joins #lobby")
    w.carol = Client(w.port, "carol")
    w.dave = Client(w.port, "dave")

    dora = Client(w.port, "dora")
    w.dora_registered_at = NOW()
    dora.request(REGISTER, string(DORA_PASSWORD), seconds=15)
    dropped = dora.request(DROP_ACCOUNT, string(DORA_PASSWORD), seconds=15)
    check(dropped and dropped[-1][0] == OK, "setup: dora registers and drops her account")
    dora.close()

    w.mallop = Client(w.port, "mallop")
    answer = w.mallop.request(REGISTER, string(MALLOP_PASSWORD), seconds=15)
    check([t for t, _ in answer] == [LOGGED_IN, OK], "setup: the attacker registers mallop locally (a normal client)")
    check(code(w.mallop.request(KILL, string("dave") + string("x"))) == 315,
          "setup: mallop's KILL before any link: error 315 not-server-operator")

    w.liar = Attacker(w.server.peer_port)
    check(w.liar.authenticate(w.secret, int.from_bytes(os.urandom(8), "big") | 1),
          "setup: the attacker links (LINK_CHALLENGE, LINK_PROOF as specified, SERVER_HELLO)")
    w.liar.send(client_added("mallory"))
    w.liar.send(frame(OPERATORS, 0, string("mallop")))  # for attack 11: sent on linking, as the spec says
    w.liar.pump(1.0)
    w.ann_created = None
    w.den_created = None
    for t, _, f in w.liar.frames:
        r = Fields(f)
        if t == ACCOUNT and r.str() == "ann":
            r.str()
            r.take(r.int(1))
            r.take(4 + 64)
            w.ann_created = r.int(8)
        if t == CHANNEL_ACCESS and r.str() == "#den":
            w.den_created = r.int(8)
    check(w.ann_created is not None, f"setup: on linking tchatd sent ann's ACCOUNT (created {w.ann_created})")
    check(w.den_created is not None, f"setup: on linking tchatd sent #den's CHANNEL_ACCESS (created {w.den_created})")
    w.ann_created = w.ann_created or w.ann_registered_at
    w.den_created = w.den_created or w.ann_registered_at


def attack_1_later_copy_of_ann(w):
    w.liar.send(account("ann", w.evil, w.ann_created + 1000, NOW(), welcome="owned"))
    w.settle()
    logged, _, iterations = scram_login(w.port, "ann", ANN_PASSWORD)
    check(logged and iterations == 600_000,
          f"1. ACCOUNT ann made later with the attacker's keys: ann still logs in with her password "
          f"(SCRAM, {iterations} iterations, server signature checked)")
    logged, error, iterations = scram_login(w.port, "ann", EVIL_PASSWORD)
    check(not logged and error == 214, f"1. the attacker's password for ann fails (error {error})")
    w.still_serving("1. a later copy of ann's account")


def attack_2_costly_hashes(w):
    forms = {"costlyn": (30, 8, 1), "costlyr": (15, 16, 1), "costlyp": (15, 8, 4), "costlyq": (16, 8, 1)}
    mark = len(w.server.lines())
    for name, (logn, r, p) in forms.items():
        w.liar.send(account(name, Keys(EVIL_PASSWORD, logn=logn, r=r, p=p), NOW() - 1000, NOW() - 1000))
    w.settle()
    for name, (logn, r, p) in forms.items():
        got = hello_code(w.port, name)
        check(got != 308, f"2. ACCOUNT {name} with scrypt${logn}${r}${p}$...: not taken (HELLO {name} gets {got}, not 308)")
    check(len(w.server.refused_since(mark, "ACCOUNT")) >= len(forms), "2. each costly hash is refused in the log")
    w.still_serving("2. costly hashes")


def attack_3_from_the_future(w):
    ahead = NOW() + 10 * MINUTE
    records = {"futmade": (ahead, ahead), "futchanged": (NOW() - 1000, ahead)}
    mark = len(w.server.lines())
    for name, (created, updated) in records.items():
        w.liar.send(account(name, w.evil, created, updated))
    w.settle()
    for name, (created, updated) in records.items():
        which = "created" if created > NOW() else "updated"
        got = hello_code(w.port, name)
        check(got != 308, f"3. ACCOUNT {name} {which} 10 minutes ahead: not taken (HELLO gets {got}, not 308)")
    check(len(w.server.refused_since(mark, "ACCOUNT")) >= len(records), "3. each future record is refused in the log")
    w.still_serving("3. accounts from the future")


def attack_4_drop_flood(w):
    when = NOW()
    flood = b"".join(account_dropped(f"ghost{i:05d}", when) for i in range(20_000))
    started = time.time()
    w.liar.send(flood)
    check(not w.liar.closed, f"4. 20,000 ACCOUNT_DROPPED for made-up names sent ({len(flood)} bytes); link still up")
    w.still_serving("4. the flood of made-up drops")
    check(w.settle(), f"4. the flood was handled (a valid ACCOUNT after it was taken {time.time() - started:.1f} s "
                      f"after the flood began)")
    # dora's real drop must still be remembered: a copy made before it is refused.
    w.liar.send(account("dora", w.evil, w.dora_registered_at - MINUTE, w.dora_registered_at - MINUTE))
    # A made-up drop changes nothing (the name was neither an account nor a drop): an older copy of it is taken.
    w.liar.send(account("ghost00001", w.evil, when - MINUTE, when - MINUTE))
    w.settle()
    got = hello_code(w.port, "dora")
    check(got != 308, f"4. after the flood, dora's real drop is still remembered: an ACCOUNT made before it is refused "
                      f"(HELLO dora gets {got})")
    check(registered(w.port, "ghost00001"),
          "4. a made-up drop was not remembered: ghost00001 made before it is taken (documented: changes nothing)")
    w.still_serving("4. after the flood")


def attack_5_drop_before_creation(w):
    w.liar.send(account_dropped("ann", w.ann_created - 1000))
    w.settle()
    logged, error, _ = scram_login(w.port, "ann", ANN_PASSWORD)
    check(logged, f"5. ACCOUNT_DROPPED ann dated before she registered: her account survives, she logs in ({error})")
    check(registered(w.port, "ann"), "5. and her nick is still refused to others (308)")
    w.still_serving("5. a drop dated before the account")


def channel_names(w):
    return [Fields(f).str() for t, f in w.watch.request(LIST_CHANNELS) if t == CHANNEL_INFO]


def modes_of(client, channel):
    answer = client.request(CHANNEL_MODE, string(channel) + string(""))
    info = next((f for t, f in answer if t == CHANNEL_MODES), None)
    if info is None:
        return None
    r = Fields(info)
    r.str()
    return r.str(), r.str(), r.str(), r.str()


def attack_6_unknown_channel(w):
    w.liar.send(channel_access("#nowhere", NOW() - 3600_000, modes="i", operators="mallop"))
    time.sleep(0.3)
    w.settle()
    names = channel_names(w)
    check("#nowhere" not in names, f"6. CHANNEL_ACCESS for a channel tchatd does not know: not created ({names})")
    w.still_serving("6. rules for an unknown channel")


def attack_7_older_rules(w):
    before = modes_of(w.ann, "#den")
    w.liar.send(channel_access("#den", w.den_created - 86400_000, modes="i", operators="mallop",
                               by="mallory", change="+i"))
    time.sleep(0.3)
    w.settle()
    w.ann.pump(0.5)
    after = modes_of(w.ann, "#den")
    heard = [Fields(f).str() for f in w.ann.events(MODE_CHANGED)]
    zed = Client(w.port, "zed")
    got = code(zed.raw(lambda rid: join("#den", rid)))
    zed.close()
    # docs: "the rules of the channel made first" win, and linked servers are trusted with channels' rules.
    check(got == 311, f"7. CHANNEL_ACCESS #den with an older `created`, +i, operator mallop: the older rules win as "
                      f"documented (a stranger's JOIN gets {got}; modes before {before}, after {after}; ann heard "
                      f"MODE_CHANGED for {heard})")
    ann_op = w.ann.request(CHANNEL_MODE, string("#den") + string("-i"))
    check(True, f"7. observed: ann, the local creator, setting -i on #den now gets "
                f"{code(ann_op) or 'OK'} (the attacker's rules name only mallop as operator)")
    # docs/protocol.md (CHANNEL_MODE): on a network a channel's rules are the same everywhere, so a change is taken.
    w.ann.raw(lambda rid: join("#annex", rid))
    change = w.ann.request(CHANNEL_MODE, string("#annex") + string("+t"))
    check(code(change) is None, f"7. while linked, ann's CHANNEL_MODE +t on her new #annex gets {code(change) or 'OK'}")
    w.still_serving("7. older rules for a local channel")


def members(client, channel):
    return sorted(Fields(f).str() for t, f in client.request(LIST_CLIENTS, string(channel)) if t == CLIENT_INFO)


def bob_still_in_lobby(w, what):
    kicked = [f for f in w.bob.events(KICKED) + w.ann.events(KICKED) if Fields(f).str() == "#lobby"]
    sent = w.bob.raw(lambda rid: send("#lobby", f"still here after {what}", rid))
    check(not kicked and any(t == SENT for t, _ in sent),
          f"{what}: refused; no KICKED, bob still SENDs to #lobby (members {members(w.bob, '#lobby')})")


def attack_9_kick_by_outsider(w):
    mark = len(w.server.lines())
    w.liar.send(peer_kick("#lobby", "bob", "mallory", "out"))
    w.bob.pump(0.5)
    w.settle()
    bob_still_in_lobby(w, "9. PEER_KICK of bob by mallory (the attacker's client, not in #lobby)")
    check(bool(w.server.refused_since(mark, "PEER_KICK")), "9. the kick is refused in the log")
    w.still_serving("9. a kick by an outsider")


def attack_8_kick_everyone(w):
    w.liar.send(peer_joined("#lobby", "mallory"))  # so that only the `*` is wrong
    w.liar.pump(0.3)
    mark = len(w.server.lines())
    w.liar.send(peer_kick("#lobby", "*", "mallory", "closed"))
    w.bob.pump(0.5)
    w.settle()
    bob_still_in_lobby(w, "8. PEER_KICK nick * (closing) for the open #lobby, by mallory in it")
    check(bool(w.server.refused_since(mark, "PEER_KICK")), "8. the closing kick of an open channel is refused in the log")
    w.still_serving("8. a closing kick of an open channel")


def attack_10_kill(w):
    mark = len(w.server.lines())
    w.liar.send(peer_kill("carol", "ann", "not yours"))
    w.carol.pump(0.5)
    w.settle()
    check(w.carol.ping_ok(), "10. PEER_KILL carol by ann (a client of the receiver, not the sender's): refused, carol stays")
    check(bool(w.server.refused_since(mark, "PEER_KILL")), "10. that kill is refused in the log")
    w.liar.send(peer_kill("carol", "mallory", "documented"))
    w.carol.pump(3, until=lambda fs: any(t == ERROR for t, _, _ in fs))
    codes = [error_code(f) for t, _, f in w.carol.frames if t == ERROR]
    check(220 in codes and w.carol.wait_closed(),
          f"10. PEER_KILL carol by mallory (the sender's client): carol is ended with ERROR 220 as documented "
          f"(a linked server is trusted with its server operators; errors {codes})")
    w.still_serving("10. PEER_KILL")


def attack_11_operators(w):
    answer = w.mallop.request(KILL, string("dave") + string("documented"))
    w.dave.pump(2, until=lambda fs: any(t == ERROR for t, _, _ in fs))
    killed = 220 in [error_code(f) for t, _, f in w.dave.frames if t == ERROR]
    check(code(answer) is None and killed,
          f"11. OPERATORS mallop (an account the attacker registered here): mallop's KILL of dave gets "
          f"{code(answer) or 'OK'}, dave {'is ended (220)' if killed else 'stays'}; documented (Known limits: a linked "
          f"server's operators operate here)")
    w.still_serving("11. OPERATORS")


def attack_12_malformed(w):
    """Each malformed record on a link of its own (some end their link), after the main link is gone."""
    old = NOW() - 30 * 86400_000
    whole = account("trunc", w.evil, NOW() - 1000, NOW() - 1000)
    records = [
        ("a truncated ACCOUNT (cut inside `updated`)", "ACCOUNT", frame(ACCOUNT, 0, whole[9:-10]), "trunc", True),
        ("ACCOUNT with 1 SCRAM iteration", "ACCOUNT",
         account("iterone", w.evil, NOW() - 1000, NOW() - 1000, iterations=1), "iterone", False),
        ("ACCOUNT with an empty SCRAM salt", "ACCOUNT",
         account("saltless", w.evil, NOW() - 1000, NOW() - 1000, salt=b""), "saltless", False),
        ("ACCOUNT with a hash that is not scrypt's", "ACCOUNT",
         account("plainhash", w.evil, NOW() - 1000, NOW() - 1000, hash_text="md5$abc"), "plainhash", False),
        ("CHANNEL_ACCESS #lobby modes xyz", "CHANNEL_ACCESS",
         channel_access("#lobby", old, modes="xyz", operators="mallop"), None, False),
        ("CHANNEL_ACCESS #lobby orphaned 2", "CHANNEL_ACCESS",
         channel_access("#lobby", old, modes="i", operators="mallop", orphaned=2), None, True),
        ("CHANNEL_ACCESS #lobby with 200 operators", "CHANNEL_ACCESS",
         channel_access("#lobby", old, modes="i", operators=" ".join(f"op{i:03d}" for i in range(200))), None, False),
        ("PEER_KICK nick 'a b'", "PEER_KICK", peer_kick("#lobby", "a b", "mallory"), None, False),
    ]
    w.ann.pump(0.2)
    before = modes_of(w.ann, "#lobby")
    lobby_members = members(w.ann, "#lobby")
    for what, frame_name, data, name, unreadable in records:
        w.liar = Attacker(w.server.peer_port)
        if not check(w.liar.authenticate(w.secret, int.from_bytes(os.urandom(8), "big") | 1),
                     f"12. {what}: a fresh link is made for it"):
            continue
        w.liar.send(client_added("mallory"))
        w.liar.send(peer_joined("#lobby", "mallory"))
        w.liar.pump(0.3)
        mark = len(w.server.lines())
        w.liar.send(data)
        logged = (w.server.refused_since(mark, frame_name, seconds=1)
                  or w.server.logged_since(mark, "unreadable frame", seconds=0.5))
        check(bool(logged), f"12. {what}: refused in the log "
                            f"({logged[0].split(' ', 2)[2][:170] if logged else 'no line'})")
        w.liar.pump(0.3)
        if unreadable:
            # docs/protocol.md: a frame that cannot be read at all is logged and ends the link.
            check(w.liar.closed or w.liar.wait_closed(),
                  f"12. {what}: cannot be read, so the link ends (docs/protocol.md)")
        else:
            check(not w.liar.closed, f"12. {what}: the link goes on (docs/protocol.md: what breaks a rule is refused "
                                     f"and logged while the link goes on)"
                  + (" [tchatd closed the link]" if w.liar.closed else ""))
        if not w.liar.closed:
            w.settle()
        if name:
            check(not registered(w.port, name), f"12. {what}: no account {name} was made")
        w.still_serving(f"12. {what}")
        w.liar.close()
    after = modes_of(w.ann, "#lobby")
    now_members = [m for m in members(w.ann, "#lobby") if m != "mallory"]
    check(before == after and now_members == [m for m in lobby_members if m != "mallory"],
          f"12. #lobby's rules and local members are unchanged by all of them ({after}, {now_members})")


def kick_control(w):
    """PEER_KICK by a client of the sender's in the channel: documented trust (the receiver cannot check it is an operator)."""
    w.liar.send(peer_kick("#lobby", "bob", "mallory", "documented"))
    w.bob.pump(2, until=lambda fs: any(t == KICKED for t, _, _ in fs))
    kicked = [f for f in w.bob.events(KICKED) if Fields(f).str() == "#lobby"]
    check(bool(kicked), "control: PEER_KICK bob by mallory, now in #lobby: bob is kicked, as documented in Known limits "
                        "(so the frames above were well formed and refused for their content)")


def link_gone(w):
    w.liar.close()
    time.sleep(1.0)
    answer = w.mallop.request(KILL, string("watch") + string("x"))
    check(code(answer) == 315, f"11. with the link gone, mallop is no server operator any more (KILL gets {code(answer)})")
    w.still_serving("the link closed")


def run(w):
    setup(w)
    attack_1_later_copy_of_ann(w)
    attack_2_costly_hashes(w)
    attack_3_from_the_future(w)
    attack_4_drop_flood(w)
    attack_5_drop_before_creation(w)
    attack_6_unknown_channel(w)
    attack_7_older_rules(w)
    attack_9_kick_by_outsider(w)
    attack_8_kick_everyone(w)
    kick_control(w)
    attack_10_kill(w)
    attack_11_operators(w)
    link_gone(w)
    attack_12_malformed(w)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tchatd", default=".build/debug/tchatd")
    options = parser.parse_args()

    def out_of_time(*_):
        raise TimeoutError("the run took more than 55 s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(55)
    work = tempfile.mkdtemp(prefix="tchat-replication-attacks-")
    secret = os.urandom(16).hex().encode()
    secret_path = os.path.join(work, "link-secret")
    with open(os.open(secret_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
        f.write(secret + b"\n")
    server = Server(options.tchatd, work, secret_path)
    try:
        run(World(server, secret))
    except Exception as error:  # a crash of the script is a failure, and tchatd is still stopped below
        check(False, f"the run ended early: {type(error).__name__}: {error}")
    finally:
        signal.alarm(0)
        alive = server.process.poll() is None
        status = server.stop()
        check(alive and status == 0, f"tchatd was running at the end and stops cleanly (status {status})")
    if failures:
        print(f"log kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
