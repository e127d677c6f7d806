#!/usr/bin/env python3
"""Kills tchatd with SIGKILL again and again under continuous load, and checks that nothing acknowledged was lost.

    scripts/crash.py                                  # 20 kills, --fsync always, release build
    scripts/crash.py --kills 3 --tchatd .build/debug/tchatd          # the short CI variant
    scripts/crash.py --fsync interval                 # at most the last interval may be missing

Writers on loopback send numbered messages to a few channels, many unacknowledged at once, and note every SENT
(its message id) they get back. Between kills the server runs 0.3-1.2 s; it is started again on the same data
directory and port, and the writers reconnect. At the end (after a clean stop) every channel file is read back:

- every line is a whole JSON message and ids increase strictly (no torn or repeated line, no id used twice);
- no id was acknowledged for two different messages;
- no history file was found damaged and moved aside, and channels.json and nicks.json parse;
- with --fsync always, every acknowledged message is in its file with the id it was acknowledged with;
  with --fsync interval, an acknowledged message may be missing only if it was acknowledged less than
  1.5 s before a kill.

Exit status 0 when all of that holds.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import hello, send, split_frames, error_code, sent_id  # noqa: E402


class Writer(threading.Thread):
    """Sends `body n` to its channel with a window of unacknowledged messages; records (id, body, time) of acks."""

    def __init__(self, index, port, channel, stop):
        super().__init__(daemon=True)
        self.index, self.port, self.channel, self.stop = index, port, channel, stop
        self.acked = []  # (id, body, monotonic time of the ack)
        self.errors = []
        self.next_seq = 0

    def run(self):
        session = 0
        while not self.stop.is_set():
            session += 1
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                self.session(sock, f"w{self.index}s{session}")
            except OSError:
                pass
            finally:
                sock.close()

    def session(self, sock, nick):
        sock.settimeout(2)
        sock.sendall(hello(nick))
        pending = {}  # request id -> body
        buffer = b""
        rid = 10
        welcomed = False
        while not self.stop.is_set():
            while welcomed and len(pending) < 16:
                body = f"{self.channel} writer {self.index} message {self.next_seq}"
                self.next_seq += 1
                sock.sendall(send(self.channel, body, rid))
                pending[rid] = body
                rid += 1
            data = sock.recv(65536)
            if not data:
                return
            frames, buffer = split_frames(buffer + data)
            for ftype, request, fields in frames:
                if request == 1 and ftype == 0x80:
                    welcomed = True
                elif ftype == 0x83 and request in pending:  # SENT: stored as --fsync says
                    self.acked.append((sent_id(fields), pending.pop(request), time.monotonic()))
                elif ftype == 0x81:
                    code = error_code(fields)
                    if code not in (205, 204):  # shutting down / idle: the kill's doing
                        self.errors.append(code)
                    pending.pop(request, None)


def start_server(tchatd, data, port, fsync):
    process = subprocess.Popen(
        [tchatd, "--listen", f"127.0.0.1:{port}", "--peer-listen", "127.0.0.1:0", "--data-dir", data,
         "--fsync", fsync, "--history-limit", "1000000", "--rate", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("listening"):
        raise RuntimeError(f"tchatd did not start: {line} {process.stderr.read()[-2000:]}")
    return process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--fsync", default="always", choices=["always", "interval"])
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--tchatd", default=".build/release/tchatd")
    options = parser.parse_args()

    data = tempfile.mkdtemp(prefix="tchat-crash-")
    port = free_port()
    server = start_server(options.tchatd, data, port, options.fsync)
    stop = threading.Event()
    channels = ["#crash0", "#crash1", "#crash2"]
    writers = [Writer(n, port, channels[n % len(channels)], stop) for n in range(options.writers)]
    for writer in writers:
        writer.start()
    kills = []
    stderr_logs = []
    try:
        for kill in range(options.kills):
            time.sleep(random.uniform(0.3, 1.2))
            server.send_signal(signal.SIGKILL)
            kills.append(time.monotonic())
            server.wait()
            stderr_logs.append(server.stderr.read())
            acked = sum(len(w.acked) for w in writers)
            print(f"kill {kill + 1}/{options.kills}: {acked} messages acknowledged so far", flush=True)
            for attempt in range(50):
                try:
                    server = start_server(options.tchatd, data, port, options.fsync)
                    break
                except RuntimeError:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=5)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        stderr_logs.append(server.stderr.read())

    problems = []
    stored = {}
    for channel in channels:
        path = os.path.join(data, "channels", channel[1:] + ".jsonl")
        lines = open(path, encoding="utf-8").read().split("\n") if os.path.exists(path) else [""]
        if lines[-1] != "":
            problems.append(f"{path} does not end with a whole line")
        last = 0
        for number, line in enumerate(lines[:-1], 1):
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(f"{path} line {number} is not JSON: {line[:80]!r}")
                continue
            if record["id"] <= last:
                problems.append(f"{path} line {number}: id {record['id']} after {last}")
            last = record["id"]
            stored[(channel, record["id"])] = record["body"]
    damaged = [name for name in os.listdir(os.path.join(data, "channels")) if ".damaged-" in name]
    if damaged:
        problems.append(f"history files were found damaged: {damaged}")
    for name in ("channels.json", "nicks.json"):
        try:
            json.load(open(os.path.join(data, name)))
        except (OSError, ValueError) as error:
            problems.append(f"{name} does not parse: {error}")
    # Their journals: every whole line parses (an unfinished last one is the server's to cut at start-up).
    for name in ("channels.journal.jsonl", "nicks.journal.jsonl"):
        path = os.path.join(data, name)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as journal:
            for number, line in enumerate(journal.read().split(b"\n")[:-1], 1):
                try:
                    json.loads(line)
                except ValueError as error:
                    problems.append(f"{name} line {number} does not parse: {error}")

    acked_ids = {}
    for writer in writers:
        for message_id, body, _ in writer.acked:
            other = acked_ids.setdefault((writer.channel, message_id), body)
            if other != body:
                problems.append(f"{writer.channel} id {message_id} was acknowledged twice: {other!r} and {body!r}")
    acked_total = 0
    missing = []
    for writer in writers:
        problems += [f"writer {writer.index} got error {code}" for code in writer.errors]
        for message_id, body, when in writer.acked:
            acked_total += 1
            if stored.get((writer.channel, message_id)) != body:
                missing.append((writer.channel, message_id, body, when))
    if options.fsync == "always":
        problems += [f"acknowledged but not stored: {c} id {i} {b!r}" for c, i, b, _ in missing[:10]]
    else:
        for channel, message_id, body, when in missing:
            if not any(0 <= kill - when <= 1.5 for kill in kills):
                problems.append(f"acknowledged {channel} id {message_id} long before a kill, not stored")
    repeated = sum(1 for log in stderr_logs for line in log.splitlines() if "damaged" in line)
    if repeated:
        problems.append(f"{repeated} log lines about damaged files")

    print(f"{options.kills} SIGKILLs with --fsync {options.fsync}: {acked_total} messages acknowledged, "
          f"{len(stored)} stored, {len(missing)} acknowledged ones missing"
          + (" (all within the last interval before a kill)" if missing and options.fsync == "interval" else ""))
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    print("verdict:", "nothing acknowledged was lost, no file is damaged, no id repeats" if not problems else "FAILED")
    subprocess.run(["rm", "-rf", data])
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
