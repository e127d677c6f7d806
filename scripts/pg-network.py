#!/usr/bin/env python3
"""Three tchatd on one PostgreSQL (`--store`), linked, under load: what issue 15 promises when an owner dies, when
PostgreSQL goes away, and when a server's links are cut. Every server and the cluster are the script's own and
are stopped at the end; only loopback is used.

    scripts/pg-network.py crash   [--duration 60 --kill-every 10]   # SIGKILL the busiest channel's owner
    scripts/pg-network.py outage  [--duration 40 --outage 10]       # stop PostgreSQL mid-run
    scripts/pg-network.py linkcut [--duration 30 --cut 10]          # cut one server's links (iptables), not its DB
    scripts/pg-network.py all --short                               # the three, short, as CI runs them

30 clients, spread over the servers, in 10 channels (one member per server in each), each sends numbered
messages with a few unacknowledged at once and records every SENT (channel, id) and every MESSAGE it receives.
A client whose server went away reconnects and is counted as "dropped". Afterwards, from the database:

- every acknowledged message is stored exactly once, with the id it was acknowledged with;
- each channel's ids run 1, 2, 3... without a gap or a repeat, and no id was acknowledged twice;
- every client that stayed connected received every message of its channel from its first on, once, in id order;
- outage: nothing acknowledged while PostgreSQL was down, acknowledgements again afterwards;
- linkcut: the cut server's clients got every message, each within 1 s of its numbering (measured).

The link cut runs the cut server as `nobody` and rejects its TCP traffic except its client port and PostgreSQL
(an iptables chain of its own, removed at the end); it needs root and iptables.
Exit status 0 when everything holds.
"""

import argparse
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tchatwire import hello, join, send, split_frames, error_code, sent_id  # noqa: E402
from pgcluster import PgCluster, free_port  # noqa: E402

OK, ERROR, SENT, MESSAGE, PING = 0x80, 0x81, 0x83, 0x84, 0x01
CHAIN = "TCHAT_CUT"


def read_string(fields, offset):
    (length,) = struct.unpack_from(">H", fields, offset)
    return fields[offset + 2:offset + 2 + length].decode(), offset + 2 + length


def parse_message(fields):
    """(channel, id, time in ms, from, body) of a MESSAGE frame."""
    channel, offset = read_string(fields, 0)
    mid, mtime = struct.unpack_from(">QQ", fields, offset)
    sender, offset = read_string(fields, offset + 16)
    (length,) = struct.unpack_from(">I", fields, offset + 1)
    body = fields[offset + 5:offset + 5 + length].decode()
    return channel, mid, mtime, sender, body


class Server:
    def __init__(self, index, tchatd, store, secret, work, as_nobody=False):
        self.index = index
        self.name = f"s{index}"
        self.tchatd = tchatd
        self.store = store
        self.client_port = free_port()
        self.peer_port = free_port()
        self.data = os.path.join(work, self.name)
        self.secret = secret
        self.as_nobody = as_nobody
        self.log = os.path.join(work, f"{self.name}.log")
        self.peers = []
        self.process = None
        self.kills = 0
        if as_nobody:
            os.makedirs(self.data, exist_ok=True)
            os.chmod(self.data, 0o700)
            shutil.chown(self.data, "nobody", "nogroup")
            own = os.path.join(work, f"{self.name}-secret")
            shutil.copy(secret, own)
            shutil.chown(own, "nobody", "nogroup")
            os.chmod(own, 0o600)
            self.secret = own

    def start(self):
        args = [self.tchatd, "--name", self.name, "--listen", f"127.0.0.1:{self.client_port}",
                "--peer-listen", f"127.0.0.1:{self.peer_port}", "--data-dir", self.data, "--store", self.store,
                "--link-secret", self.secret, "--rate", "0", "--max-per-ip", "0", "--connect-rate", "0",
                "--create-rate", "0", "--no-redirect", "--heartbeat", "0.5", "--log-level", "notice"]
        for peer in self.peers:
            args += ["--peer", f"127.0.0.1:{peer.peer_port}"]
        if self.as_nobody:
            args = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + args
        log = open(self.log, "a")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                        text=True, env=dict(os.environ, TCHAT_TEST_RUN="pg-network"))
        line = self.process.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError(f"{self.name} did not start: {line!r}; see {self.log}")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Client(threading.Thread):
    """Sends `c<index> <n>` to its channel with up to 4 unacknowledged, about `rate` a second."""

    def __init__(self, index, server, channel, stop, rate):
        super().__init__(daemon=True)
        self.index = index
        self.server = server
        self.channel = channel
        self.stop = stop
        self.quiet = threading.Event()
        self.rate = rate
        self.acked = []  # (id, body, receive time)
        self.errors = []  # (code, text, time)
        self.sessions = []  # per connection: [(id, body, numbered at (s), received at (s))]
        self.dropped = False
        self.next = 1

    def run(self):
        while not self.stop.is_set():
            try:
                self.session()
            except OSError:
                pass
            if not self.stop.is_set():
                self.dropped = True
                time.sleep(0.2)

    def session(self):
        import socket
        sock = socket.create_connection(("127.0.0.1", self.server.client_port), timeout=2)
        try:
            sock.settimeout(0.05)
            sock.sendall(hello(f"c{self.index}"))
            sock.sendall(join(self.channel, 2))
            received = []
            self.sessions.append(received)
            pending = {}
            rid = 10
            buffer = b""
            joined = False
            interval = 1.0 / self.rate
            next_send = time.monotonic()
            while not self.stop.is_set():
                now = time.monotonic()
                if joined and len(pending) < 4 and now >= next_send and not self.quiet.is_set():
                    body = f"c{self.index} {self.next}"
                    self.next += 1
                    sock.sendall(send(self.channel, body, rid))
                    pending[rid] = body
                    rid += 1
                    next_send = now + interval * random.uniform(0.5, 1.5)
                try:
                    data = sock.recv(262144)
                except TimeoutError:
                    continue
                if not data:
                    return
                frames, buffer = split_frames(buffer + data)
                for ftype, request, fields in frames:
                    if ftype == OK and request == 2:
                        joined = True
                    elif ftype == SENT and request in pending:
                        self.acked.append((sent_id(fields), pending.pop(request), time.time()))
                    elif ftype == ERROR:
                        code = error_code(fields)
                        self.errors.append((code, fields[4:].decode(errors="replace"), time.time()))
                        pending.pop(request, None)
                        if request == 2:
                            return
                    elif ftype == MESSAGE:
                        channel, mid, mtime, _, body = parse_message(fields)
                        if channel.lower() == self.channel:
                            received.append((mid, body, mtime / 1000, time.time()))
                    elif ftype == PING:
                        sock.sendall(struct.pack(">IBI", 5 + len(fields), 0x02, 0) + fields)
        finally:
            sock.close()


class Network:
    def __init__(self, options, nobody_index=None):
        self.work = tempfile.mkdtemp(prefix="tchat-pgnet-")
        os.chmod(self.work, 0o755)
        self.pg = PgCluster(fsync=True).create()
        self.secret = os.path.join(self.work, "link-secret")
        with open(self.secret, "w") as f:
            f.write(f"pg-network-{random.getrandbits(64):x}\n")
        os.chmod(self.secret, 0o600)
        self.servers = [Server(i, options.tchatd, self.pg.address, self.secret, self.work, i == nobody_index)
                        for i in range(3)]
        for i, server in enumerate(self.servers):
            server.peers = self.servers[:i]
        for server in self.servers:
            server.start()
        time.sleep(1.5)  # links up
        self.stop = threading.Event()
        channels = [f"#room{c}" for c in range(10)]
        self.clients = [Client(k, self.servers[k % 3], channels[k % 10], self.stop, options.rate) for k in range(30)]
        for client in self.clients:
            client.start()

    def finish(self):
        """Stops sending, lets what was sent arrive everywhere, then disconnects."""
        for client in self.clients:
            client.quiet.set()
        time.sleep(3)
        self.stop.set()
        for client in self.clients:
            client.join(timeout=5)

    def close(self):
        self.stop.set()
        for server in self.servers:
            server.stop()
        self.pg.destroy()
        if not os.environ.get("TCHAT_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print("  kept", self.work)

    def stored(self):
        rows = self.pg.psql("SELECT channel, id, body FROM messages ORDER BY channel, id").splitlines()
        stored = {}
        for row in rows:
            channel, mid, body = row.split("|", 2)
            stored.setdefault(channel, []).append((int(mid), body))
        return stored


def check(network, label):
    """The checks every scenario shares; returns (problems, figures)."""
    problems = []
    stored = network.stored()
    by_body = {}
    for channel, rows in stored.items():
        ids = [mid for mid, _ in rows]
        if ids != list(range(1, len(ids) + 1)):
            problems.append(f"{channel}: ids are not 1..{len(ids)} without gaps")
        for mid, body in rows:
            by_body.setdefault((channel, body), []).append(mid)
    acked = 0
    for client in network.clients:
        ids = [mid for mid, _, _ in client.acked]
        if len(ids) != len(set(ids)):
            problems.append(f"c{client.index}: an id acknowledged twice")
        for mid, body, _ in client.acked:
            acked += 1
            found = by_body.get((client.channel, body), [])
            if found != [mid]:
                problems.append(f"c{client.index}: acknowledged {body!r} as {mid}, stored as {found}")
    # Two clients of one channel must never hear the same id for different messages.
    acked_ids = {}
    for client in network.clients:
        for mid, body, _ in client.acked:
            other = acked_ids.setdefault((client.channel, mid), body)
            if other != body:
                problems.append(f"{client.channel}: id {mid} acknowledged for {other!r} and {body!r}")
    # Every connection, while it lasted, got every message of its channel from its first on, once, in id order;
    # one that lasted to the end got them up to the channel's last.
    stayed = [c for c in network.clients if not c.dropped]
    sessions = complete = 0
    for client in network.clients:
        rows = stored.get(client.channel, [])
        for number, session in enumerate(client.sessions):
            got = [(mid, body) for mid, body, _, _ in session]
            if not got:
                continue
            sessions += 1
            last = number == len(client.sessions) - 1
            upper = rows[-1][0] if last and rows else got[-1][0]
            expected = [row for row in rows if got[0][0] <= row[0] <= upper]
            if got != expected:
                missing = len(set(expected) - set(got))
                problems.append(f"c{client.index} ({client.channel}), connection {number + 1}: received {len(got)} "
                                f"messages from id {got[0][0]}, the store has {len(expected)} ({missing} missing, "
                                "order or repeats differ)")
            else:
                complete += 1
    for client in stayed:
        if not any(client.sessions):
            problems.append(f"c{client.index} stayed connected and received nothing")
    errors = sum(len(c.errors) for c in network.clients)
    figures = (f"{label}: {sum(len(r) for r in stored.values())} messages stored in {len(stored)} channels, "
               f"{acked} acknowledged, {errors} refused (retryable); {len(stayed)} of 30 clients stayed connected; "
               f"{complete} of {sessions} connections received every message of their channel in order")
    return problems, figures


def crash(options):
    network = Network(options)
    try:
        started = time.time()
        while time.time() - started < options.duration - 2:
            time.sleep(min(options.kill_every, max(0.1, options.duration - 2 - (time.time() - started))))
            if time.time() - started >= options.duration - 2:
                break
            owner = network.pg.psql(
                "SELECT l.owner_name FROM channel_leases l JOIN channels c ON c.key = l.channel "
                "ORDER BY c.last_id DESC LIMIT 1").strip()
            victim = next((s for s in network.servers if s.name == owner), None)
            if victim is None:
                continue
            victim.kill()
            print(f"  {time.time() - started:5.1f} s: SIGKILL {victim.name} (owner of the busiest channel), "
                  "restarted", flush=True)
            victim.start()
        time.sleep(2)
        network.finish()
        time.sleep(1)
        problems, figures = check(network, "crash")
        kills = sum(s.kills for s in network.servers)
        print(f"{figures}; {kills} kills")
        if kills == 0:
            problems.append("no server was killed")
        return problems
    finally:
        network.close()


def outage(options):
    network = Network(options)
    try:
        time.sleep(options.duration / 3)
        network.pg.stop_server()
        down = time.time()
        print(f"  PostgreSQL stopped for {options.outage} s", flush=True)
        time.sleep(options.outage)
        network.pg.start_server()
        up = time.time()
        time.sleep(options.duration - options.duration / 3 - options.outage)
        network.finish()
        time.sleep(1)
        problems, figures = check(network, "outage")
        acks = [t for c in network.clients for _, _, t in c.acked]
        during = [t for t in acks if down + 0.5 < t < up]
        after = [t for t in acks if t > up]
        refused = [t for c in network.clients for _, _, t in c.errors if down <= t <= up + 2]
        print(f"{figures}; during the outage: {len(during)} acknowledged, {len(refused)} refused; "
              f"afterwards: {len(after)} acknowledged, the first {min(after) - up:.1f} s after PostgreSQL was back"
              if after else f"{figures}; nothing acknowledged after the outage")
        if during:
            problems.append(f"{len(during)} messages acknowledged while PostgreSQL was down")
        if not after:
            problems.append("sending did not resume after the outage")
        return problems
    finally:
        network.close()


def iptables(*args):
    subprocess.run(["iptables", "-w", *args], check=True)


def linkcut(options):
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return ["linkcut needs root and iptables"]
    network = Network(options, nobody_index=2)
    cut = network.servers[2]
    try:
        time.sleep(options.duration / 3)
        iptables("-N", CHAIN)
        iptables("-I", "OUTPUT", "-j", CHAIN)
        port = str(network.pg.port)
        # The cut server runs as nobody (as does PostgreSQL): its client port and the database stay reachable,
        # every other TCP of its is refused, and nobody may reach its peer port.
        iptables("-A", CHAIN, "-p", "tcp", "--sport", port, "-j", "RETURN")
        iptables("-A", CHAIN, "-p", "tcp", "--dport", port, "-j", "RETURN")
        iptables("-A", CHAIN, "-p", "tcp", "--sport", str(cut.client_port), "-j", "RETURN")
        iptables("-A", CHAIN, "-p", "tcp", "--dport", str(cut.peer_port), "-j", "REJECT", "--reject-with",
                 "tcp-reset")
        iptables("-A", CHAIN, "-p", "tcp", "-m", "owner", "--uid-owner", "nobody", "-j", "REJECT",
                 "--reject-with", "tcp-reset")
        start = time.time()
        print(f"  {cut.name}'s links cut for {options.cut} s (PostgreSQL still reachable)", flush=True)
        time.sleep(options.cut)
        end = time.time()
        iptables("-D", "OUTPUT", "-j", CHAIN)
        iptables("-F", CHAIN)
        iptables("-X", CHAIN)
        time.sleep(options.duration - options.duration / 3 - options.cut)
        network.finish()
        time.sleep(1)
        problems, figures = check(network, "linkcut")
        mine = [c for c in network.clients if c.server is cut]
        delays = sorted(received - numbered for c in mine for session in c.sessions
                        for _, body, numbered, received in session
                        if start + 3 < received < end and not body.startswith(tuple(f"c{o.index} " for o in mine)))
        if not delays:
            problems.append("the cut server's clients received nothing from the others during the cut")
        else:
            p50 = delays[len(delays) // 2] * 1000
            p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
            print(f"{figures}; during the cut, {cut.name}'s clients got {len(delays)} messages sent on the other "
                  f"servers: delay after numbering p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {delays[-1] * 1000:.0f} ms")
            if delays[-1] > 1.0:
                problems.append(f"a message took {delays[-1]:.2f} s to reach the cut server's clients")
        if any(c.dropped for c in mine):
            problems.append("a client of the cut server was disconnected")
        return problems
    finally:
        subprocess.run(["iptables", "-w", "-D", "OUTPUT", "-j", CHAIN], stderr=subprocess.DEVNULL)
        subprocess.run(["iptables", "-w", "-F", CHAIN], stderr=subprocess.DEVNULL)
        subprocess.run(["iptables", "-w", "-X", CHAIN], stderr=subprocess.DEVNULL)
        network.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["crash", "outage", "linkcut", "all"])
    parser.add_argument("--tchatd", default=".build/release/tchatd")
    parser.add_argument("--duration", type=float)
    parser.add_argument("--kill-every", type=float, default=10)
    parser.add_argument("--outage", type=float, default=10)
    parser.add_argument("--cut", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20, help="messages a second per client")
    parser.add_argument("--short", action="store_true", help="CI's lengths: 20 s runs, a kill every 5 s")
    options = parser.parse_args()
    if options.short:
        options.kill_every = 5
    scenarios = ["crash", "outage", "linkcut"] if options.scenario == "all" else [options.scenario]
    lengths = {"crash": 20 if options.short else 60, "outage": 25 if options.short else 40,
               "linkcut": 25 if options.short else 30}
    failed = False
    for scenario in scenarios:
        run = argparse.Namespace(**vars(options))
        run.duration = options.duration or lengths[scenario]
        print(f"{scenario}: {run.duration:.0f} s", flush=True)
        problems = {"crash": crash, "outage": outage, "linkcut": linkcut}[scenario](run)
        for problem in problems[:20]:
            print(f"  FAIL {problem}")
        print(f"{scenario}: {'FAIL' if problems else 'PASS'}", flush=True)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
