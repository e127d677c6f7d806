"""The few tchat frames the Python scripts need (docs/protocol.md has them all), and a socket that reads them;
shared by soak.py, crash.py and the attack scripts."""

import hashlib
import hmac
import os
import socket
import struct
import threading
import time


def frame(ftype, rid, fields=b""):
    return struct.pack(">IBI", 5 + len(fields), ftype, rid) + fields


def string(text):
    b = text.encode()
    return struct.pack(">H", len(b)) + b


def hello(nick, rid=1):
    return frame(0x10, rid, struct.pack(">H", 1) + string(nick) + string("script") + string("1")
                 + struct.pack(">I", os.getpid()) + string("localhost") + b"\x00")


def join(channel, rid):
    return frame(0x13, rid, string(channel) + struct.pack(">H", 0))


def send(channel, text, rid):
    body = text.encode()
    return frame(0x15, rid, string(channel) + b"\x00" + struct.pack(">I", len(body)) + body)


def pong(token_bytes):
    return frame(0x02, 0, token_bytes)


def quit(reason="bye", rid=9):
    return frame(0x21, rid, string(reason))


def split_frames(buffer):
    """Cuts complete frames off the front of `buffer`: returns ([(type, request id, fields)], rest)."""
    frames = []
    offset = 0
    view = memoryview(buffer)
    while len(buffer) - offset >= 4:
        (length,) = struct.unpack_from(">I", buffer, offset)
        if len(buffer) - offset < 4 + length:
            break
        start = offset + 4
        frames.append((buffer[start], struct.unpack_from(">I", buffer, start + 1)[0],
                       bytes(view[start + 5:start + length])))
        offset = start + length
    return frames, bytes(view[offset:])


def error_code(fields):
    return struct.unpack(">H", fields[:2])[0]


def sent_id(fields):
    """The message id in a SENT frame's fields."""
    return struct.unpack(">Q", fields[:8])[0]


class FrameSocket:
    """A loopback socket with a frame reader: client or peer port, the same framing. Sends may come from a second
    thread (a link's heartbeat); reading is the owner's."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.frames = []
        self.closed = False
        self.lock = threading.Lock()

    def send(self, data):
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def pump(self, seconds=0.2, until=None):
        """Reads for at most `seconds`, or until `until(frames)` holds; returns whether it does."""
        deadline = time.time() + seconds
        while time.time() < deadline and not self.closed:
            if until and until(self.frames):
                return True
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(262144)
            except socket.timeout:
                continue
            except OSError:
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            self.buffer += data
            got, self.buffer = split_frames(self.buffer)
            self.frames += got
        return bool(until and until(self.frames))

    def wait_closed(self, seconds=5):
        self.pump(seconds, until=lambda _: self.closed)
        return self.closed

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def link_handshake(conn, secret, server_id):
    """The dialling side of docs/protocol.md's link handshake on `conn` (a FrameSocket on a peer port), up to but
    not including SERVER_HELLO: sends LINK_CHALLENGE, answers the listener's with LINK_PROOF and checks the
    listener's proof. Returns the listener's server id, or None when any step fails."""
    challenge, proof = 0x50, 0x51
    nonce = os.urandom(32)
    conn.send(frame(challenge, 0, struct.pack(">HQ", 1, server_id) + nonce))
    if not conn.pump(3, until=lambda fs: any(t == challenge for t, _, _ in fs)):
        return None
    fields = next(f for t, _, f in conn.frames if t == challenge)
    listener_id, listener_nonce = struct.unpack(">Q", fields[2:10])[0], fields[10:42]
    transcript = (b"tchat link proof v1" + b"\x01" + struct.pack(">QQ", server_id, listener_id) + nonce
                  + listener_nonce + b"\x00" * 32)
    conn.send(frame(proof, 0, hmac.new(secret, transcript, hashlib.sha256).digest()))
    if not conn.pump(3, until=lambda fs: any(t == proof for t, _, _ in fs)):
        return None
    theirs = next(f for t, _, f in conn.frames if t == proof)
    expected = hmac.new(secret, b"tchat link proof v1\x02" + transcript[20:], hashlib.sha256).digest()
    return listener_id if hmac.compare_digest(theirs, expected) else None
