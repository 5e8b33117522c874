#!/usr/bin/env python3
"""The host's private page of a workshop with 10,000 learners (issue 20, item 3), measured
on one or more server binaries.

    python3 bench/host_page.py target/release/result-aggregation-server [OTHER_BINARY ...]
    SCENARIOS=hostile python3 bench/host_page.py BINARY      # one of the two only

For each binary, two workshops, each in a database of its own (so each binary writes the
schema it knows), registered with `workshop create` and the checks git, python, numpy,
pandas and make (optional):

  realistic  `generate` writes 30,000 realistic reports of 10,000 learners in one workshop
  hostile    the issue's case: 300 reports posted with the workshop's (public) id, each from
             a new learner and with 500 failures of checks nobody knows (200-character names,
             200-character error texts: about 230 KB, near the 256 KiB limit)

Then, ROUNDS times, each on a freshly started server:

  page   the private page: size, and the time to answer it (median of SEQUENTIAL loads);
         then four loads at once: peak resident memory of the server (VmHWM) and the time
         the last of them took
  csv    the CSV the page links to: size and time of the first file, and of every file
         when the answer names a next one (`Link: <...>; rel="next"`); then four loads of
         the first file at once, on another fresh server: peak resident memory

Figures are the medians of the rounds. Standard library only; traffic goes to 127.0.0.1
only, every loop is bounded in count.
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

import write_cost

SUBMISSIONS = 30_000
LEARNERS = 10_000
HOSTILE_REPORTS = 300
HOSTILE_FAILURES = 500
CHECKS = "git,python,numpy,pandas,make?"
ROUNDS = 5
SEQUENTIAL = 5
AT_ONCE = 4


class Server(write_cost.Server):
    """The binary on a free loopback port, as bench/write_cost.py starts it, with loads."""

    def get(self, path):
        """GETs a path; returns (bytes, seconds, Link header)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, (path, response.status, body[:200])
        link = response.getheader("Link")
        conn.close()
        return len(body), elapsed, link

    def at_once(self, path):
        """AT_ONCE loads of `path` at the same moment; returns the slowest one's seconds."""
        times = [0.0] * AT_ONCE
        def load(i):
            times[i] = self.get(path)[1]
        threads = [threading.Thread(target=load, args=(i,)) for i in range(AT_ONCE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return max(times)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def register(binary, db, workshop):
    """Registers the workshop; returns its private page's path."""
    created = subprocess.run([binary, "workshop", "create", workshop, "--db", db, "--checks", CHECKS,
                              "--public-url", "http://127.0.0.1:1"],
                             check=True, capture_output=True, text=True).stdout
    return re.search(r"http://127.0.0.1:1(/host/\S+/)", created).group(1)


def realistic(binary, work):
    db = os.path.join(work, "realistic.db")
    subprocess.run([binary, "generate", "--db", db, "--submissions", str(SUBMISSIONS),
                    "--learners", str(LEARNERS), "--workshops", "1", "--days", "30", "--no-demo"],
                   check=True, capture_output=True)
    with sqlite3.connect(db) as conn:
        (workshop,) = conn.execute("SELECT DISTINCT workshop_id FROM user_system_info").fetchone()
    return db, register(binary, db, workshop)


def hostile(binary, work):
    db = os.path.join(work, "hostile.db")
    workshop = "2026-11-27-public"
    path = register(binary, db, workshop)
    server = Server(binary, db)
    for n in range(HOSTILE_REPORTS):
        failures = [{"name": ("report %d failure %d " % (n, i)).ljust(200, "x"), "version": "1.0",
                     "error_description": ("error %d.%d " % (n, i)).ljust(200, "e")}
                    for i in range(HOSTILE_FAILURES)]
        body = json.dumps({"user_system_info": {"system": "Linux", "workshop_id": workshop},
                           "successful_installs": [], "failed_installs": failures,
                           "unique_user_id": None}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("POST", "/installation_data/", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        conn.close()
    server.stop()
    return db, path


def all_files(server, path):
    """Every file of the CSV, following the Link headers; returns (bytes, seconds, files)."""
    size, seconds, files, url = 0, 0.0, 0, path + "?export=csv"
    while url is not None and files < 1000:
        got, took, link = server.get(url)
        size, seconds, files = size + got, seconds + took, files + 1
        found = link and re.match(r"<\?([^>]*)>", link)
        url = path + "?" + found.group(1) if found else None
    return size, seconds, files


def measure(binary, scenario):
    with tempfile.TemporaryDirectory() as work:
        db, path = scenario(binary, work)
        rounds = []
        for _ in range(ROUNDS):
            figures = {}
            server = Server(binary, db)
            server.get(path)  # the first load reads the file into the page cache
            loads = [server.get(path) for _ in range(SEQUENTIAL)]
            figures["page bytes"] = loads[0][0]
            figures["page s"] = statistics.median(t for _, t, _ in loads)
            figures["page 4 at once s"] = server.at_once(path)
            figures["page 4 at once peak MiB"] = server.peak_rss_mib()
            size, took, _ = server.get(path + "?export=csv")
            figures["csv first file bytes"], figures["csv first file s"] = size, took
            size, took, files = all_files(server, path)
            figures["csv all bytes"], figures["csv all s"], figures["csv files"] = size, took, files
            server.stop()
            server = Server(binary, db)
            server.get(path + "?export=csv")
            figures["csv 4 at once s"] = server.at_once(path + "?export=csv")
            figures["csv 4 at once peak MiB"] = server.peak_rss_mib()
            server.stop()
            rounds.append(figures)
        print(binary, scenario.__name__)
        for name in rounds[0]:
            values = [r[name] for r in rounds]
            print("  %-26s median %12.3f   (rounds: %s)" % (
                name, statistics.median(values), ", ".join("%.3f" % v for v in values)))


def main():
    chosen = os.environ.get("SCENARIOS", "realistic,hostile").split(",")
    for scenario in (s for s in (realistic, hostile) if s.__name__ in chosen):
        for binary in sys.argv[1:]:
            measure(binary, scenario)


if __name__ == "__main__":
    main()
