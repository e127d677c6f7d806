#!/usr/bin/env python3
"""Acknowledged messages per second into PostgreSQL across three linked tchatd (`--store`), and acknowledgement
latency at a fixed rate: issue 15's throughput figures. Everything runs on loopback, bounded in time; the cluster
(a private one, `synchronous_commit` on, fsync on) and the servers are the script's own and stopped at the end.

    bench/pg-throughput.py [--tchatd .build/release/tchatd] [--seconds 15] [--rate 5000]

Two phases against the same network:
- throughput: each server's senders keep a window of SENDs unanswered, each to channels its own server numbers
  (as a team's channels mostly live where their members do); acknowledged messages/s are counted over the phase;
- latency: the same senders paced to --rate messages/s in all; the time from writing a SEND to reading its SENT
  is recorded (p50, p99, max).
The load comes from `tchat-bench acks` (one process, one thread; --bench python: one Python asyncio process per
server instead, about three times the CPU); the machine's cores are shared by the three servers, PostgreSQL and
the load.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from tchatwire import hello, send, split_frames  # noqa: E402
from pgcluster import PgCluster, free_port  # noqa: E402

OK, ERROR, SENT, PING = 0x80, 0x81, 0x83, 0x01


async def sender(port, nick, channel, window, deadline, rate, body, result):
    """One client: a reader task books each SENT as it arrives; the writer keeps `window` unanswered (throughput)
    or sends on a schedule of `rate` a second (latency), never busy-waiting."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(hello(nick))
    buffer = b""
    while True:
        data = await reader.read(65536)
        frames, buffer = split_frames(buffer + data)
        if any(f[0] == OK and f[1] == 1 for f in frames):
            break
    inflight = {}
    room = asyncio.Event()
    room.set()

    async def read():
        nonlocal buffer
        while True:
            data = await reader.read(262144)
            if not data:
                return
            got = time.monotonic()
            frames, buffer = split_frames(buffer + data)
            for ftype, request, fields in frames:
                if ftype == SENT:
                    started = inflight.pop(request, None)
                    if started is not None and got <= deadline:
                        result["acked"] += 1
                        result["latencies"].append(got - started)
                elif ftype == ERROR:
                    if inflight.pop(request, None) is not None:
                        result["errors"] += 1
                elif ftype == PING:
                    writer.write(bytes([0, 0, 0, 5 + len(fields), 0x02, 0, 0, 0, 0]) + fields)
            if len(inflight) < window:
                room.set()

    reading = asyncio.create_task(read())
    rid = 10
    # Paced senders start at random points of their period, so their sends do not arrive in bursts together.
    start = time.monotonic() + (random.uniform(0, 1 / rate) if rate else 0)
    result["first"] = min(result.get("first", start), start)
    sent = 0
    while time.monotonic() < deadline:
        if rate:
            due = start + sent / rate
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if len(inflight) >= window:
                await asyncio.sleep(0.001)
                continue
            count = 1
        else:
            await room.wait()
            count = window - len(inflight)
            if count <= 0:
                room.clear()
                continue
        # Timed from when it was due, not when it went: a sender held back (its window full, its loop late) does
        # not hide the wait.
        now = start + sent / rate if rate else time.monotonic()
        chunk = []
        for _ in range(count):
            chunk.append(send(channel, body, rid))
            inflight[rid] = now
            rid += 1
        sent += count
        writer.write(b"".join(chunk))
        if not rate:
            room.clear()
    await asyncio.sleep(0.5)  # the last answers
    reading.cancel()
    writer.close()


def load(port, index, senders, servers, window, seconds, rate, queue):
    async def run():
        result = {"acked": 0, "errors": 0, "latencies": [], "began": time.monotonic()}
        deadline = result["began"] + seconds
        body = "x" * 64
        per_sender = rate / (senders * servers) if rate else 0
        await asyncio.gather(*[
            sender(port, f"s{index}x{k}", f"#s{index}-{k % 10}", window, deadline, per_sender, body, result)
            for k in range(senders)])
        queue.put(result)
    asyncio.run(run())


def phase(servers, senders, window, seconds, rate):
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=load, args=(port, i, senders, len(servers), window, seconds, rate, queue))
               for i, port in enumerate(servers)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    acked = sum(r["acked"] for r in results)
    # Acknowledgements counted until the deadline, over the time from the first send to it (connecting excluded).
    sending = seconds - (min(r["first"] for r in results) - min(r["began"] for r in results))
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "acked": acked, "errors": sum(r["errors"] for r in results), "seconds": sending,
        "acked_per_second": acked / sending, "elapsed": elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
        "max_ms": latencies[-1] * 1000 if latencies else None,
    }


def bench_phase(bench, servers, senders, window, seconds, rate):
    """The same phase, its load from `tchat-bench acks` (one process, one thread, Swift) instead of Python."""
    args = [bench, "acks", "--senders", str(senders), "--window", str(window), "--seconds", str(seconds),
            "--rate", str(rate), "--json"]
    for port in servers:
        args += ["--server", f"127.0.0.1:{port}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"tchat-bench acks failed: {done.stderr.strip()} {done.stdout.strip()}")
    figures = json.loads(done.stdout)
    return {
        "acked": int(figures["acknowledged"]), "errors": int(figures["refused"]), "seconds": seconds,
        "acked_per_second": figures["acknowledged_per_second"], "p50_ms": figures["latency_p50"],
        "p99_ms": figures["latency_p99"], "max_ms": figures["latency_max"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tchatd", default=".build/release/tchatd")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--senders", type=int, default=20, help="per server")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--bench", default=".build/release/tchat-bench",
                        help="the tchat-bench whose `acks` makes the load; 'python' for the Python load")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="tchat-pgbench-")
    pg = PgCluster(fsync=True).create()
    commit = pg.psql("SHOW synchronous_commit").strip()
    secret = os.path.join(work, "secret")
    with open(secret, "w") as f:
        f.write(os.urandom(16).hex() + "\n")
    os.chmod(secret, 0o600)
    processes = []
    ports = []
    peers = []
    try:
        for i in range(3):
            client, peer = free_port(), free_port()
            args = [options.tchatd, "--name", f"s{i}", "--listen", f"127.0.0.1:{client}", "--peer-listen",
                    f"127.0.0.1:{peer}", "--data-dir", os.path.join(work, f"s{i}"), "--store", pg.address,
                    "--link-secret", secret, "--rate", "0", "--max-per-ip", "0", "--connect-rate", "0",
                    "--create-rate", "0", "--no-redirect", "--log-level", os.environ.get("TCHAT_LOG_LEVEL", "warning")]
            for other in peers:
                args += ["--peer", f"127.0.0.1:{other}"]
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(os.path.join(work, f"s{i}.log"), "w"),
                                       text=True)
            if not process.stdout.readline().startswith("listening"):
                raise RuntimeError(f"s{i} did not start")
            processes.append(process)
            ports.append(client)
            peers.append(peer)
        time.sleep(1.5)
        run = phase if options.bench == "python" else lambda *a: bench_phase(options.bench, *a)
        run(ports, options.senders, options.window, 3, 0)  # warm-up: leases taken, connections open
        time.sleep(3)  # and its backlog gone
        # The paced phase first, so a saturated phase's backlog cannot spill into it.
        latency = run(ports, options.senders, options.window, options.seconds, options.rate)
        throughput = run(ports, options.senders, options.window, options.seconds, 0)
        stored = int(pg.psql("SELECT count(*) FROM messages").strip())
        report = {"load": "python" if options.bench == "python" else "tchat-bench acks", "synchronous_commit": commit, "servers": 3, "senders": options.senders * 3,
                  "window": options.window, "throughput": throughput, "latency_at_rate": options.rate,
                  "latency": latency, "stored": stored}
        if options.json:
            print(json.dumps(report))
        else:
            print(f"synchronous_commit={commit}, 3 servers, {options.senders * 3} senders, window {options.window}, "
                  f"load from {report['load']}")
            print(f"throughput: {throughput['acked_per_second']:,.0f} acknowledged messages/s "
                  f"({throughput['acked']:,} in {options.seconds:.0f} s, {throughput['errors']} refused), "
                  f"ack p50 {throughput['p50_ms']:.1f} ms, p99 {throughput['p99_ms']:.1f} ms")
            print(f"at {options.rate:,.0f} messages/s: {latency['acked_per_second']:,.0f} acknowledged/s, "
                  f"ack p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms, max {latency['max_ms']:.1f} ms, "
                  f"{latency['errors']} refused")
            print(f"stored in all: {stored:,}")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        pg.destroy()
        if os.environ.get("TCHAT_KEEP"):
            print("kept", work)
        else:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
