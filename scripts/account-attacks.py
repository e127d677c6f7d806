#!/usr/bin/env python3
"""Every attack of issue 12's "Why", against a real tchatd process, by a client written from docs/protocol.md alone.

    scripts/account-attacks.py --tchatd .build/debug/tchatd

ann registers, sets a welcome text, keeps an invite-only secret channel with a message in it and runs a public one.
Then eve, a stranger on the client port, tries what issue 12 found possible: take ann's nick (and look-alikes of a
connected one), read or plant welcome texts, read channels she is not in, find the secret one, learn where people
connect from and when they were last seen, run a channel she does not own, and guess passwords. Each must be refused
with its documented error. Last, ann logs in again (SCRAM-SHA-256, written here from RFC 5802 as a second
implementation) and finds everything as she left it, and no password appears in the server's log or files (but
accounts.json, which holds hashes). Exit status 0 when everything held; each check prints one line.
"""

import argparse
import base64
import hashlib
import hmac
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import FrameSocket, frame, hello, join, send, split_frames, string, error_code  # noqa: E402

OK, ERROR, WELCOME, MESSAGE, CLIENT_INFO, CHANNEL_INFO, TEXT, AUTH_DATA, LOGGED_IN = (
    0x80, 0x81, 0x82, 0x84, 0x90, 0x91, 0x94, 0x96, 0x97)
PASSWORD = "ann-has-a-long-password-42"
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


class Client(FrameSocket):
    def __init__(self, port):
        super().__init__(port)
        self.rid = 100

    def request(self, ftype, fields=b"", seconds=5):
        """Sends one request; returns the frames answering it, up to its OK or ERROR."""
        self.rid += 1
        rid = self.rid
        self.sock.sendall(frame(ftype, rid, fields))
        return self.answer(rid, seconds)

    def answer(self, rid, seconds=5):
        self.pump(seconds, until=lambda frames: any(r == rid and t in (OK, ERROR) for t, r, _ in frames))
        return [(t, f) for t, r, f in self.frames if r == rid]

    def hello(self, nick):
        self.sock.sendall(hello(nick, rid=1))
        return self.answer(1)


def code(frames):
    return error_code(frames[-1][1]) if frames and frames[-1][0] == ERROR else None


def message_of(frames):
    f = frames[-1][1] if frames else b""
    return f[4:].decode(errors="replace") if frames and frames[-1][0] == ERROR else ""


def strings(fields, count):
    out, offset = [], 0
    for _ in range(count):
        (length,) = struct.unpack_from(">H", fields, offset)
        out.append(fields[offset + 2:offset + 2 + length].decode())
        offset += 2 + length
    return out, offset


def scram_login(client, account, password):
    """RFC 5802 with SHA-256, as docs/protocol.md's LOGIN and LOGIN_CONTINUE carry it."""
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = f"n={account},r={nonce}"
    first = client.request(0x23, string("SCRAM-SHA-256") + string("n,," + bare))
    if not first or first[0][0] != AUTH_DATA:
        return first
    (server_first,), _ = strings(first[0][1], 1)
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth = f"{bare},{server_first},{without_proof}".encode()
    proof = bytes(a ^ b for a, b in zip(client_key, hmac.new(stored, auth, hashlib.sha256).digest()))
    final = client.request(0x24, string(without_proof + ",p=" + base64.b64encode(proof).decode()))
    if final and final[0][0] == AUTH_DATA:
        (server_final,), _ = strings(final[0][1], 1)
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        expected = base64.b64encode(hmac.new(server_key, auth, hashlib.sha256).digest()).decode()
        check(server_final == "v=" + expected, "the server proves it holds ann's keys (RFC 5802 server signature)")
    return final


def start(tchatd, data):
    server = subprocess.Popen(
        [tchatd, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--data-dir", data],
        stdout=subprocess.PIPE, stderr=open(os.path.join(data + ".log"), "ab"), text=True)
    line = server.stdout.readline()
    port = int(line.split("clients=")[1].split()[0].rsplit(":", 1)[1])
    return server, port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tchatd", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="tchat-account-attacks-")
    data = os.path.join(work, "data")
    server, port = start(args.tchatd, data)
    try:
        attack(port)
    finally:
        server.terminate()
        server.wait(10)
    log = open(data + ".log", errors="replace").read()
    leaked = [name for name in os.listdir(data) if os.path.isfile(os.path.join(data, name))
              and PASSWORD in open(os.path.join(data, name), errors="replace").read()]
    check(PASSWORD not in log and not leaked, f"no password in the server's log or data files ({leaked or 'none'})")
    mode = os.stat(os.path.join(data, "accounts.json")).st_mode & 0o777
    check(mode == 0o600, f"accounts.json is mode 600 ({oct(mode)})")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failed" if failures else "all held")
    sys.exit(1 if failures else 0)


def attack(port):
    ann = Client(port)
    check(ann.hello("ann")[-1][0] == OK, "ann connects")
    registered = ann.request(0x22, string(PASSWORD))
    check([t for t, _ in registered] == [LOGGED_IN, OK], "ann registers her nick")
    check(ann.request(0x1E, struct.pack(">I", 17) + b"ann's own welcome")[-1][0] == OK, "ann sets a welcome text")
    ann.sock.sendall(join("#vault", 5))
    ann.answer(5)
    for change in ["+i", "+s"]:
        check(ann.request(0x27, string("#vault") + string(change))[-1][0] == OK, f"ann sets {change} on #vault")
    ann.sock.sendall(send("#vault", "the launch codes are 0000", 6))
    ann.answer(6)
    ann.sock.sendall(join("#lobby", 7))
    ann.answer(7)
    ann.sock.sendall(send("#lobby", "welcome to the lobby", 8))
    ann.answer(8)

    alice = Client(port)
    alice.hello("alice")

    # A registered nick, its look-alikes, and look-alikes of a connected one.
    for nick in ["ann", "ANN", "Ann"]:
        eve = Client(port)
        answer = eve.hello(nick)
        check(code(answer) == 308 and "registered" in message_of(answer), f"eve cannot take {nick} while ann is here")
        eve.close()
    for nick in ["aIice", "a1ice", "ALlCE", "a|ice"]:
        eve = Client(port)
        check(code(eve.hello(nick)) == 301, f"eve cannot take the look-alike {nick} beside alice")
        eve.close()
    ann.request(0x21, string("bye"))
    ann.close()
    time.sleep(0.2)
    eve = Client(port)
    answer = eve.hello("ann")
    check(code(answer) == 308, "eve cannot take ann once ann has left")
    eve.close()

    eve = Client(port)
    check(eve.hello("eve")[-1][0] == OK, "eve connects as herself")
    check(code(eve.request(0x11, string("aNn"))) == 308, "eve cannot rename herself to aNn")
    carol = Client(port)
    carol.hello("carol")
    check(code(carol.request(0x16, string("ann") + b"\x00" + struct.pack(">I", 4) + b"psst")) == 305,
          "a direct message to the absent ann reaches nobody (no one else holds her nick)")

    # Welcome texts.
    check(code(eve.request(0x1F)) == 218, "eve cannot read a welcome text without an account")
    check(code(eve.request(0x1E, struct.pack(">I", 7) + b"planted")) == 218, "eve cannot plant a welcome text")

    # Channels she is not in, and the secret one.
    listing = eve.request(0x17)
    names = [strings(f, 1)[0][0] for t, f in listing if t == CHANNEL_INFO]
    check("#vault" not in names and "#lobby" in names, f"LIST_CHANNELS hides the secret #vault ({names})")
    check(code(eve.request(0x20, string("#vault") + struct.pack(">QH", 0, 100))) == 303,
          "HISTORY #vault: no such channel, for a non-member")
    check(code(eve.request(0x20, string("#lobby") + struct.pack(">QH", 0, 100))) == 304,
          "HISTORY #lobby without joining: not-on-channel")
    check(code(eve.request(0x19, string("#vault"))) == 303, "LIST_CLIENTS #vault: no such channel")
    check(code(eve.request(0x27, string("#vault") + string(""))) == 303, "CHANNEL_MODE #vault: no such channel")
    check(code(eve.request(0x13, string("#vault") + struct.pack(">H", 100))) == 311, "JOIN #vault: invite-only")
    check(code(eve.request(0x15, string("#vault") + b"\x00" + struct.pack(">I", 2) + b"hi")) == 303,
          "SEND #vault from outside: no such channel")
    check(not any(t == MESSAGE for t, _, _ in eve.frames), "eve received no message of #vault")

    # Where people are, and when they were last seen.
    whois = eve.request(0x1A, string("alice"))
    info = next((f for t, f in whois if t == CLIENT_INFO), b"")
    (nick, address), _ = strings(info, 2)
    check(nick == "alice" and address == "", "WHOIS alice shows no address to eve")
    check(code(eve.request(0x1A, string("ann"))) == 305 and "last" not in message_of(eve.request(0x1A, string("ann"))),
          "WHOIS on the absent ann says nothing of when she was last seen")

    # A channel she does not run.
    eve.sock.sendall(join("#lobby", 9))
    eve.answer(9)
    check(code(eve.request(0x27, string("#lobby") + string("+o eve"))) in (305, 304, 314, 218),
          "eve cannot make herself an operator of #lobby (ann made it)")
    check(code(eve.request(0x27, string("#lobby") + string("+m"))) == 314, "eve cannot set +m on #lobby")
    check(code(eve.request(0x28, string("#lobby") + string("alice") + string(""))) in (314, 304),
          "eve cannot kick in #lobby")

    # Passwords.
    wrong = scram_login(eve, "ann", "not-the-password")
    unknown = scram_login(eve, "nobody", "not-the-password")
    check(code(wrong) == 214 and code(unknown) == 214 and message_of(wrong) == message_of(unknown),
          "a wrong password and an unknown account get the same error 214")
    check(code(eve.request(0x23, string("PLAIN") + string("\0ann\0" + PASSWORD))) == 217,
          "PLAIN over plaintext is refused (217)")
    for _ in range(20):
        last = scram_login(eve, "ann", "guess")
    check(code(last) == 215, "after a run of failures eve's attempts are refused unchecked (215)")
    eve.close()

    # ann again, from another address: everything as she left it.
    ann = Client(port)
    ann.sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0))
    logged = scram_login(ann, "ann", PASSWORD)
    check(any(t == LOGGED_IN for t, _ in logged), "ann logs in with SCRAM-SHA-256 from another address")
    welcome = ann.hello("ann")
    check(welcome and welcome[0][0] == WELCOME and b"ann's own welcome" in welcome[0][1],
          "ann takes her nick and gets her own welcome text")
    joined = ann.request(0x13, string("#vault") + struct.pack(">H", 10))
    check(any(t == MESSAGE and b"launch codes" in f for t, f in joined), "ann reads #vault's history")
    ann.close()
    alice.close()
    carol.close()


if __name__ == "__main__":
    main()
