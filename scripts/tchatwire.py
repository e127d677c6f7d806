"""The few tchat frames the Python scripts need (docs/protocol.md has them all), shared by soak.py and crash.py."""

import os
import struct


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
