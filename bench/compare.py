#!/usr/bin/env python3
"""Runs tchat-bench against tchatd, InspIRCd and ngircd back to back and prints a table of medians.

Called by bench/compare, which installs and builds what this needs. Every run starts the server fresh on a free
127.0.0.1 port with an empty state, so no run inherits memory or channels from the one before; the servers take
turns within each repeat, so a slow minute on the machine hits all three alike.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Connections set up at once by the load generator, per server: each its fastest. ngircd listens with a backlog of
# 10, so more at once means dropped SYNs and one-second retries; InspIRCd finishes registrations on a once-a-second
# timer, so it needs many at once to connect quickly.
CONNECTING = {"tchatd": 100, "tchatd-irc": 100, "tchatd-before": 100, "InspIRCd": 1000, "ngircd": 8}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout} s")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_certificate(directory):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1: every server presents the same kind of key."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class Server:
    """One fresh server process on a free port, stopped on exit; with `tls`, that port speaks TLS only."""

    def __init__(self, name, bin_dir, tls=False):
        self.name = name
        self.bin_dir = os.path.abspath(bin_dir)  # the server runs in its own directory
        self.tls = tls
        # tchatd-irc is tchatd measured on its IRC port (--irc-listen), with the same IRC load as the IRC servers.
        self.protocol = "tchat" if name.startswith("tchatd") and name != "tchatd-irc" else "irc"

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix=f"compare-{self.name}-")
        self.port = free_port()
        log = open(os.path.join(self.dir, "output"), "w")
        cert, key = make_certificate(self.dir) if self.tls else ("", "")
        if self.name.startswith("tchatd"):
            listen = ["--listen", f"127.0.0.1:{self.port}"]
            if self.name == "tchatd-irc":
                listen = ["--listen", "127.0.0.1:0", "--irc-listen", f"127.0.0.1:{self.port}"]
            argv = [os.path.join(self.bin_dir, "tchatd"), "--data-dir", os.path.join(self.dir, "data")] + listen + [
                    "--peer-listen", "127.0.0.1:0",
                    "--max-clients", "60000", "--max-per-ip", "0", "--rate", "0", "--log-level", "warning"]
            if self.tls:
                argv += ["--tls-cert", cert, "--tls-key", key]
            # The fleet opens thousands of connections from a few loopback addresses at once, and the rooms make
            # many channels; a baseline built before these throttles existed has none to lift.
            help_text = subprocess.run([argv[0], "--help"], capture_output=True, text=True).stdout
            for flag in ["--connect-rate", "--create-rate"]:
                if flag in help_text:
                    argv += [flag, "0"]
        else:
            template = "inspircd.conf" if self.name == "InspIRCd" else "ngircd.conf"
            with open(os.path.join(HERE, template)) as f:
                config = f.read().replace("@DIR@", self.dir)
            if self.tls:
                # The TLS port is the measured one; the plaintext one is there because the servers want one.
                config = tls_config(self.name, config, self.port, free_port(), cert, key)
            config = config.replace("@PORT@", str(self.port))
            path = os.path.join(self.dir, template)
            with open(path, "w") as f:
                f.write(config)
            if self.name == "InspIRCd":
                argv = ["inspircd", f"--config={path}", "--nofork", "--runasroot"]
            else:
                argv = ["ngircd", "--config", path, "--nodaemon"]
        # In its own directory: a server that dumps core on the way out (InspIRCd 3.15 does, now and then, on
        # SIGTERM) leaves the file there, removed with the rest, not in the repository.
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=self.dir)
        wait_for_port(self.port, self.process)
        time.sleep(0.2)  # let the probe connection go before anything is measured
        return self

    def __exit__(self, *_):
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


def tls_config(name, config, tls_port, plain_port, cert, key):
    """Turns a plaintext configuration into one whose measured port speaks TLS (GnuTLS in both IRC servers)."""
    if name == "InspIRCd":
        return config.replace('type="clients">', f'type="clients" sslprofile="bench">') + f"""
<module name="ssl_gnutls">
<sslprofile name="bench" provider="gnutls" certfile="{cert}" keyfile="{key}" hash="sha256" requestclientcert="no"
            priority="NORMAL">
"""
    return config.replace("Ports = @PORT@", f"Ports = {plain_port}") + f"""
[SSL]
	CertFile = {cert}
	KeyFile = {key}
	Ports = @PORT@
"""


def stop_process(process):
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(template, directory, port):
    """An IRC server's configuration from bench/TEMPLATE, with @DIR@ and @PORT@ filled in; returns its path."""
    with open(os.path.join(HERE, template)) as f:
        config = f.read().replace("@DIR@", directory).replace("@PORT@", str(port))
    path = os.path.join(directory, template)
    with open(path, "w") as f:
        f.write(config)
    return path


def check_peer_settings(servers):
    """Checks, in each IRC server's own output, that the benchmark's settings took effect.

    Both servers accept a setting they cannot use and carry on with a default: InspIRCd 3.15 replaces a
    `netbuffersize` outside 1024..65534 with 10240 and says so only in its debug output, and ngircd sets a default
    user mode only if it may. A measurement with a setting silently dropped compares the wrong servers.
    """
    directory = tempfile.mkdtemp(prefix="compare-check-")
    try:
        if "InspIRCd" in servers:
            path = write_config("inspircd.conf", directory, free_port())
            # --debug prints the configuration warnings the file log never sees (it opens after the config is read).
            process = subprocess.Popen(["inspircd", f"--config={path}", "--nofork", "--runasroot", "--debug"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       text=True, errors="replace", cwd=directory)
            lines = []
            deadline = time.time() + 10
            try:
                for line in process.stdout:
                    lines.append(line)
                    if "is now running" in line or time.time() > deadline:
                        break
            finally:
                stop_process(process)
            warnings = [line.strip() for line in lines if "CONFIG: WARNING" in line]
            if warnings or not any("is now running" in line for line in lines):
                raise RuntimeError("InspIRCd did not take bench/inspircd.conf as written: "
                                   + ("; ".join(warnings) or "it never said it was running"))
            print("bench/compare: InspIRCd took bench/inspircd.conf without a configuration warning "
                  "(netbuffersize 65534 in range)", file=sys.stderr)
        if "ngircd" in servers:
            port = free_port()
            path = write_config("ngircd.conf", directory, port)
            process = subprocess.Popen(["ngircd", "--config", path, "--nodaemon"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=directory)
            try:
                wait_for_port(port, process)
                with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                    client.sendall(b"NICK modecheck\r\nUSER modecheck 0 * :check\r\nMODE modecheck\r\n")
                    answer = b""
                    deadline = time.time() + 5
                    while b" 221 " not in answer and time.time() < deadline:
                        chunk = client.recv(65536)
                        if not chunk:
                            break
                        answer += chunk
            finally:
                stop_process(process)
            modes = [line for line in answer.decode(errors="replace").splitlines() if " 221 " in line]
            if not modes or "F" not in modes[0].rsplit(" ", 1)[-1]:
                raise RuntimeError(f"ngircd did not give a new client user mode F (relaxed flood protection): {modes}")
            print(f"bench/compare: ngircd gives new clients user mode F ({modes[0].rsplit(' ', 1)[-1]})",
                  file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_bench(bin_dir, arguments, timeout):
    argv = [os.path.join(bin_dir, "tchat-bench")] + arguments + ["--json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()[-400:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def scenarios(quick):
    """(name, tchat-bench arguments, figures to report, bench timeout in seconds); `--tls` in the arguments makes
    the server speak TLS too."""
    scale = 10 if quick else 1
    traffic = [("deliveries_per_second", "deliveries/s", "higher"), ("latency_p99", "p99 latency (ms)", "lower"),
               ("server_cpu", "server CPU (s)", "lower"),
               ("server_cpu_per_message", "server CPU per message (µs)", "lower"),
               ("server_cpu_per_message_sending", "server CPU per message, sending only (µs)", "lower"),
               ("faults", "lost+duplicated+reordered", "lower")]
    return [
        ("fanout 100x1", ["fanout", "--receivers", "100", "--senders", "1", "--messages", str(20000 // scale),
                          "--window", "100", "--size", "64"], traffic, 120),
        ("fanout 100x1 TLS", ["fanout", "--receivers", "100", "--senders", "1", "--messages", str(20000 // scale),
                              "--window", "100", "--size", "64", "--tls"], traffic, 120),
        (f"fanout {500 // scale}x10", ["fanout", "--receivers", str(500 // scale), "--senders", "10",
                           "--messages", str(40000 // scale), "--window", "100", "--size", "64"], traffic, 180),
        (f"rooms {1000 // scale}/{200 // scale}", ["rooms", "--clients", str(1000 // scale), "--channels", str(200 // scale),
                            "--messages", str(50000 // scale), "--window", "10", "--size", "64"], traffic, 300),
        (f"rooms {5000 // scale}/{1000 // scale}", ["rooms", "--clients", str(5000 // scale),
                            "--channels", str(1000 // scale), "--messages", str(100000 // scale), "--window", "10",
                            "--size", "64"], traffic, 600),
        (f"idle {10000 // scale}", ["idle", "--clients", str(10000 // scale), "--channels", "100"],
         [("server_memory_per_client", "memory per client (bytes)", "lower"),
          ("connections_per_second", "connections/s", "higher")], 600),
    ]


def measure(bin_dir, server_name, arguments, timeout, baseline=None):
    server_bin = baseline if server_name == "tchatd-before" else bin_dir
    with Server(server_name, server_bin, tls="--tls" in arguments) as server:
        extra = ["--server", f"127.0.0.1:{server.port}", "--protocol", server.protocol,
                 "--connecting", str(CONNECTING[server_name]), "--timeout", str(timeout - 30)]
        # Idle reads the server's memory, fanout and rooms its CPU across the sending phase alone.
        extra += ["--server-pid", str(server.process.pid)]
        cpu_before = cpu_seconds(server.process.pid)
        report = run_bench(bin_dir, arguments + extra, timeout)
        report["server_cpu"] = cpu_seconds(server.process.pid) - cpu_before
        if report.get("messages_sent"):
            report["server_cpu_per_message"] = report["server_cpu"] * 1e6 / report["messages_sent"]
        report["faults"] = report.get("lost", 0) + report.get("duplicated", 0) + report.get("reordered", 0)
        return report


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True, help="directory holding tchatd and tchat-bench")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small counts and one repeat, to check the script")
    parser.add_argument("--servers", default="tchatd,tchatd-irc,InspIRCd,ngircd")
    parser.add_argument("--only", help="comma-separated scenario name prefixes to run (\"rooms,fanout 100x1\"); "
                                       "the history store is measured only when nothing is left out")
    parser.add_argument("--raw", help="also write every run's report here, as JSON")
    parser.add_argument("--baseline", help="a directory with an earlier tchatd: measured too (plaintext only), as "
                                           "'tchatd-before', so a change is compared with what it changed in one run")
    options = parser.parse_args()
    repeats = 1 if options.quick else options.repeats
    servers = options.servers.split(",")
    if options.baseline and "tchatd-before" not in servers:
        servers.insert(1, "tchatd-before")
    plan = scenarios(options.quick)
    if options.only:
        prefixes = [p.strip() for p in options.only.split(",")]
        plan = [entry for entry in plan if any(entry[0].startswith(p) for p in prefixes)]
    check_peer_settings(servers)
    results = {}  # (scenario, server) -> [report]
    history = []
    started = time.time()
    for repeat in range(repeats):
        for name, arguments, _, timeout in plan:
            for server in servers:
                if server == "tchatd-before" and "--tls" in arguments:
                    continue  # the earlier build may not speak TLS
                print(f"[{time.time() - started:6.0f} s] repeat {repeat + 1}/{repeats}: {name} on {server}",
                      file=sys.stderr, flush=True)
                try:
                    report = measure(options.bin, server, arguments, timeout, options.baseline)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    print(f"  failed: {error}", file=sys.stderr)
                    report = {"failed": str(error)}
                results.setdefault((name, server), []).append(report)
        if "tchatd" in servers and not options.only:
            print(f"[{time.time() - started:6.0f} s] repeat {repeat + 1}/{repeats}: history on tchatd",
                  file=sys.stderr, flush=True)
            stored = "100000" if options.quick else "1000000"
            messages = "20000" if options.quick else "200000"
            history.append(run_bench(options.bin, ["history", "--messages", messages, "--stored", stored], 600))

    def median(values):
        return statistics.median(values) if values else None

    def values_for(server, scenario):
        return results.get((scenario, server))

    def show(value):
        if value is None:
            return "failed"
        if value >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value else "0"

    print(f"# tchat-bench side by side — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(f"{os.cpu_count()} cores, {platform.platform()}; {repeats} repeat(s), medians; "
          f"ratio = tchatd ÷ the better peer (for figures where lower is better, below 1 means tchatd is ahead); "
          f"IRC ratio = tchatd-irc (tchatd's IRC port, the same IRC load as the peers) ÷ InspIRCd.")
    print()
    peers = [s for s in servers if not s.startswith("tchatd")]
    before = "tchatd-before" in servers
    irc = "tchatd-irc" in servers and "InspIRCd" in servers
    print("| scenario | figure | " + " | ".join(servers) + " | ratio |" + (" IRC ratio |" if irc else "")
          + (" vs before |" if before else ""))
    print("|---|---|" + "---|" * len(servers) + "---|" + ("---|" if irc else "") + ("---|" if before else ""))
    for name, _, figures, _ in plan:
        for key, label, better in figures:
            medians = {}
            for server in servers:
                values = [r[key] for r in results.get((name, server), []) if key in r]
                medians[server] = median(values)
            ratio = ""
            peer_values = [medians[p] for p in peers if medians.get(p) is not None]
            if key != "faults" and "tchatd" in servers and medians["tchatd"] is not None and peer_values:
                best = max(peer_values) if better == "higher" else min(peer_values)
                ratio = f"{medians['tchatd'] / best:.2f}×" if best else ""
            cells = " | ".join(show(medians[s]) if values_for(s, name) else "—" for s in servers)
            line = f"| {name} | {label} | {cells} | {ratio} |"
            if irc:
                ours, theirs = medians.get("tchatd-irc"), medians.get("InspIRCd")
                line += f" {ours / theirs:.2f}× |" if key != "faults" and ours is not None and theirs else " |"
            if before:
                earlier, now = medians.get("tchatd-before"), medians.get("tchatd")
                line += f" {now / earlier:.2f}× |" if key != "faults" and earlier and now is not None else " |"
            print(line)
    if history:
        print()
        print("| tchatd history store | median |")
        print("|---|---|")
        for key, label in [("appends_per_second_fsync_always", "appends/s, --fsync always"),
                           ("appends_per_second_fsync_interval", "appends/s, --fsync interval"),
                           ("appends_per_second_fsync_never", "appends/s, --fsync never"),
                           ("startup_time", f"start-up with {history[0].get('stored_messages', 0):,.0f} "
                                            "stored messages (s)")]:
            print(f"| {label} | {show(median([h[key] for h in history if key in h]))} |")
    failures = sum(1 for runs in results.values() for r in runs if "failed" in r)
    print()
    print(f"{failures} failed run(s); {time.time() - started:.0f} s in all.")
    if options.raw:
        with open(options.raw, "w") as f:
            json.dump({"runs": {f"{n} | {s}": r for (n, s), r in results.items()}, "history": history}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
