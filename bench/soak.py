# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Memory over a long run of steady traffic: is tlstrace's resident memory flat?

Runs the local HTTPS server, then tlstrace -c python3 with keep-alive clients
(a request every INTERVAL) and a new connection every second, for MINUTES;
prints tlstrace's RSS every 30 s, and the growth from the first minute on.

Usage: python3 bench/soak.py [--tlstrace ./tlstrace] [--minutes 10]
"""

import argparse
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CLIENT = r"""
import http.client, ssl, sys, time
port, interval, fresh = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "fresh"
ctx = ssl._create_unverified_context()
c = None
while True:
    if c is None:
        c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    c.request("GET", "/size/2000"); c.getresponse().read()
    if fresh:
        c.close(); c = None
    time.sleep(interval)
"""


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tlstrace", default=os.path.join(ROOT, "tlstrace"))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=0.01, help="keep-alive request spacing, s")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the server and clients are stopped
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    work = tempfile.mkdtemp(prefix="tlstrace-soak-")
    subprocess.run(["sh", os.path.join(ROOT, "tests/e2e/mkcert.sh"), work], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = os.path.join(work, "port")
    procs = []
    try:
        srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/server.py"),
                                "--port", "0", "--cert", os.path.join(work, "cert.pem"),
                                "--key", os.path.join(work, "key.pem"), "--ready-file", ready])
        procs.append(srv)
        while not (os.path.exists(ready) and open(ready).read().strip()):
            time.sleep(0.05)
        port = int(open(ready).read())
        err = open(os.path.join(work, "tlstrace.err"), "w+")
        sink = os.path.join(work, "null")  # a null device of our own, never /dev/null
        os.mknod(sink, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        tracer = subprocess.Popen([args.tlstrace, "-c", "python3", "-f", "json", "-o", sink,
                                   "--stats"], stderr=err)
        procs.append(tracer)
        while "tracing" not in open(err.name).read():
            time.sleep(0.1)
        script = os.path.join(work, "client.py")
        with open(script, "w") as f:
            f.write(CLIENT)
        for mode, interval in (("keep", args.interval), ("keep", args.interval),
                               ("fresh", 1.0)):
            procs.append(subprocess.Popen([sys.executable, script, str(port), str(interval), mode]))
        t0 = time.monotonic()
        samples = []
        print("%8s %10s" % ("minutes", "RSS KiB"), flush=True)
        while time.monotonic() - t0 < args.minutes * 60:
            time.sleep(30)
            m = (time.monotonic() - t0) / 60
            samples.append((m, rss_kib(tracer.pid)))
            print("%8.1f %10d" % samples[-1], flush=True)
        tracer.terminate()
        tracer.wait(30)
        err.seek(0)
        stats = [l for l in err.read().splitlines() if "stats:" in l or "warning" in l]
        base = next((kib for m, kib in samples if m >= 1), samples[0][1])
        print("RSS after 1 min %d KiB, at the end %d KiB: growth %+d KiB (%+.1f%%)"
              % (base, samples[-1][1], samples[-1][1] - base,
                 100.0 * (samples[-1][1] - base) / base))
        for line in stats:
            entries = [w for w in line.split() if w.startswith(("entries=", "drops.", "records="))]
            print("tlstrace:", " ".join(entries) if entries else line)
    finally:
        for p in reversed(procs):  # the clients before the server they use
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
