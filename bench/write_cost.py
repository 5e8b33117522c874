#!/usr/bin/env python3
"""What one report costs the server, for the reports that used to cost the most (issue 9).

1. Disk: reports of 500 distinct 200-character failures (the largest a client may send,
   about 219 KB of JSON each), each from a new learner; the database's growth per report,
   measured on the file after a clean shutdown (WAL folded back), as a multiple of the JSON.
2. A long history: one learner sends 100 attempts of 500 failures, then small reports that
   change `system_version`; each is sent at the same moment as another learner's small
   report; both latencies are timed (medians of ROUNDS).
3. Long texts (issue 20): reports of 240 failures, each with a distinct 1,000-character error
   text (about 246 KiB of JSON), each from a new learner: the growth per report as a
   multiple of the JSON; then every one of those learners is forgotten (`DELETE
   /installation_data/<key>/`, what `check.py --forget` sends): the error texts, packages and
   machine profiles left in the dictionaries, the file's and the WAL's bytes, and how many of
   the forgotten texts the file's bytes still hold.

Every 200 the server sends is durable (synchronous=FULL). Peak RSS is read from /proc.

    bench/write_cost.py target/release/result-aggregation-server [BASELINE_BINARY]

Traffic goes to 127.0.0.1 only.
"""
import http.client
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOSTILE_REPORTS = 10
HISTORY = 100
ROUNDS = 7
TEXT_REPORTS = 10
TEXT_FAILURES = 240


def post(port, body):
    """POSTs a report; returns (status, seconds, answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = json.dumps(body).encode()
    started = time.perf_counter()
    conn.request("POST", "/installation_data/", data, {"Content-Type": "application/json"})
    response = conn.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return response.status, elapsed, json.loads(answer)


class Server:
    def __init__(self, binary, db):
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--db", db, "--rate-limit", "off"],
            stderr=subprocess.PIPE, text=True, env=dict(os.environ, RUST_LOG="info"))
        for line in self.process.stderr:
            found = re.search(r"listening on http://127.0.0.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                break
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()

    def peak_rss_mib(self):
        with open("/proc/%d/status" % self.process.pid) as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) // 1024
        return 0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def system(version="#1 SMP"):
    return {"distribution_name": "Ubuntu", "distribution_version": "22.04", "system": "Linux",
            "system_version": version, "machine": "x86_64",
            "system_platform": "Linux-6.5.0-x86_64", "python_version": "3.11.7",
            "workshop_id": "2026-11-28-bench", "email_id": None}


def hostile(n):
    """500 distinct failures with 200-character names, as large as the limits allow."""
    failures = [{"name": ("report %d failure %d " % (n, i)).ljust(200, "x"),
                 "version": ("v%d." % i).ljust(150, "9"),
                 "error_description": "not found " * 4}
                for i in range(500)]
    return {"user_system_info": system(), "successful_installs": [],
            "failed_installs": failures, "unique_user_id": None}


def grow(binary, db, bodies):
    """Posts each body as a new learner's report (after a first small one, which makes the
    file); returns the JSON's bytes, the file's growth (after a clean shutdown) and the keys."""
    server = Server(binary, db)
    post(server.port, {"user_system_info": system(), "unique_user_id": None})
    server.stop()
    before = os.path.getsize(db)
    server = Server(binary, db)
    sent, keys = 0, []
    for body in bodies:
        sent += len(json.dumps(body).encode())
        status, _, answer = post(server.port, body)
        assert status == 200, status
        keys.append(answer["key"])
    rss = server.peak_rss_mib()
    server.stop()
    return sent, os.path.getsize(db) - before, keys, rss


def disk(binary):
    with tempfile.TemporaryDirectory() as work:
        db = os.path.join(work, "disk.db")
        sent, growth, _, rss = grow(binary, db, (hostile(n) for n in range(HOSTILE_REPORTS)))
        print("  disk: %d reports of 500 distinct 200-character failures (%.0f KB of JSON each): "
              "the database grew %.0f KB per report, %.2f x the JSON; peak RSS %d MiB"
              % (HOSTILE_REPORTS, sent / HOSTILE_REPORTS / 1000, growth / HOSTILE_REPORTS / 1000,
                 growth / sent, rss))


def history(binary):
    names = ["Long history check number %03d (check-%03d)" % (i, i) for i in range(500)]
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, os.path.join(work, "history.db"))
        key = None
        started = time.perf_counter()
        for attempt in range(HISTORY):
            failures = [{"name": name, "version": "%d.%d" % (attempt, i), "error_description": "too old"}
                        for i, name in enumerate(names)]
            status, _, answer = post(server.port, {"user_system_info": system(), "successful_installs": [],
                                                   "failed_installs": failures, "unique_user_id": key})
            assert status == 200, status
            key = answer["key"]
        building = time.perf_counter() - started
        own, other = [], []
        for round in range(ROUNDS):
            small = {"user_system_info": system("#%d SMP changed" % round),
                     "successful_installs": [{"name": "Git (git)", "version": "2.43.0"}],
                     "failed_installs": [], "unique_user_id": key}
            stranger = {"user_system_info": system(), "failed_installs": [],
                        "successful_installs": [{"name": "Git (git)", "version": "2.43.0"}],
                        "unique_user_id": None}
            results = {}
            threads = [threading.Thread(target=lambda k, b: results.__setitem__(k, post(server.port, b)),
                                        args=(k, b)) for k, b in (("own", small), ("other", stranger))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results["own"][0] == 200 and results["other"][0] == 200
            own.append(results["own"][1] * 1000)
            other.append(results["other"][1] * 1000)
            time.sleep(0.05)
        rss = server.peak_rss_mib()
        server.stop()
        print("  long history: %d attempts of 500 failures in %.1f s; then a %d-byte report changing "
              "system_version: median %.1f ms (max %.1f); another learner's at the same moment: "
              "median %.1f ms (max %.1f); peak RSS %d MiB"
              % (HISTORY, building, len(json.dumps(small)), statistics.median(own), max(own),
                 statistics.median(other), max(other), rss))


def forget(port, key):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("DELETE", "/installation_data/%s/" % key)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def long_texts(n):
    """240 failures, each with a distinct 1,000-character error text that names a home folder."""
    failures = [{"name": "Check %d (check-%d)" % (i, i), "version": "1.%d" % i,
                 "error_description": ("learner-%d-text-%d: /home/learner-%d/ " % (n, i, n)).ljust(1000, "e")}
                for i in range(TEXT_FAILURES)]
    return {"user_system_info": system(), "successful_installs": [],
            "failed_installs": failures, "unique_user_id": None}


def texts(binary):
    with tempfile.TemporaryDirectory() as work:
        db = os.path.join(work, "texts.db")
        sent, growth, keys, _ = grow(binary, db, (long_texts(n) for n in range(TEXT_REPORTS)))
        server = Server(binary, db)
        for key in keys:
            assert forget(server.port, key) == 204
        wal = db + "-wal"
        wal_bytes = os.path.getsize(wal) if os.path.exists(wal) else 0
        with open(db, "rb") as f:
            held = f.read()
        if os.path.exists(wal):
            with open(wal, "rb") as f:
                held += f.read()
        left = sum(1 for n in range(TEXT_REPORTS) for i in range(TEXT_FAILURES)
                   if ("learner-%d-text-%d:" % (n, i)).encode() in held)
        file_bytes = os.path.getsize(db)
        server.stop()
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT (SELECT count(*) FROM error_texts), (SELECT count(*) FROM packages),"
                                " (SELECT count(*) FROM system_profiles)").fetchone()
        print("  long texts: %d reports of %d failures with distinct 1,000-character texts (%.0f KiB of "
              "JSON each): the database grew %.0f KiB per report, %.2f x the JSON"
              % (TEXT_REPORTS, TEXT_FAILURES, sent / TEXT_REPORTS / 1024, growth / TEXT_REPORTS / 1024,
                 growth / sent))
        print("  after forgetting those %d learners (while serving): %d error texts, %d packages, "
              "%d machine profiles left; the file %d bytes, its WAL %d bytes; %d of their %d texts "
              "still in the bytes of the file and WAL"
              % (TEXT_REPORTS, rows[0], rows[1], rows[2], file_bytes, wal_bytes, left,
                 TEXT_REPORTS * TEXT_FAILURES))


def main():
    for binary in sys.argv[1:]:
        print(binary)
        disk(binary)
        history(binary)
        texts(binary)


if __name__ == "__main__":
    main()
