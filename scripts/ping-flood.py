#!/usr/bin/env python3
"""One client sends a million PINGs as fast as it can while another keeps chatting; what each of them gets.

    scripts/ping-flood.py [--pings 1000000] [--tchatd .build/release/tchatd]

Starts tchatd with its default limits (--rate 100, --burst 400) on a free loopback port. The flooder writes all
its PINGs and reads every answer: each must be a PONG or a rate-limited refusal (error 209), none dropped. The
bystander measures its round trip every 100 ms meanwhile. Exit status 0 when every answer the flooder read was a PONG
or a refusal and the bystander's worst round trip stayed under a second. A flooder that reads its answers more
slowly than they come is cut off at --max-queue, like any client that stops reading.
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import frame, hello, split_frames, error_code  # noqa: E402


def connect(port, nick):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(hello(nick))
    buffer = b""
    while True:
        frames, buffer = split_frames(buffer + sock.recv(65536))
        if any(t == 0x80 and r == 1 for t, r, _ in frames):
            return sock, buffer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pings", type=int, default=1_000_000)
    parser.add_argument("--tchatd", default=".build/release/tchatd")
    options = parser.parse_args()
    data = tempfile.mkdtemp(prefix="tchat-pings-")
    server = subprocess.Popen([options.tchatd, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0",
                               "--data-dir", data, "--log-level", "warning"], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split()[1].rsplit(":", 1)[1])
    bystander, _ = connect(port, "bystander")
    flooder, leftover = connect(port, "flooder")
    ping = frame(0x01, 7, struct.pack(">Q", 42))
    worst = [0.0]
    done = threading.Event()

    def measure():
        token = 0
        while not done.is_set():
            token += 1
            started = time.monotonic()
            bystander.sendall(frame(0x01, 100 + token, struct.pack(">Q", token)))
            buffer = b""
            while not any(t == 0x02 and r == 100 + token for t, r, _ in split_frames(buffer)[0]):
                buffer += bystander.recv(65536)
            worst[0] = max(worst[0], time.monotonic() - started)
            time.sleep(0.1)

    threading.Thread(target=measure, daemon=True).start()
    def flood():
        try:
            flooder.sendall(ping * options.pings)
        except OSError:
            pass  # cut off

    writer = threading.Thread(target=flood, daemon=True)
    started = time.monotonic()
    writer.start()
    pongs = refused = other = 0
    buffer = leftover
    closed = False
    while pongs + refused + other < options.pings:
        try:
            data = flooder.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            closed = True
            break
        frames, buffer = split_frames(buffer + data)
        for ftype, _, fields in frames:
            if ftype == 0x02:
                pongs += 1
            elif ftype == 0x81 and error_code(fields) == 209:
                refused += 1
            else:
                other += 1
    elapsed = time.monotonic() - started
    done.set()
    server.terminate()
    server.wait()
    subprocess.run(["rm", "-rf", data])
    print(f"{options.pings} pings in {elapsed:.1f} s: {pongs} answered, {refused} refused (rate-limited), "
          f"{other} other answers, flooder {'CUT OFF' if closed else 'still connected'}; "
          f"bystander's worst round trip {worst[0] * 1000:.1f} ms")
    # A flooder that reads its answers more slowly than the server makes them is cut off at --max-queue (4 MiB),
    # as any client that stops reading is; what it did read must be only PONGs and refusals.
    ok = other == 0 and pongs > 0 and refused > 0 and worst[0] < 1.0
    if closed:
        print("the flooder fell behind reading its answers and was cut off at --max-queue, as designed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
