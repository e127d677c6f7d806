#!/usr/bin/env python3
"""Soak: moderate load on one tchatd for a while, with clients joining and leaving; its memory and open files over time.

    scripts/soak.py --minutes 30                  # the issue's soak (release build of tchatd)
    scripts/soak.py --minutes 1 --tchatd .build/debug/tchatd

Load, all on loopback: --steady clients stay connected and each sends a message every second to one of a few
channels; every second --churn more connect, join, send a few messages and quit (or just drop the connection,
one in three), each living about ten seconds. Every 10 s the server's VmRSS and open file descriptors are
sampled (/proc/PID/status, /proc/PID/fd). At the end it prints the samples and a verdict: flat means the last
third of the run is no higher than the middle third by more than 10% (memory) or 20 descriptors (files).
Exit status 0 when flat and no client saw an error, 1 otherwise.
"""

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import frame, hello, join, send, quit, split_frames, error_code  # noqa: E402


class Client:
    """A non-blocking client: writes what it is told, reads and checks what comes back, answers pings."""

    def __init__(self, port, nick, channel, lifetime):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.nick = nick
        self.channel = channel
        self.buffer = b""
        self.errors = []
        self.next_id = 10
        self.ends_at = time.time() + lifetime if lifetime else None
        self.out = hello(nick) + join(channel, 2)

    def say(self, text):
        self.out += send(self.channel, text, self.next_id)
        self.next_id += 1

    def flush(self):
        if self.out:
            try:
                sent = self.sock.send(self.out)
                self.out = self.out[sent:]
            except BlockingIOError:
                pass

    def read(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except ConnectionError:
            return False
        if not data:
            return False
        frames, self.buffer = split_frames(self.buffer + data)
        for ftype, _, fields in frames:
            if ftype == 0x01:  # PING: answer with the same token
                self.out += frame(0x02, 0, fields[:8])
            elif ftype == 0x81:
                self.errors.append(error_code(fields))
        return True

    def close(self, politely):
        try:
            if politely:
                self.sock.setblocking(True)
                self.sock.sendall(quit("soak done"))
            self.sock.close()
        except OSError:
            pass


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--steady", type=int, default=50)
    parser.add_argument("--churn", type=int, default=5, help="new short-lived clients per second")
    parser.add_argument("--tchatd", default=".build/release/tchatd")
    parser.add_argument("--fsync", default="interval")
    options = parser.parse_args()

    data = tempfile.mkdtemp(prefix="tchat-soak-")
    server = subprocess.Popen(
        [options.tchatd, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--data-dir", data,
         "--fsync", options.fsync, "--history-limit", "2000", "--max-per-ip", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    port = int(line.split()[1].rsplit(":", 1)[1])
    channels = [f"#soak{n}" for n in range(8)]
    steady = [Client(port, f"steady{n}", channels[n % len(channels)], None) for n in range(options.steady)]
    churning = []
    errors = []
    counter = 0
    sent = 0
    started = time.time()
    end = started + options.minutes * 60
    next_tick = started
    next_sample = started
    samples = []
    print(f"soak: tchatd pid {server.pid} on port {port}, {options.minutes} min, {options.steady} steady clients, "
          f"{options.churn} new clients/s", flush=True)
    while time.time() < end:
        now = time.time()
        if now >= next_tick:
            next_tick += 1
            for client in steady:
                client.say(f"{client.nick} at {now:.0f}")
                sent += 1
            for _ in range(options.churn):
                counter += 1
                # People come back: nicks are reused from a pool (a server remembers every nick it has seen).
                churning.append(
                    Client(port, f"c{counter % 1000}", random.choice(channels), random.uniform(5, 15)))
            for client in churning:
                if random.random() < 0.3:
                    client.say(f"{client.nick} passing by")
                    sent += 1
            leaving = [c for c in churning if c.ends_at <= now]
            for client in leaving:
                errors += client.errors
                client.close(politely=random.random() < 0.66)
            churning = [c for c in churning if c.ends_at > now]
        if now >= next_sample:
            next_sample += 10
            rss, fds = sample(server.pid)
            samples.append((now - started, rss, fds, len(steady) + len(churning)))
            print(f"{now - started:7.0f} s  rss {rss:8d} kB  fds {fds:5d}  clients {len(steady) + len(churning):5d}"
                  f"  messages sent {sent}", flush=True)
        for client in steady + churning:
            client.flush()
            if not client.read():
                errors.append(f"{client.nick}: connection closed by the server")
                if client in steady:
                    steady.remove(client)
                else:
                    churning.remove(client)
        time.sleep(0.01)
    for client in steady + churning:
        errors += client.errors
        client.close(politely=True)
    time.sleep(1)
    rss, fds = sample(server.pid)
    samples.append((time.time() - started, rss, fds, 0))
    server.terminate()
    server.wait(timeout=30)

    third = max(len(samples) // 3, 1)
    middle = samples[third:2 * third] or samples
    last = samples[2 * third:-1] or samples
    middle_rss = max(r for _, r, _, _ in middle)
    last_rss = max(r for _, r, _, _ in last)
    middle_fds = max(f for _, _, f, _ in middle)
    last_fds = max(f for _, _, f, _ in last)
    flat = last_rss <= middle_rss * 1.10 and last_fds <= middle_fds + 20
    print(f"memory: middle third max {middle_rss} kB, last third max {last_rss} kB; "
          f"files: middle {middle_fds}, last {last_fds}; after everyone left: {rss} kB, {fds} files")
    print(f"{sent} messages sent, {counter} short-lived clients, {len(errors)} errors {sorted(set(map(str, errors)))[:5]}")
    print("verdict:", "flat" if flat else "GROWING")
    subprocess.run(["rm", "-rf", data])
    return 0 if flat and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
