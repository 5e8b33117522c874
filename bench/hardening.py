#!/usr/bin/env python3
"""The scenarios of issue 11 (items 1-3), measured on one server binary.

    python3 bench/hardening.py target/release/result-aggregation-server [--db /tmp/ras-400k.db]

Builds (once, kept at --db) a database with 400,000 distinct failed versions: 800 reports of
500 failures each, posted over HTTP as a learner's script would (8 address-hours at the
default limit; the server runs with --rate-limit off to take them at once). Then, on a copy:

  exports    /view/?export=json: size and time; peak RSS during 12 concurrent exports, and
             RSS after; /healthz latency while 4 clients request /view/ in a loop; RSS while
             12 clients request an export and never read it, and whether their connections
             are closed within 60 s
  query      a 57 KB query of 11,395 distinct keys on /view/: server CPU per request, and
             /healthz latency while 8 clients send it in a loop
  slow body  the server under `ulimit -n 256`; 300 connections that POST with
             Content-Length: 200000 and then send one byte a second: /healthz latency, what
             the slow ones get, and "Too many open files" lines in the log

And issue 20's (item 6), on an empty database:

  headers    1,000 connections (from 250 loopback addresses, 4 each) that each send 384 KB of
             request headers without ending them, then wait: peak RSS, what each one gets
  idle       10,000 sockets from one address that connect and send nothing: how long
             /healthz and a report from other addresses take while they are open

Standard library only. Traffic goes to 127.0.0.1 only, every loop is bounded in count and time.
"""

import argparse
import http.client
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPORTS = 800
FAILURES_PER_REPORT = 500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The binary on a free loopback port, its log kept in a file."""

    def __init__(self, binary, db, nofile=None, extra=()):
        self.port = free_port()
        self.log_path = db + ".log"
        self.log = open(self.log_path, "w")

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        env = dict(os.environ, RUST_LOG="info")
        self.process = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--db", db, "--rate-limit", "off",
             *extra],
            stderr=self.log, preexec_fn=limit, env=env)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if self.get("/healthz", timeout=5)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not start")

    def get(self, path, timeout=120, method="GET", body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def timed(self, path, timeout=120):
        started = time.perf_counter()
        try:
            status, body = self.get(path, timeout=timeout)
        except OSError as e:
            return None, 0, time.perf_counter() - started, str(e)
        return status, len(body), time.perf_counter() - started, ""

    def memory(self, field):
        """VmRSS or VmHWM (peak) in MiB."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        with open(self.log_path, errors="replace") as log:
            return log.read()


def build(binary, db):
    """800 reports of 500 failures with versions never seen twice."""
    server = Server(binary, db)
    started = time.time()
    for report in range(REPORTS):
        body = json.dumps({
            "user_system_info": {"system": "Linux", "distribution_name": "Ubuntu",
                                 "distribution_version": "22.04", "python_version": "3.10.12",
                                 "workshop_id": f"2026-01-{report % 28 + 1:02d}-bench"},
            "successful_installs": [],
            "failed_installs": [
                {"name": f"package-{i % 40}", "version": f"{report}.{i}",
                 "error_description": "too old"}
                for i in range(FAILURES_PER_REPORT)],
        })
        status, answer = server.get("/installation_data/", method="POST", body=body,
                                    headers={"Content-Type": "application/json"})
        if status != 200:
            raise SystemExit(f"report {report}: {status} {answer[:200]!r}")
    server.stop()
    print(f"built {db}: {REPORTS * FAILURES_PER_REPORT} failed versions "
          f"in {time.time() - started:.0f} s")


def in_parallel(count, work):
    results = [None] * count

    def run(i):
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return threads, results


def health_latencies(server, seconds, while_running):
    """/healthz latencies (s) while `while_running()` holds, at most `seconds`."""
    latencies = []
    deadline = time.time() + seconds
    while time.time() < deadline and while_running():
        status, _, took, error = server.timed("/healthz", timeout=60)
        latencies.append(took if status == 200 else float("inf"))
        time.sleep(0.1)
    return latencies


def describe(latencies):
    finite = [l for l in latencies if l != float("inf")]
    failed = len(latencies) - len(finite)
    if not finite:
        return f"no answer ({failed} failed)"
    return (f"median {statistics.median(finite) * 1000:.0f} ms, max {max(finite) * 1000:.0f} ms"
            + (f", {failed} failed" if failed else "") + f" ({len(latencies)} probes)")


def exports(binary, db):
    server = Server(binary, db)
    status, size, took, _ = server.timed("/view/?export=json")
    print(f"exports: /view/?export=json: {status}, {size / 1e6:.2f} MB in {took:.2f} s")
    base_peak = server.memory("VmHWM")
    threads, results = in_parallel(12, lambda _: server.timed("/view/?export=json"))
    for t in threads:
        t.join()
    statuses = sorted({r[0] for r in results})
    print(f"exports: 12 concurrent: statuses {statuses}, slowest {max(r[2] for r in results):.2f} s, "
          f"peak RSS {server.memory('VmHWM'):.0f} MiB (before them {base_peak:.0f} MiB)")
    time.sleep(2)
    print(f"exports: RSS 2 s after them: {server.memory('VmRSS'):.0f} MiB")

    stop = threading.Event()

    def view_loop(_):
        count = 0
        while not stop.is_set() and count < 200:
            server.timed("/view/")
            count += 1
        return count

    threads, results = in_parallel(4, view_loop)
    time.sleep(0.5)
    latencies = health_latencies(server, 15, lambda: True)
    stop.set()
    for t in threads:
        t.join()
    print(f"exports: /healthz while 4 clients load /view/ ({sum(results)} pages): "
          f"{describe(latencies)}; peak RSS so far {server.memory('VmHWM'):.0f} MiB")

    # Clients that ask for an export and never read it.
    sockets = []
    for _ in range(12):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /view/?export=json HTTP/1.1\r\nHost: bench\r\n\r\n")
        sockets.append(s)
    time.sleep(5)
    print(f"exports: RSS with 12 clients not reading an export: {server.memory('VmRSS'):.0f} MiB "
          f"(peak {server.memory('VmHWM'):.0f} MiB)")
    # Read what the kernel buffered, and wait for the server to end each connection.
    import selectors
    waiting = selectors.DefaultSelector()
    for s in sockets:
        s.setblocking(False)
        waiting.register(s, selectors.EVENT_READ)
    deadline = time.time() + 60
    closed = 0
    while closed < len(sockets) and time.time() < deadline:
        for key, _ in waiting.select(timeout=max(0.1, deadline - time.time())):
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                waiting.unregister(key.fileobj)
                closed += 1
    print(f"exports: of 12 non-reading clients, {closed} connections ended by the server "
          f"within 60 s; RSS then {server.memory('VmRSS'):.0f} MiB, "
          f"peak of the whole run {server.memory('VmHWM'):.0f} MiB")
    for s in sockets:
        s.close()
    server.stop()


def query(binary, db):
    server = Server(binary, db)
    # Keys without values (`0&1&...`): with `=` the URI passes the 64 KiB that hyper accepts.
    keys = "&".join(str(i) for i in range(11_395))
    assert len(keys) > 57_000, len(keys)
    for target in ("/view/detail/", "/view/"):
        cpu, statuses = {}, set()
        for query in ("", keys):
            before = server.cpu_seconds()
            for _ in range(20):
                status, _ = server.get(target + "?" + query)
                # 431 from builds that cap the request head at 16 KiB (issue 20).
                assert status in (200, 303, 431), status
                statuses.add(status)
            cpu[query] = (server.cpu_seconds() - before) / 20 * 1000
        print(f"query: {target} with 11,395 keys ({len(keys) / 1000:.0f} KB): "
              f"{cpu[keys]:.1f} ms CPU a request ({cpu['']:.1f} ms without them), "
              f"statuses {sorted(statuses)}")
    stop = threading.Event()

    def loop(_):
        count = 0
        while not stop.is_set() and count < 2000:
            server.timed("/view/detail/?" + keys)
            count += 1
        return count

    threads, results = in_parallel(8, loop)
    time.sleep(0.5)
    latencies = health_latencies(server, 10, lambda: True)
    stop.set()
    for t in threads:
        t.join()
    print(f"query: /healthz while 8 clients send it ({sum(results)} requests): "
          f"{describe(latencies)}")
    server.stop()


def slow_bodies(binary, db):
    server = Server(binary, db, nofile=256)
    sockets = []
    for _ in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"POST /installation_data/ HTTP/1.1\r\nHost: bench\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n{")
            sockets.append(s)
        except OSError:
            pass
    started = time.time()
    stop = threading.Event()
    answers = {}

    def trickle():
        # One byte a second on every socket that is still open, for at most 40 s.
        while not stop.is_set() and time.time() - started < 40:
            for s in list(sockets):
                try:
                    s.send(b" ")
                except OSError:
                    sockets.remove(s)
                    answers.setdefault("closed", 0)
                    answers["closed"] += 1
            stop.wait(1)

    trickler = threading.Thread(target=trickle)
    trickler.start()
    latencies = health_latencies(server, 30, lambda: True)
    stop.set()
    trickler.join()
    for s in sockets:
        s.setblocking(False)
        try:
            head = s.recv(200)
            key = head.split(b"\r\n")[0].decode(errors="replace") if head else "closed"
        except BlockingIOError:
            key = "still open, no answer"
        except OSError:
            key = "reset"
        answers[key] = answers.get(key, 0) + 1
        s.close()
    log = server.stop()
    print(f"slow body: /healthz with 300 slow bodies under ulimit -n 256: {describe(latencies)}")
    print(f"slow body: the slow connections after 30 s: {answers}")
    print(f"slow body: 'Too many open files' in the log: {log.count('Too many open files')} lines")


def peak_while(server, seconds, done):
    """Peak VmRSS (MiB) sampled every 50 ms for at most `seconds`, or until done() holds."""
    peak = 0.0
    deadline = time.time() + seconds
    while time.time() < deadline and not done():
        peak = max(peak, server.memory("VmRSS"))
        time.sleep(0.05)
    return max(peak, server.memory("VmRSS"))


def bound_from(address, port, timeout=None):
    """A socket from the loopback `address`, connected to the server."""
    s = socket.socket()
    s.bind((address, 0))
    if timeout is not None:
        s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def big_headers(binary, db):
    import selectors
    server = Server(binary, db)
    head = (b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"
            + b"".join(b"X-Pad-%02d: " % i + b"a" * 7990 + b"\r\n" for i in range(48)))
    assert len(head) >= 384_000, len(head)
    before = server.memory("VmRSS")
    sockets = []
    for i in range(1000):
        s = bound_from(f"127.0.0.{2 + i % 250}", server.port, timeout=10)
        s.setblocking(False)
        sockets.append(s)
    pending = {s: memoryview(head) for s in sockets}
    answers = {s: b"" for s in sockets}
    closed = {}
    started = time.time()
    selector = selectors.DefaultSelector()
    for s in sockets:
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    peak = before

    def settle(s, outcome):
        closed[s] = (outcome, time.time() - started)
        selector.unregister(s)

    # Send every head (the headers never end), read whatever comes back, for 30 s at most.
    while len(closed) < len(sockets) and time.time() - started < 30:
        for key, events in selector.select(timeout=0.05):
            s = key.fileobj
            try:
                if events & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if not data:
                        settle(s, "closed")
                        continue
                    answers[s] += data
                if events & selectors.EVENT_WRITE and s in pending:
                    sent = s.send(pending[s][:65536])
                    pending[s] = pending[s][sent:]
                    if not pending[s]:
                        del pending[s]
                        selector.modify(s, selectors.EVENT_READ)
            except OSError as e:
                settle(s, f"error {e.errno}")
        peak = max(peak, server.memory("VmRSS"))
    outcomes = {}
    for s in sockets:
        status = answers[s].split(b"\r\n", 1)[0].decode(errors="replace") or "no answer"
        how, at = closed.get(s, ("still open", None))
        key = f"{status}, {how}"
        outcomes.setdefault(key, []).append(at)
        s.close()
    hwm = server.memory("VmHWM")
    server.stop()
    print(f"headers: 1,000 connections of 384 KB of headers: RSS before {before:.0f} MiB, "
          f"peak sampled {peak:.0f} MiB, VmHWM {hwm:.0f} MiB")
    for key, times in sorted(outcomes.items()):
        ended = [t for t in times if t is not None]
        when = (f", ended after {statistics.median(ended):.1f} s (median)" if ended else "")
        print(f"headers:   {len(times)} x {key}{when}")


def idle_sockets(binary, db):
    server = Server(binary, db)
    sockets = []
    for _ in range(10_000):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", server.port))
        sockets.append(s)
    time.sleep(2)
    body = json.dumps({"user_system_info": {"system": "Linux"}, "successful_installs": [],
                       "failed_installs": []}).encode()
    probes = [
        ("127.0.0.3", b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"),
        ("127.0.0.4", b"POST /installation_data/ HTTP/1.1\r\nHost: bench\r\n"
                      b"Content-Type: application/json\r\nConnection: close\r\n"
                      + b"Content-Length: %d\r\n\r\n" % len(body) + body),
    ]

    def probe(i):
        # Five tries, half a second apart, /healthz and a report at the same time.
        address, request = probes[i]
        times = []
        for _ in range(5):
            started = time.perf_counter()
            try:
                s = bound_from(address, server.port, timeout=60)
                s.sendall(request)
                ok = s.recv(100).startswith(b"HTTP/1.1 200")
                s.close()
            except OSError:
                ok = False
            times.append(time.perf_counter() - started if ok else float("inf"))
            time.sleep(0.5)
        return times

    threads, results = in_parallel(2, probe)
    for t in threads:
        t.join()
    health, reports = results
    refused = 0
    for s in sockets:
        try:
            if s.recv(100).startswith(b"HTTP/1.1 503"):
                refused += 1
        except OSError:
            pass
        s.close()
    log = server.stop()
    print(f"idle: /healthz from another address while 10,000 sockets of one are open: "
          f"{describe(health)}, the first {health[0] * 1000:.0f} ms")
    print(f"idle: a report from another address meanwhile: {describe(reports)}, "
          f"the first {reports[0] * 1000:.0f} ms")
    print(f"idle: of the 10,000, {refused} were answered 503 at once; "
          f"{log.count('max-connections-per-address')} log lines about it")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "ras-400k.db"))
    parser.add_argument("--only", choices=["exports", "query", "slow", "headers", "idle"],
                        action="append")
    args = parser.parse_args()
    scenarios = [("exports", exports, True), ("query", query, True), ("slow", slow_bodies, True),
                 ("headers", big_headers, False), ("idle", idle_sockets, False)]
    chosen = [s for s in scenarios if not args.only or s[0] in args.only]
    if any(needs_db for _, _, needs_db in chosen) and not os.path.exists(args.db):
        build(args.binary, args.db)
    work = tempfile.mkdtemp()
    try:
        for name, run, needs_db in chosen:
            copy = os.path.join(work, f"{name}.db")
            if needs_db:
                shutil.copy(args.db, copy)
            run(args.binary, copy)
            sys.stdout.flush()
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
