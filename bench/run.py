# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""tlstrace benchmark: prints figures and ratios from one run, never pass/fail.

- uprobe hits per request (tlstrace's own --stats counters, traced processes
  only), for a new connection and for a reused one, per client;
- added latency and client CPU time per request, traced vs. untraced, for
  new connections (one curl process per request) and keep-alive (one Python
  process, many requests on one connection).

Usage: python3 bench/run.py [--tlstrace ./tlstrace] [--requests N]
"""

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KEEPALIVE_CLIENT = r"""
import http.client, json, resource, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("localhost", port, context=ctx)
c.request("GET", "/hello"); c.getresponse().read()      # connect + warm-up
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
for _ in range(n):
    c.request("GET", "/hello"); c.getresponse().read()
t1 = time.perf_counter()
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"wall_us": (t1 - t0) / n * 1e6, "cpu_us": cpu / n * 1e6}))
"""

ONE_REQUEST_PY = r"""
import http.client, ssl, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPSConnection("localhost", port, context=ssl._create_unverified_context())
for _ in range(n):
    c.request("GET", "/hello"); c.getresponse().read()
"""


def start_server(work):
    subprocess.run(["sh", os.path.join(ROOT, "tests/e2e/mkcert.sh"), work], check=True)
    ready = os.path.join(work, "port")
    if os.path.exists(ready):
        os.unlink(ready)
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/server.py"), "--port", "0",
                            "--cert", os.path.join(work, "cert.pem"),
                            "--key", os.path.join(work, "key.pem"), "--ready-file", ready])
    for _ in range(200):
        if os.path.exists(ready) and open(ready).read().strip():
            return srv, int(open(ready).read())
        time.sleep(0.05)
    srv.kill()
    sys.exit("bench: the test server did not start")


def hits(tlstrace, cmd):
    """total uprobe hits in the traced command, from --stats"""
    p = subprocess.run([tlstrace, "--stats", "-f", "json", "-o", "/dev/null", "--"] + cmd,
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"hits\.total=(\d+)", p.stderr)
    if not m:
        sys.exit("bench: no stats from tlstrace: " + p.stderr.strip())
    return int(m.group(1))


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def hits_per_request(tlstrace, one, many, k):
    """(new connection, reused): hits for one request, and per extra request"""
    h1 = median([hits(tlstrace, one) for _ in range(3)])
    hk = median([hits(tlstrace, many) for _ in range(3)])
    return h1, (hk - h1) / (k - 1)


def wait_for_detaches(timeout=30):
    """Let an earlier tlstrace's uprobe removal (done by a child it leaves
    behind, in the kernel, one probe at a time) finish: it would otherwise
    load the machine during the next measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/stat" % pid) as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rfind(")") + 2:].split()
            if st[st.find("(") + 1:st.rfind(")")] == "tlstrace" and fields[0] != "Z" \
                    and fields[1] == "1":
                busy = True
                break
        if not busy:
            return
        time.sleep(0.05)


def curl_loop(url, n):
    """n curl processes in a row: wall and children's CPU per request, in µs"""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.run(["curl", "-sk", "-o", "/dev/null", url], check=True)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return (t1 - t0) / n * 1e6, cpu / n * 1e6


class Tracer:
    """tlstrace in the background, tracing processes by name"""

    def __init__(self, tlstrace, comm):
        self.p = subprocess.Popen([tlstrace, "-c", comm, "-f", "json", "-o", "/dev/null"],
                                  stderr=subprocess.PIPE, text=True)
        line = self.p.stderr.readline()     # "tlstrace: tracing ...": attached
        if not line.startswith("tlstrace: tracing"):
            sys.exit("bench: tlstrace failed: " + line.strip())

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=30)


def keepalive(cmd_prefix, port, n):
    p = subprocess.run(cmd_prefix + [sys.executable, "-c", KEEPALIVE_CLIENT, str(port), str(n)],
                       capture_output=True, text=True, timeout=300, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def row(name, base, traced):
    print(f"  {name:<34} {base:10.1f} {traced:10.1f} {traced - base:+10.1f} {traced / base:8.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tlstrace", default=os.path.join(ROOT, "tlstrace"))
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    tlstrace = os.path.abspath(args.tlstrace)
    n = args.requests

    work = tempfile.mkdtemp(prefix="tlstrace-bench-")
    srv, port = start_server(work)
    url = f"https://localhost:{port}/hello"
    try:
        k = 11
        curl_new, curl_reused = hits_per_request(
            tlstrace, ["curl", "-sk", "-o", "/dev/null", url],
            ["curl", "-sk"] + sum([["-o", "/dev/null", url] for _ in range(k)], []), k)
        py = [sys.executable, "-c", ONE_REQUEST_PY, str(port)]
        py_new, py_reused = hits_per_request(tlstrace, py + ["1"], py + [str(k)], k)

        print("uprobe hits per request (traced process only; ~10 us each here)")
        print(f"  {'client':<10} {'new connection':>15} {'reused':>10}")
        print(f"  {'curl':<10} {curl_new:>15} {curl_reused:>10.1f}")
        print(f"  {'python':<10} {py_new:>15} {py_reused:>10.1f}")

        # alternate untraced and traced rounds and keep the medians, so that
        # drift in the machine's speed does not favour either side
        curl_loop(url, 10)  # warm caches
        keepalive([], port, 50)
        rounds = 5
        m = {"base_wall": [], "base_cpu": [], "tr_wall": [], "tr_cpu": [],
             "ka_base_wall": [], "ka_base_cpu": [], "ka_tr_wall": [], "ka_tr_cpu": []}
        for _ in range(rounds):
            wait_for_detaches()
            w, c = curl_loop(url, n // rounds)
            m["base_wall"].append(w)
            m["base_cpu"].append(c)
            t = Tracer(tlstrace, "curl")
            w, c = curl_loop(url, n // rounds)
            t.stop()
            wait_for_detaches()
            m["tr_wall"].append(w)
            m["tr_cpu"].append(c)
            wait_for_detaches()
            ka = keepalive([], port, n)
            m["ka_base_wall"].append(ka["wall_us"])
            m["ka_base_cpu"].append(ka["cpu_us"])
            ka = keepalive([tlstrace, "-f", "json", "-o", "/dev/null", "--"], port, n)
            m["ka_tr_wall"].append(ka["wall_us"])
            m["ka_tr_cpu"].append(ka["cpu_us"])
        base_wall, base_cpu = median(m["base_wall"]), median(m["base_cpu"])
        tr_wall, tr_cpu = median(m["tr_wall"]), median(m["tr_cpu"])
        ka_base = {"wall_us": median(m["ka_base_wall"]), "cpu_us": median(m["ka_base_cpu"])}
        ka_tr = {"wall_us": median(m["ka_tr_wall"]), "cpu_us": median(m["ka_tr_cpu"])}

        print()
        print(f"per request, traced vs. untraced, median of {rounds} alternating rounds "
              f"({n // rounds} curl processes; {n} keep-alive requests per round)")
        print(f"  {'':<34} {'untraced':>10} {'traced':>10} {'added':>10} {'ratio':>8}")
        row("curl, new connection: wall us", base_wall, tr_wall)
        row("curl, new connection: CPU us", base_cpu, tr_cpu)
        row("python keep-alive: wall us", ka_base["wall_us"], ka_tr["wall_us"])
        row("python keep-alive: CPU us", ka_base["cpu_us"], ka_tr["cpu_us"])
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
