# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""tlstrace benchmark: figures and ratios from one run, never pass/fail.

Sections (all by default, in this order; --only NAME[,NAME] for some):

  hits     uprobe hits per request (tlstrace's own --stats counters, per
           probe), default mode, --timing-only and --wire: curl and Python,
           a new connection and a reused one
  latency  added wall time per HTTPS request, traced vs. untraced, for curl
           and Python, new connections and keep-alive, under five tracers:
           tlstrace, tlstrace --timing-only, tlstrace --wire (no uprobe: each
           connection timed from its records), bench/handshake.bt (bpftrace
           timing SSL_do_handshake alone) and bench/bare-probes.bt (empty
           probes where tlstrace's default mode has its own: the cost of the
           hits alone); with hits per request and the implied cost of a hit
  bulk     a 256 MiB download by curl: seconds, MB/s, ratio, and drops at the
           default ring buffer and a larger one
  events   N keep-alive Python clients hammering /hello: records/s the
           collector takes with no drop, its CPU and peak memory
  idle     10,000 idle TLS connections: tlstrace's memory before and with
           them, and its BPF maps' sizes (max_entries, memlock, in use)
  memory   tlstrace's peak memory (VmHWM) against its idle baseline (a)
           with 100,000 pipelined GETs over 100 connections to a local TLS
           server that reads them and never answers, (b) with 60,000
           requests, each with a Host of its own (text mode: the summary
           keeps a row per host); the target is under +50 MB for both
  syscalls what a process making no TLS call pays while tlstrace runs,
           traced (no filter) or not (-p of another process): ns added per
           read/write of a non-socket fd (dd) and per open+close (the
           syscall tracepoints' tax), default mode and --timing-only
  attach   ms from start to "tracing" (host-wide, -p, -c) on a quiet
           machine and right after another tlstrace exits, and from SIGINT
           until every probe is released; the uprobe hits an untraced
           Python client on the system's libssl takes beside a traced one
           under --, -c, -p and host-wide

The server is nginx on a private copy of libssl (another inode), so that no
tracer's uprobes fire in it: what is measured is the client's cost alone.

Usage (root): ./bench/run.sh [--only SECTIONS] [--rounds N] ...  (builds,
installs bpftrace if missing, then runs this; --help lists the options).
About 4 minutes by default on 2 CPUs. Timings are only as quiet as the
machine: the first and last lines say what else was running.
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import ssl  # noqa: F401 (loads libssl, whose path libssl_paths() reads)
import stat
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
CLIENTS = os.path.join(BENCH, "clients.py")
HANDSHAKE_BT = os.path.join(BENCH, "handshake.bt")
BARE_BT_FILE = os.path.join(BENCH, "bare-probes.bt")
SECTIONS = ["hits", "latency", "go", "bulk", "filter", "events", "idle", "memory", "syscalls",
            "attach"]
BULK_SIZE = 256 * 1024 * 1024

NGINX_CONF = """\
daemon off;
user root;
worker_processes {workers};
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{
    worker_connections {conns};
}}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /hello {{
            default_type text/plain;
            return 200 "hello\\n";
        }}
        location /size/ {{
            alias {dir}/files/;
            default_type application/octet-stream;
        }}
    }}
    server {{
        listen 127.0.0.1:{h2port} ssl http2;
        server_name localhost;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        location /size/ {{
            alias {dir}/files/;
            default_type application/octet-stream;
        }}
    }}
}}
"""

# ---------------------------------------------------------------- helpers


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def warn(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def other_runs():
    """other engineers' test runs, which make timings noisy"""
    p = subprocess.run(["pgrep", "-f", "tests/e2e/run.py"], capture_output=True, text=True)
    return len(p.stdout.split())


def other_uprobes():
    """uprobes other processes have attached (bpftool perf list; uprobe_multi
    links, bpftool link list): they slow every client of the library they
    are on"""
    p = subprocess.run(["bpftool", "-j", "perf", "list"], capture_output=True, text=True)
    q = subprocess.run(["bpftool", "-j", "link", "list"], capture_output=True, text=True)
    try:
        probes = [x for x in json.loads(p.stdout) if x.get("fd_type", "").startswith("uprobe")
                  or x.get("fd_type", "").startswith("uretprobe")]
        multi = [x for x in json.loads(q.stdout or "[]") if x.get("type") == "uprobe_multi"]
    except ValueError:
        return "?"
    owners = sorted({"%d/%s" % (x["pid"], comm(x["pid"])) for x in probes} |
                    {"%d/%s" % (o["pid"], comm(o["pid"])) for x in multi
                     for o in x.get("pids", [])})
    return "%d perf, %d uprobe_multi links%s" % (len(probes), len(multi), " (%s)" % ", ".join(
        owners) if owners else "")


def load_note():
    with open("/proc/loadavg") as f:
        la = f.read().split()[:3]
    n = other_runs()
    return "load average %s; %s; other processes' uprobes: %s" % (
        " ".join(la), "%d other e2e test run(s) on the machine: timings are noisy" % n
        if n else "no other e2e test run", other_uprobes())


def become_subreaper():
    """tlstrace leaves a child behind that removes its uprobes (slowly, in
    the kernel): made ours, it can be waited for before the next timing"""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0):  # PR_SET_CHILD_SUBREAPER
        warn("prctl(PR_SET_CHILD_SUBREAPER) failed; detaches are not waited for")


KEEP = set()  # pids of our children that run on (the server, bpftrace): not to reap


def reap_orphans():
    """our children outside KEEP (tlstrace's detaching ones, orphaned to us),
    each reaped if it has exited: the pids of those that still run"""
    me, left = str(os.getpid()), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        if st[st.rfind(")") + 2:].split()[1] == me and int(pid) not in KEEP:
            try:
                if os.waitpid(int(pid), os.WNOHANG)[0]:
                    continue
            except ChildProcessError:
                pass
            left.append(int(pid))
    return left


def wait_for_detaches(timeout=60):
    """reap tlstrace's detaching children, orphaned to us"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        orphans = reap_orphans()
        if not orphans:
            return
        time.sleep(0.05)
    warn("tlstrace's detaching children still run after %d s: %s" % (timeout, " ".join(
        "%d(%s)" % (pid, comm(pid)) for pid in orphans)))


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def parse_stats(stderr):
    """the counters of tlstrace's --stats line, as a dict"""
    m = re.search(r"tlstrace: stats: (.*)", stderr)
    if not m:
        sys.exit("bench: no stats from tlstrace: " + stderr.strip()[-500:])
    return {k: float(v) for k, v in re.findall(r"(\S+)=(\d+)", m.group(1))}


def drops(stats):
    return int(sum(v for k, v in stats.items() if k.startswith("drops.")))


def drop_lines(stderr):
    """tlstrace's own warnings about lost events (the stats line aside)"""
    return [ln for ln in stderr.splitlines()
            if not ln.startswith("tlstrace: stats:") and re.search(r"drop|lost", ln, re.I)]


# tlstrace's entries go to a null device node of the benchmark's own, never /dev/null
SINK = None


def private_null(work):
    """A character device like /dev/null (1:3) in work, for tlstrace -o"""
    path = os.path.join(work, "null")
    if not os.path.exists(path):
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def tlstrace_cmd(tlstrace, mode, ring=None):
    cmd = [tlstrace] + mode + ["--stats", "-f", "json", "-o", SINK]
    if ring:
        cmd += ["--ringbuf-size", str(ring)]
    return cmd


def run_under(tlstrace, mode, cmd, ring=None, timeout=600, quiet=True):
    """cmd run by tlstrace (mode a list of options), or untraced (mode None):
    (cmd's stdout, tlstrace's stats or None, tlstrace's stderr). quiet: first
    wait for earlier tracers' uprobes to be gone (for a timing)"""
    if quiet:
        wait_for_detaches()
    full = cmd if mode is None else tlstrace_cmd(tlstrace, mode, ring) + ["--"] + cmd
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if p.returncode:
        sys.exit("bench: %s exited with %d: %s" % (" ".join(full[:8]), p.returncode,
                                                      p.stderr.strip()[-500:]))
    if mode is None:
        return p.stdout, None, p.stderr
    return p.stdout, parse_stats(p.stderr), p.stderr


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


# ---------------------------------------------------------------- the server


def libssl_paths():
    """libssl and libcrypto as this Python has them mapped"""
    paths = {}
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            base = os.path.basename(path)
            if base.startswith(("libssl.so", "libcrypto.so")):
                paths[base] = path
    return paths


class Nginx:
    """nginx on a private copy of libssl: no uprobe on the system's libssl
    (tlstrace's or bpftrace's) fires in the server"""

    def __init__(self, work):
        self.work = work
        subprocess.run(["sh", os.path.join(ROOT, "tests/e2e/mkcert.sh"), work], check=True)
        for d in ("lib", "files", "tmp"):
            os.makedirs(os.path.join(work, d), exist_ok=True)
        for base, path in libssl_paths().items():
            shutil.copy(path, os.path.join(work, "lib", base))
        big = os.path.join(work, "files", str(BULK_SIZE))
        with open(big, "wb") as f:
            f.truncate(BULK_SIZE)  # sparse: read from memory, never from disk
        self.port, self.h2_port = free_port(), free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=work, port=self.port, h2port=self.h2_port, workers=2,
                                      conns=30000, nofile=70000))
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(work, "lib"))
        self.p = subprocess.Popen(["nginx", "-p", work, "-c", conf], env=env,
                                  stdout=subprocess.DEVNULL)
        KEEP.add(self.p.pid)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.p.poll() is not None:
                    sys.exit("bench: nginx failed: " + self.error_log())
                time.sleep(0.05)
        else:
            sys.exit("bench: nginx did not start: " + self.error_log())
        with open("/proc/%d/maps" % self.p.pid) as f:
            if os.path.join(work, "lib") not in f.read():
                warn("nginx does not use the private libssl: the tracers' probes fire in it")

    def error_log(self):
        try:
            with open(os.path.join(self.work, "nginx-error.log")) as f:
                return f.read()[-500:]
        except OSError:
            return ""

    def stop(self):
        self.p.send_signal(signal.SIGQUIT)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


# ---------------------------------------------------------------- hits

PROBES = ["handshake", "read", "write", "set_fd", "free", "bio_write", "getaddrinfo"]
MODES = [("default", []), ("--timing-only", ["--timing-only"]), ("--wire", ["--wire"])]
CLIENT_NAMES = ["curl new", "curl keep-alive", "python new", "python keep-alive"]


def per_probe(stats, scale):
    """hits.* per request, enter and exit together: {probe: hits}"""
    out = {"total": stats["hits.total"] / scale}
    for p in PROBES:
        out[p] = sum(v for k, v in stats.items()
                     if k in ("hits." + p, "hits.%s_enter" % p, "hits.%s_exit" % p)) / scale
    return out


def diff(a, b, k):
    # + 0.0: no "-0.0" for a difference that is nothing
    return {p: round((a[p] - b[p]) / k, 1) + 0.0 for p in a}


def section_hits(args, srv):
    url = "https://localhost:%d/hello" % srv.port
    n, k = 20, 50
    py = [sys.executable, CLIENTS]
    res = {}
    for name, mode in MODES:
        def stats(cmd):
            return run_under(args.tlstrace, mode, cmd, quiet=False)[1]
        curl1 = stats(["curl", "-sk", "-o", "/dev/null", url])
        curlk = stats(["curl", "-sk", "-o", "/dev/null", url + "?[0-%d]" % k])
        curln = stats(["sh", "-c", 'for i in $(seq %d); do curl -sk -o /dev/null "%s"; done'
                       % (n, url)])
        py0 = stats(py + ["py-ka", str(srv.port), "0"])
        pyk = stats(py + ["py-ka", str(srv.port), str(k)])
        pyn = stats(py + ["py-new", str(srv.port), str(n)])
        aion = stats(py + ["aio-new", str(srv.port), str(n)])
        res[name] = {
            "curl new": per_probe(curln, n),
            "curl keep-alive": diff(per_probe(curlk, 1), per_probe(curl1, 1), k),
            "python new": per_probe(pyn, n),
            "python keep-alive": diff(per_probe(pyk, 1), per_probe(py0, 1), k),
            "asyncio new": per_probe(aion, n),
        }
    print("\n== uprobe hits per request (tlstrace --stats; entry and return hits together)")
    print("   new: mean over %d new connections (curl: one process each); keep-alive: per "
          "request after the first, over %d" % (n, k))
    print("   %-14s %-18s %6s  %s" % ("mode", "client", "hits", "per probe"))
    for name, _ in MODES:
        for client in CLIENT_NAMES + ["asyncio new"]:
            h = res[name][client]
            probes = " ".join("%s %.1f" % (p, h[p]) for p in PROBES if abs(h[p]) >= 0.05)
            print("   %-14s %-18s %6.1f  %s" % (name, client, h["total"], probes or "-"))
    print("   (the issue's targets, curl, small body: default <= 14 new / <= 9 reused; "
          "--timing-only <= 4 new / 0 reused)")
    firefox_hits(args)
    return res


def firefox_hits(args):
    """Headless Firefox (NSS) loading tests/e2e/firefox_judge.py's page under
    tlstrace: hits per request its servers answered, and NSPR's calls on no
    session (hits.not_tls), which Firefox makes for its files and pipes"""
    if not shutil.which("firefox-esr"):
        warn("no firefox-esr: the Firefox row is left out")
        return
    sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
    import firefox_judge
    work = os.path.join(args.workdir, "firefox")
    os.makedirs(work, exist_ok=True)
    subprocess.run(["sh", os.path.join(ROOT, "tests/e2e/mkcert.sh"), work], check=True)
    print("   Firefox (NSS), one page: %d fetches over 4 new connections, the page and its "
          "results' POST" % 15)
    for name, mode in MODES:
        wait_for_detaches()
        err_path = os.path.join(work, "tlstrace.err")

        def launch(argv, env):
            with open(err_path, "w") as err:
                return subprocess.Popen(tlstrace_cmd(args.tlstrace, mode) + ["--"] + argv,
                                        env=env, stdout=subprocess.DEVNULL, stderr=err)

        res = firefox_judge.run_firefox(os.path.join(work, name.strip("-")),
                                        os.path.join(work, "cert.pem"),
                                        os.path.join(work, "key.pem"), launch=launch,
                                        timeout=120)
        time.sleep(1)  # tlstrace ends with Firefox, its stats last
        with open(err_path) as f:
            stats = parse_stats(f.read())
        n = len(res["server_log"])
        h = per_probe(stats, n)
        probes = " ".join("%s %.1f" % (p, h[p]) for p in PROBES if abs(h[p]) >= 0.05)
        print("   %-14s %-18s %6.1f  %s; not_tls %.1f" % (
            name, "firefox", h["total"], probes or "-", stats.get("hits.not_tls", 0) / n))


# ---------------------------------------------------------------- latency

HS_BT = "bpftrace handshake.bt"
BARE_BT = "bpftrace bare-probes.bt"
TRACERS = ["untraced", "tlstrace", "tlstrace --timing-only", "tlstrace --wire", HS_BT, BARE_BT]
TRACER_MODE = {"untraced": None, "tlstrace": [], "tlstrace --timing-only": ["--timing-only"],
               "tlstrace --wire": ["--wire"]}
TRACER_HITS = {"tlstrace": "default", "tlstrace --timing-only": "--timing-only",
               "tlstrace --wire": "--wire"}


class Bpftrace:
    """a bpftrace script in the background. handshake.bt prints a line per
    call (PID COMM RET US); bare-probes.bt prints @hits[PID]: N at exit"""

    def __init__(self, work, port, script):
        self.script = script
        self.out = os.path.join(work, "bpftrace.out")
        self.err = os.path.join(work, "bpftrace.err")
        with open(self.out, "w") as o, open(self.err, "w") as e:
            # -B none: each line written as printed, so attaching can be seen
            self.p = subprocess.Popen(["bpftrace", "-B", "none", script], stdout=o, stderr=e)
        KEEP.add(self.p.pid)
        self.probe_pid = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                break
            with open(self.out) as f:
                if "Attaching" not in f.read():
                    time.sleep(0.1)
                    continue
            time.sleep(0.3)
            # a request of ours, to see in its output that it is attached
            c = subprocess.Popen(["curl", "-sk", "-o", "/dev/null",
                                  "https://localhost:%d/hello" % port])
            c.wait()
            self.probe_pid = c.pid
            if script != HANDSHAKE_BT:
                return  # its counts come at exit: checked then
            time.sleep(0.2)
            if c.pid in self.hits():
                return
        self.stop()
        with open(self.err) as f:
            sys.exit("bench: bpftrace %s did not attach or print: %s"
                     % (os.path.basename(script), f.read()[-500:]))

    def hits(self):
        """uprobe hits seen, per pid (handshake.bt: 2 per line)"""
        hits = {}
        with open(self.out) as f:
            for line in f:
                m = re.match(r"@hits\[(\d+)\]: (\d+)", line)
                parts = line.split()
                if m:
                    hits[int(m.group(1))] = int(m.group(2))
                elif self.script == HANDSHAKE_BT and len(parts) == 4 and parts[0].isdigit():
                    hits[int(parts[0])] = hits.get(int(parts[0]), 0) + 2
        return hits

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=60)
        KEEP.discard(self.p.pid)
        if self.probe_pid and self.probe_pid not in self.hits():
            warn("bpftrace %s saw no hit from a request made after it attached"
                 % os.path.basename(self.script))


def section_latency(args, srv, work, hits):
    cmd = [sys.executable, CLIENTS, "latency", str(srv.port), str(args.new), str(args.ka)]
    run_under(args.tlstrace, None, cmd)  # warm caches
    wall = {t: {c: [] for c in CLIENT_NAMES} for t in TRACERS}
    cpu = {t: {c: [] for c in CLIENT_NAMES} for t in TRACERS}
    bt_hits = {t: {c: [] for c in CLIENT_NAMES} for t in (HS_BT, BARE_BT)}
    k = len(TRACERS)
    for r in range(args.rounds):
        # rotate the order so that drift in the machine's speed favours no one
        for tracer in TRACERS[r % k:] + TRACERS[:r % k]:
            if tracer in (HS_BT, BARE_BT):
                wait_for_detaches()
                bt = Bpftrace(work, srv.port, HANDSHAKE_BT if tracer == HS_BT else BARE_BT_FILE)
                res = last_json(run_under(args.tlstrace, None, cmd)[0])
                bt.stop()
                seen = bt.hits()
                for c in CLIENT_NAMES:
                    n = sum(seen.get(pid, 0) for pid in res[c]["pids"])
                    bt_hits[tracer][c].append(n / len(res[c]["samples"]))
            else:
                out, stats, err = run_under(args.tlstrace, TRACER_MODE[tracer], cmd)
                if stats and drops(stats):
                    warn("%s dropped %d events during the latency run" % (tracer, drops(stats)))
                res = last_json(out)
            for c in CLIENT_NAMES:
                wall[tracer][c].append(median(res[c]["samples"]))
                cpu[tracer][c].append(res[c]["cpu_us"])
    print("\n== added latency per request: median of %d rounds (tracers in rotating order); "
          "per round %d new connections per client, %d keep-alive requests"
          % (args.rounds, args.new, args.ka))
    print("   handshake.bt times SSL_do_handshake alone; bare-probes.bt has empty probes on the "
          "functions tlstrace's default mode probes")
    print("   wall: a round's figure is the median request (curl: its time_total, start to "
          "last byte; python: timed in the process)")
    print("   CPU: the client's user+sys time per request (a probe's BPF program runs in it); "
          "curl new: the whole process")
    print("   added: median over rounds of (traced - untraced) in the same round; range: "
          "the rounds' lowest and highest")
    print("   hits/req: tlstrace from the hits section, bpftrace from its own counts")
    print("   %-18s %-23s %8s %8s %13s %6s %8s %8s %8s %7s %7s" % (
        "", "", "wall us", "", "", "", "CPU us", "", "", "wall us", "CPU us"))
    print("   %-18s %-23s %8s %8s %13s %6s %8s %8s %8s %7s %7s" % (
        "client", "tracer", "untraced", "added", "range", "ratio", "untraced", "added",
        "hits/req", "per hit", "per hit"))
    out = {}
    for c in CLIENT_NAMES:
        base = median(wall["untraced"][c])
        cbase = median(cpu["untraced"][c])
        for tracer in TRACERS[1:]:
            per_round = [t - b for t, b in zip(wall[tracer][c], wall["untraced"][c])]
            added = median(per_round)
            cadded = median([t - b for t, b in zip(cpu[tracer][c], cpu["untraced"][c])])
            if tracer in bt_hits:
                h = median(bt_hits[tracer][c])
            elif hits:
                h = hits[TRACER_HITS[tracer]][c]["total"]
            else:
                h = None
            ok = h is not None and h >= 0.5
            print("   %-18s %-23s %8.1f %+8.1f %13s %6.3f %8.1f %+8.1f %8s %7s %7s" % (
                c if tracer == "tlstrace" else "", tracer, base, added,
                "[%+.0f, %+.0f]" % (min(per_round), max(per_round)), (base + added) / base,
                cbase, cadded, "%.1f" % (h + 0.0) if h is not None else "?",
                "%.1f" % (added / h) if ok else "-", "%.1f" % (cadded / h) if ok else "-"))
            out[(c, tracer)] = (added, cadded, h)
    print("   the claims: --timing-only against handshake.bt; the default mode's extra cost "
          "over --timing-only, per extra hit, against what a bare hit costs (bare-probes.bt)")
    print("   %-18s %19s %19s %6s %19s %17s" % (
        "", "timing-only minus", "default minus", "extra", "per extra hit", "per bare hit"))
    print("   %-18s %9s %9s %9s %9s %6s %9s %9s %8s %8s" % (
        "client", "wall us", "CPU us", "wall us", "CPU us", "hits", "wall us", "CPU us",
        "wall us", "CPU us"))
    print("   %-18s %19s %19s" % ("", "handshake.bt", "timing-only"))
    for c in CLIENT_NAMES:
        (w_def, c_def, h_def) = out[(c, "tlstrace")]
        (w_to, c_to, h_to) = out[(c, "tlstrace --timing-only")]
        (w_hs, c_hs, _) = out[(c, HS_BT)]
        (w_b, c_b, h_b) = out[(c, BARE_BT)]
        extra = (h_def - h_to) if h_def is not None and h_to is not None else None
        ex_ok = extra is not None and extra >= 0.5
        b_ok = h_b is not None and h_b >= 0.5
        print("   %-18s %+9.1f %+9.1f %+9.1f %+9.1f %6s %9s %9s %8s %8s" % (
            c, w_to - w_hs, c_to - c_hs, w_def - w_to, c_def - c_to,
            "%.1f" % extra if extra is not None else "?",
            "%.1f" % ((w_def - w_to) / extra) if ex_ok else "-",
            "%.1f" % ((c_def - c_to) / extra) if ex_ok else "-",
            "%.1f" % (w_b / h_b) if b_ok else "-", "%.1f" % (c_b / h_b) if b_ok else "-"))
    return out


# ---------------------------------------------------------------- Go


def build_golat(work):
    """bench/golat.go built with Debian's Go into work; its path"""
    out = os.path.join(work, "golat")
    env = dict(os.environ, GOCACHE=os.path.join(work, "gocache"), GOPATH=os.path.join(work, "gopath"),
               GOPROXY="off", GOTOOLCHAIN="local", GOFLAGS="", CGO_ENABLED="0")
    p = subprocess.run(["go", "build", "-o", out, os.path.join(BENCH, "golat.go")], env=env,
                       cwd=work, capture_output=True, text=True, timeout=600)
    if p.returncode:
        sys.exit("bench: go build golat: " + p.stderr.strip()[-500:])
    return out


def section_go(args, srv, work):
    """Go's net/http (crypto/tls) against nginx: the latency a traced Go
    program pays per request, new connection and kept-alive, and its hits"""
    golat = build_golat(work)
    n, k = max(10, args.new // 2), args.ka
    tracers = ["untraced", "tlstrace", "tlstrace --timing-only"]
    modes = {"untraced": None, "tlstrace": [], "tlstrace --timing-only": ["--timing-only"]}
    kinds = [("go new", "new", n), ("go keep-alive", "ka", k)]
    wall = {t: {c: [] for c, _, _ in kinds} for t in tracers}
    cpu = {t: {c: [] for c, _, _ in kinds} for t in tracers}
    hits = {}
    for t in tracers[1:]:
        for c, key, count in kinds:
            cmd = [golat, str(srv.port), str(count if key == "new" else 0),
                   str(count if key == "ka" else 0)]
            stats = run_under(args.tlstrace, modes[t], cmd)[1]
            base = 0 if key == "new" else 1  # the kept-alive run's first request is new
            hits[(t, c)] = (stats["hits.total"] - base * (hits.get((t, "go new"), 0))) / count
    for r in range(args.rounds):
        for t in tracers[r % 3:] + tracers[:r % 3]:
            res = last_json(run_under(args.tlstrace, modes[t], [golat, str(srv.port), str(n),
                                                                   str(k)])[0])
            for c, key, _ in kinds:
                wall[t][c].append(median(res[key]))
                cpu[t][c].append(res["cpu_us"][key])
    print("\n== Go (net/http, crypto/tls; Debian's Go): added latency per request, median of %d "
          "rounds; per round %d new connections, %d keep-alive requests" % (args.rounds, n, k))
    print("   wall: a round's figure is the median request, start to last byte, timed in the "
          "process; CPU: the process's user+sys per request")
    print("   %-16s %-23s %9s %8s %13s %6s %8s %8s %8s" % (
        "client", "tracer", "wall us", "added", "range", "ratio", "CPU us", "added", "hits/req"))
    out = {}
    for c, _, _ in kinds:
        base, cbase = median(wall["untraced"][c]), median(cpu["untraced"][c])
        for t in tracers[1:]:
            per_round = [a - b for a, b in zip(wall[t][c], wall["untraced"][c])]
            added = median(per_round)
            cadded = median([a - b for a, b in zip(cpu[t][c], cpu["untraced"][c])])
            print("   %-16s %-23s %9.1f %+8.1f %13s %6.3f %8.1f %+8.1f %8.1f" % (
                c if t == "tlstrace" else "", t, base, added,
                "[%+.0f, %+.0f]" % (min(per_round), max(per_round)), (base + added) / base,
                cbase, cadded, hits[(t, c)]))
            out[(c, t)] = added
    return out


# ---------------------------------------------------------------- bulk


def section_bulk(args, srv):
    url = "https://localhost:%d/size/%d" % (srv.port, BULK_SIZE)
    cmd = ["curl", "-sk", "-o", "/dev/null", "-w", "%{time_total} %{size_download}\\n", url]
    modes = [("untraced", None), ("tlstrace", []), ("tlstrace --timing-only", ["--timing-only"])]
    secs = {m: [] for m, _ in modes}
    info = {m: {"drops": 0, "warnings": [], "hits": [], "skipped": []} for m, _ in modes}
    run_under(args.tlstrace, None, cmd)  # warm the page cache
    for r in range(args.bulk_reps):
        for name, mode in modes[r % 3:] + modes[:r % 3]:
            out, stats, err = run_under(args.tlstrace, mode, cmd)
            t, size = out.split()
            if int(size) != BULK_SIZE:
                sys.exit("bench: downloaded %s bytes, want %d" % (size, BULK_SIZE))
            secs[name].append(float(t))
            if stats:
                info[name]["drops"] += drops(stats)
                info[name]["warnings"] += drop_lines(err)
                info[name]["hits"].append(stats["hits.total"])
                info[name]["skipped"].append(stats.get("body_bytes_skipped", 0))
    out, stats, err = run_under(args.tlstrace, [], cmd, ring=args.big_ring)
    big = (float(out.split()[0]), drops(stats), drop_lines(err))
    base = median(secs["untraced"])
    print("\n== bulk: curl downloads %d MiB over TLS from nginx (median of %d)"
          % (BULK_SIZE >> 20, args.bulk_reps))
    print("   %-23s %8s %8s %7s %9s %7s  %s" % ("tracer", "seconds", "MB/s", "ratio", "hits",
                                             "us/hit", "drops (16 MiB ring buffer)"))
    for name, _ in modes:
        s = median(secs[name])
        h = median(info[name]["hits"]) if info[name]["hits"] else 0
        per_hit = "%7.1f" % ((s - base) * 1e6 / h) if h >= 1000 else "%7s" % "-"
        dr = "-" if name == "untraced" else "%d%s" % (
            info[name]["drops"], " (warned: %s)" % info[name]["warnings"][0]
            if info[name]["warnings"] else ", no warning")
        print("   %-23s %8.3f %8.0f %7.3f %9s %s  %s" % (
            name, s, BULK_SIZE / s / 1e6, s / base, "%d" % h if h else "-", per_hit, dr))
    print("   tlstrace: body bytes not copied (told by the collector): %.1f%% of %d MiB"
          % (100.0 * median(info["tlstrace"]["skipped"]) / BULK_SIZE, BULK_SIZE >> 20))
    print("   tlstrace --ringbuf-size %d: %.3f s, %.0f MB/s, drops %d%s" % (
        args.big_ring, big[0], BULK_SIZE / big[0] / 1e6, big[1],
        " (warned: %s)" % big[2][0] if big[2] else ""))


# ---------------------------------------------------------------- filter

FILTER_REQUESTS = 2000


def section_filter(args, srv):
    """--port: what a connection it leaves out still costs, against one it keeps"""
    h2 = ["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{time_total}\\n",
          "https://localhost:%d/size/%d" % (srv.h2_port, BULK_SIZE)]
    many = ["curl", "-sk", "-w", "%{time_total}\\n"] + ["-o", "/dev/null",
        "https://localhost:%d/hello" % srv.port] * FILTER_REQUESTS
    loads = [("HTTP/2, %d MiB, one stream" % (BULK_SIZE >> 20), h2),
             ("HTTP/1.1, %d keep-alive GETs" % FILTER_REQUESTS, many)]
    modes = [("untraced", None), ("tlstrace", []),
             ("tlstrace --port <another>", ["--port", "1"])]
    print("\n== filter: curl traced (tlstrace -- curl) with and without --port leaving its "
          "connection out (median of %d)" % args.bulk_reps)
    print("   %-32s %-26s %8s %7s %9s %9s" % ("load", "tracer", "seconds", "ratio", "records",
                                             "filtered"))
    for load, cmd in loads:
        secs = {m: [] for m, _ in modes}
        recs = {m: [] for m, _ in modes}
        filt = {m: [] for m, _ in modes}
        for r in range(args.bulk_reps):
            for name, mode in modes[r % 3:] + modes[:r % 3]:
                out, stats, _ = run_under(args.tlstrace, mode, cmd)
                secs[name].append(sum(float(t) for t in out.split()))
                if stats:
                    recs[name].append(stats.get("records", 0))
                    filt[name].append(stats.get("calls.filtered", 0))
        base = median(secs["untraced"])
        for name, _ in modes:
            print("   %-32s %-26s %8.3f %7.3f %9s %9s" % (
                load, name, median(secs[name]), median(secs[name]) / base,
                "%d" % median(recs[name]) if recs[name] else "-",
                "%d" % median(filt[name]) if filt[name] else "-"))


# ---------------------------------------------------------------- events


def section_events(args, srv):
    print("\n== events: N keep-alive Python clients on /hello for %d s each, traced by "
          "tlstrace -f json -o a null device; more clients until drops or saturation"
          % args.events_seconds)
    print("   CPU, max RSS: tlstrace's own (all its threads), over the run")
    print("   %-14s %7s %9s %10s %9s %6s %8s %10s %10s" % (
        "mode", "clients", "req/s", "records/s", "entries/s", "drops", "CPU (%)", "CPU us/rec",
        "max RSS"))
    for name, mode in MODES:
        best, prev = None, None
        for clients in args.clients:
            cmd = [sys.executable, CLIENTS, "load", str(srv.port), str(clients),
                   str(args.events_seconds)]
            out, stats, err = run_under(args.tlstrace, mode, cmd)
            res = last_json(out)
            rps = res["requests"] / res["seconds"]
            rec = stats["records"] / res["seconds"]
            ent = stats["entries"] / res["seconds"]
            d = drops(stats)
            cpu = res["tracer_cpu_s"]
            print("   %-14s %7d %9.0f %10.0f %9.0f %6d %8.1f %10.2f %6.1f MiB" % (
                name, clients, rps, rec, ent, d, 100 * cpu / res["tracer_wall_s"],
                cpu * 1e6 / max(stats["records"], 1), res["tracer_mem_kib"]["VmHWM"] / 1024))
            sys.stdout.flush()
            if d:
                print("   drops appeared: stop")
                break
            best = max(best or 0, rec)
            if prev and rps < prev * 1.1:
                print("   the clients saturate (less than 10% more requests than with fewer): "
                      "stop")
                break
            prev = rps
        if best:
            print("   %s: highest zero-drop rate %.0f records/s" % (name, best))


# ---------------------------------------------------------------- idle


def bpf_maps(pid):
    """the BPF maps a process holds: [{name, type, max_entries, memlock, used}]"""
    ids = []
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:bpf-map":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"map_id:\s*(\d+)", f.read())
        except OSError:
            continue
        if m and int(m.group(1)) not in ids:
            ids.append(int(m.group(1)))
    maps = []
    for i in sorted(ids):
        p = subprocess.run(["bpftool", "-j", "map", "show", "id", str(i)], capture_output=True,
                           text=True)
        if p.returncode:
            continue
        m = json.loads(p.stdout)
        used = None
        if "hash" in m["type"]:
            d = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(i)],
                               capture_output=True, text=True)
            if d.returncode == 0:
                used = len(json.loads(d.stdout))
        maps.append({"name": m.get("name", "?"), "type": m["type"],
                     "max_entries": m["max_entries"], "memlock": m.get("bytes_memlock", 0),
                     "used": used})
    return maps


def section_idle(args, srv):
    n = args.idle
    cmd = tlstrace_cmd(args.tlstrace, []) + ["--", sys.executable, CLIENTS, "idle",
                                             str(srv.port), str(n)]
    wait_for_detaches()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line:
        p.wait()
        sys.exit("bench: the idle client failed: " + p.stderr.read()[-500:])
    held = json.loads(line)
    maps = bpf_maps(p.pid)
    p.stdin.write("\n")
    p.stdin.flush()
    closed = json.loads(p.stdout.readline())["closed"]
    out, err = p.communicate(timeout=120)
    stats = parse_stats(err)
    before, after = held["before"]["VmRSS"], held["after"]["VmRSS"]
    print("\n== idle: %d TLS connections opened (one request each, %.1f s) and held, traced "
          "by tlstrace" % (held["connections"], held["open_s"]))
    print("   tlstrace RSS: %.1f MiB before, %.1f MiB with them open (%.2f KiB per connection);"
          " peak %.1f MiB; %.1f MiB after they closed" % (
              before / 1024, after / 1024, (after - before) / held["connections"],
              held["after"]["VmHWM"] / 1024, closed["VmRSS"] / 1024))
    print("   entries %d, drops %d (%s)" % (stats["entries"], drops(stats), " ".join(
        "%s=%d" % (k, v) for k, v in stats.items() if k.startswith("drops."))))
    print("   tlstrace's BPF maps, while the connections were held:")
    print("   %-16s %-16s %11s %9s %11s" % ("map", "type", "max_entries", "in use", "memlock"))
    for m in maps:
        print("   %-16s %-16s %11d %9s %8.1f MiB" % (
            m["name"], m["type"], m["max_entries"], "-" if m["used"] is None else m["used"],
            m["memlock"] / 1048576))
    print("   %-16s %-16s %11s %9s %8.1f MiB (ring buffer %.1f MiB of it)" % (
        "total", "", "", "", sum(m["memlock"] for m in maps) / 1048576,
        sum(m["memlock"] for m in maps if m["type"] == "ringbuf") / 1048576))


# ---------------------------------------------------------------- memory


def section_memory(args, srv):
    print("\n== memory: tlstrace's peak (VmHWM) over its baseline (VmHWM before the load);"
          " target under +50 MB")
    port = free_port()
    mute = subprocess.Popen([sys.executable, CLIENTS, "mute", str(port),
                             os.path.join(srv.work, "cert.pem"),
                             os.path.join(srv.work, "key.pem")],
                            stdout=subprocess.PIPE, text=True)
    KEEP.add(mute.pid)
    try:
        if not mute.stdout.readline():
            sys.exit("bench: the mute server did not start")
        wait_for_detaches()
        cmd = tlstrace_cmd(args.tlstrace, []) + ["--", sys.executable, CLIENTS, "unanswered",
                                                 str(port), "100", str(args.unanswered)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode not in (0, 1):
            sys.exit("bench: unanswered: tlstrace exited with %d: %s"
                     % (p.returncode, p.stderr[-500:]))
        res, stats = last_json(p.stdout), parse_stats(p.stderr)
        peak = max(res["held"]["VmHWM"], res["closed"]["VmHWM"])
        print("   (a) %d GETs over 100 connections, never answered: baseline %.1f MiB, peak "
              "%.1f MiB (+%.1f MB); entries %d, requests_overflow %d, drops %d" % (
                  res["requests"], res["before"]["VmHWM"] / 1024, peak / 1024,
                  (peak - res["before"]["VmHWM"]) * 1024 / 1e6, stats["entries"],
                  stats.get("requests_overflow", 0), drops(stats)))
    finally:
        mute.kill()
        mute.wait()
        KEEP.discard(mute.pid)
    wait_for_detaches()
    cmd = [args.tlstrace, "--stats", "-f", "text", "--no-color", "-o", SINK, "--",
           sys.executable, CLIENTS, "hosts", str(srv.port), str(args.hosts)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if p.returncode not in (0, 1):
        sys.exit("bench: hosts: tlstrace exited with %d: %s" % (p.returncode, p.stderr[-500:]))
    res, stats = last_json(p.stdout), parse_stats(p.stderr)
    print("   (b) %d requests, a Host each (-f text: the summary's rows): baseline %.1f MiB, "
          "peak %.1f MiB (+%.1f MB); entries %d, drops %d" % (
              res["requests"], res["before"]["VmHWM"] / 1024, res["after"]["VmHWM"] / 1024,
              (res["after"]["VmHWM"] - res["before"]["VmHWM"]) * 1024 / 1e6, stats["entries"],
              drops(stats)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- main


# ---------------------------------------------------------------- syscalls

OPEN_LOOP = r"""
import os, sys, time
n = int(sys.argv[1])
t = time.perf_counter()
for _ in range(n):
    os.close(os.open("/dev/null", os.O_RDONLY))
print(time.perf_counter() - t)
"""


# a TCP connection over loopback, n one-byte messages each way's send and read
SOCK_LOOP = r"""
import socket, sys
n = int(sys.argv[1])
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.create_connection(ls.getsockname())
s, _ = ls.accept()
for _ in range(n):
    c.send(b"x")
    s.recv(1)
"""


def prog_ids():
    """the ids of the BPF programs loaded on the host"""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    try:
        return {p["id"]: p for p in json.loads(out.stdout or "[]")}
    except ValueError:
        return {}


def program_costs(args, work, pid):
    """Each of its tracepoint programs' mean run time (kernel.bpf_stats_enabled)
    while a process tlstrace does not trace (-p PID) runs dd, the open loop and
    SOCK_LOOP: what such a process's syscalls pay, from inside, where the wall
    clock cannot tell tens of ns. [(name, runs, ns per run)], or None."""
    stats = "/proc/sys/kernel/bpf_stats_enabled"
    try:
        with open(stats) as f:
            was = f.read().strip()
    except OSError:
        return None
    before = prog_ids()
    tr = HostTracer(args.tlstrace, ["-p", str(pid)], work)
    ours = [i for i in prog_ids() if i not in before]
    try:
        with open(stats, "w") as f:
            f.write("1")
        subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=16", "count=%d" % args.syscalls],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        subprocess.run([sys.executable, "-c", OPEN_LOOP, str(args.syscalls // 5)],
                       stdout=subprocess.DEVNULL, check=True)
        subprocess.run([sys.executable, "-c", SOCK_LOOP, str(args.syscalls // 10)], check=True)
        now = prog_ids()
    finally:
        with open(stats, "w") as f:
            f.write(was)
        tr.stop()
    out = []
    for i in ours:
        p = now.get(i, {})
        if p.get("type") in ("raw_tracepoint", "tracing") and p.get("run_cnt"):
            out.append((p.get("name", "?"), p["run_cnt"], p["run_time_ns"] / p["run_cnt"]))
    return sorted(out, key=lambda x: -x[1])


class HostTracer:
    """tlstrace with no filter (every process on the host), in the background"""

    def __init__(self, tlstrace, mode, work):
        self.err = os.path.join(work, "host-tracer.err")
        with open(self.err, "w") as e:
            self.p = subprocess.Popen([tlstrace] + mode + ["-f", "json", "-o", private_null(work)],
                                      stdout=subprocess.DEVNULL, stderr=e)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.p.poll() is None:
            with open(self.err) as f:
                if "tracing" in f.read():
                    time.sleep(0.5)  # let its start-up scan of /proc settle
                    return
            time.sleep(0.05)
        self.p.kill()
        with open(self.err) as f:
            sys.exit("bench: host-wide tlstrace did not start: " + f.read()[-500:])

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=60)


def section_syscalls(args, work):
    n_rw, n_open = args.syscalls, args.syscalls // 5
    dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=16", "count=%d" % n_rw]
    idle = subprocess.Popen(["sleep", "3600"])
    KEEP.add(idle.pid)
    tracers = {"untraced": None, "tlstrace": [], "tlstrace --timing-only": ["--timing-only"],
               "tlstrace -p OTHER": ["-p", str(idle.pid)],
               "tlstrace --timing-only -p OTHER": ["--timing-only", "-p", str(idle.pid)]}
    names = list(tracers)
    rw = {t: [] for t in names}
    op = {t: [] for t in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            wait_for_detaches()
            tr = HostTracer(args.tlstrace, tracers[name], work) if tracers[name] is not None \
                else None
            try:
                t = time.perf_counter()
                subprocess.run(dd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=True)
                rw[name].append(time.perf_counter() - t)
                p = subprocess.run([sys.executable, "-c", OPEN_LOOP, str(n_open)],
                                   capture_output=True, text=True, check=True)
                op[name].append(float(p.stdout))
            finally:
                if tr:
                    tr.stop()
    costs = program_costs(args, work, idle.pid)
    idle.kill()
    idle.wait()
    KEEP.discard(idle.pid)
    print("\n== the syscall tax: what a process making no TLS call pays while tlstrace "
          "runs, with no filter (it is traced) and with -p of another process (it is not); "
          "median of %d rounds" % args.rounds)
    print("   read/write: dd of %d 16-byte blocks from /dev/zero to /dev/null (%d syscalls); "
          "open: %d open+close of /dev/null" % (n_rw, 2 * n_rw, n_open))
    print("   %-24s %12s %14s %12s %16s" % ("tracer", "dd s", "ns/read|write", "open s",
                                           "ns/open+close"))
    base_rw, base_op = median(rw["untraced"]), median(op["untraced"])
    for name in names:
        m_rw, m_op = median(rw[name]), median(op[name])
        print("   %-24s %12.3f %+14.0f %12.3f %+16.0f" % (
            name, m_rw, (m_rw - base_rw) / (2 * n_rw) * 1e9, m_op,
            (m_op - base_op) / n_open * 1e9))
    if costs is None:
        print("   (kernel.bpf_stats_enabled unavailable: the programs' own run times not measured)")
        return
    print("   what each program of `tlstrace -p OTHER` cost per run (kernel.bpf_stats_enabled), "
          "while an untraced process ran dd, the open loop and %d one-byte messages each way "
          "over a loopback TCP connection:" % (args.syscalls // 10))
    for name, runs, ns in costs:
        print("     %-24s %9d runs %7.0f ns/run" % (name, runs, ns))


# an untraced client on the system's libssl, new connections to the server until killed
BUSY = r"""
import http.client, ssl, sys
ctx = ssl._create_unverified_context()
print("ready", flush=True)
n = 0
while True:
    c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ctx, timeout=10)
    c.request("GET", "/hello")
    c.getresponse().read()
    c.close()
"""


def until_ready(tlstrace, opts):
    """start `tlstrace OPTS` (no command): (process, ms until it says it is tracing)"""
    t = time.perf_counter()
    p = subprocess.Popen([tlstrace, "-f", "json", "-o", SINK] + opts, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if line.startswith("tlstrace: tracing"):
            return p, (time.perf_counter() - t) * 1000
    p.wait()
    sys.exit("bench: tlstrace %s did not start" % " ".join(opts))


def released_ms(p):
    """SIGINT p: ms until it and the child that releases its probes are gone"""
    t = time.perf_counter()
    p.send_signal(signal.SIGINT)
    p.stderr.read()
    p.wait()
    # (the watchdog of held processes, tlstrace-hold, holds no probe)
    while any(comm(pid) != "tlstrace-hold" for pid in reap_orphans()):
        time.sleep(0.002)
    return (time.perf_counter() - t) * 1000


def section_attach(args, srv, work):
    holder = subprocess.Popen([sys.executable, "-c", "import ssl, sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE)
    KEEP.add(holder.pid)
    time.sleep(0.3)
    modes = [("host-wide", []), ("-p PID", ["-p", str(holder.pid)]),
             ("-c python3", ["-c", "python3"])]
    ready, gone, after = {}, {}, {}
    for name, opts in modes:
        ready[name], gone[name], after[name] = [], [], []
        for _ in range(args.rounds):
            wait_for_detaches()
            p, ms = until_ready(args.tlstrace, opts)
            ready[name].append(ms)
            gone[name].append(released_ms(p))
            # another tlstrace detaching while this one starts
            p, _ = until_ready(args.tlstrace, [])
            p.send_signal(signal.SIGINT)
            q, ms = until_ready(args.tlstrace, opts)
            after[name].append(ms)
            p.wait()
            released_ms(q)
    holder.stdin.close()
    holder.wait()
    KEEP.discard(holder.pid)
    print("\n== attaching and detaching (median of %d; a Python process with libssl loaded "
          "as -p's and -c's)" % args.rounds)
    print("   %-12s %16s %22s %20s" % ("selection", "start->tracing ms",
                                      "...beside a detach ms", "SIGINT->released ms"))
    for name, _ in modes:
        print("   %-12s %16.0f %22.0f %20.0f" % (name, median(ready[name]), median(after[name]),
                                                 median(gone[name])))
    print("   (targets: <= 100 ms quiet, <= 300 ms beside a detach; released <= 200 ms)")

    url = "https://localhost:%d/hello" % srv.port
    busy = subprocess.Popen([sys.executable, "-c", BUSY, str(srv.port)], stdout=subprocess.PIPE)
    KEEP.add(busy.pid)
    busy.stdout.readline()
    rows = []
    curls = ["curl", "-sk", "-o", "/dev/null", url, "-o", "/dev/null", url]
    try:
        wait_for_detaches()
        _, st, _ = run_under(args.tlstrace, [], curls, quiet=False)
        rows.append(("-- curl", st))
        for name, opts in [("-c curl", ["-c", "curl"]), ("host-wide", [])]:
            wait_for_detaches()
            p, _ = until_ready(args.tlstrace, opts[:] + ["--stats"])
            subprocess.run(curls, check=True)
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
            rows.append((name, parse_stats(p.stderr.read())))
            p.wait()
        client = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline(); "
                                   "exec(sys.argv[2])", str(srv.port), BUSY.replace(
                                       "while True:", "for _ in range(20):")],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        p, _ = until_ready(args.tlstrace, ["-p", str(client.pid), "--stats"])
        client.stdin.write(b"go\n")
        client.stdin.close()
        client.wait()
        rows.append(("-p client", parse_stats(p.stderr.read())))
        p.wait()
    finally:
        busy.kill()
        busy.wait()
        KEEP.discard(busy.pid)
    print("\n== what an untraced process pays: an untraced Python client on the system's "
          "libssl, new connections in a loop, beside a traced client")
    print("   %-12s %12s %14s" % ("selection", "hits traced", "hits untraced"))
    for name, st in rows:
        print("   %-12s %12d %14d%s" % (name, st["hits.total"], st["hits.untraced"],
                                        "  (host-wide: every process is traced)"
                                        if name == "host-wide" else ""))


def main():
    ap = argparse.ArgumentParser(description="tlstrace benchmark: figures and ratios")
    ap.add_argument("--tlstrace", default=os.path.join(ROOT, "tlstrace"))
    ap.add_argument("--only", action="append", default=[],
                    help="sections to run, comma-separated: " + ", ".join(SECTIONS))
    ap.add_argument("--rounds", type=int, default=7, help="latency: rounds (default 7)")
    ap.add_argument("--new", type=int, default=50,
                    help="latency: new connections per client and round (default 50)")
    ap.add_argument("--ka", type=int, default=500,
                    help="latency: keep-alive requests per client and round (default 500)")
    ap.add_argument("--bulk-reps", type=int, default=3, help="bulk: downloads per tracer (default 3)")
    ap.add_argument("--big-ring", type=int, default=256,
                    help="bulk: the larger --ringbuf-size, MiB (default 256)")
    ap.add_argument("--events-seconds", type=int, default=5, help="events: seconds per load (default 5)")
    ap.add_argument("--clients", default="1,2,4,8",
                    help="events: client counts to try, in order (default 1,2,4,8)")
    ap.add_argument("--idle", type=int, default=10000, help="idle: connections (default 10000)")
    ap.add_argument("--unanswered", type=int, default=100000,
                    help="memory: pipelined GETs never answered (default 100000)")
    ap.add_argument("--hosts", type=int, default=60000,
                    help="memory: requests with a Host each (default 60000)")
    ap.add_argument("--syscalls", type=int, default=1000000,
                    help="syscalls: dd blocks (default 1000000; a fifth as many opens)")
    args = ap.parse_args()
    args.tlstrace = os.path.abspath(args.tlstrace)
    args.clients = [int(c) for c in args.clients.split(",")]
    only = [s for o in args.only for s in o.split(",") if s] or SECTIONS
    for s in only:
        if s not in SECTIONS:
            ap.error("unknown section '%s': %s" % (s, ", ".join(SECTIONS)))
    if os.geteuid():
        sys.exit("bench: run as root")
    for tool in ["nginx", "curl"] + (["bpftrace"] if "latency" in only else []):
        if not shutil.which(tool):
            sys.exit("bench: %s is missing (bench/run.sh installs it)" % tool)

    become_subreaper()
    t0 = time.monotonic()
    print("tlstrace benchmark, %d CPUs; %s" % (os.cpu_count(), load_note()), flush=True)
    work = args.workdir = tempfile.mkdtemp(prefix="tlstrace-bench-")
    global SINK
    SINK = private_null(work)
    srv = Nginx(work)
    try:
        hits = None
        if "hits" in only or "latency" in only:
            hits = section_hits(args, srv)
            sys.stdout.flush()
        if "latency" in only:
            section_latency(args, srv, work, hits)
            sys.stdout.flush()
        if "go" in only:
            section_go(args, srv, work)
            sys.stdout.flush()
        if "bulk" in only:
            section_bulk(args, srv)
            sys.stdout.flush()
        if "filter" in only:
            section_filter(args, srv)
            sys.stdout.flush()
        if "events" in only:
            section_events(args, srv)
            sys.stdout.flush()
        if "idle" in only:
            section_idle(args, srv)
            sys.stdout.flush()
        if "memory" in only:
            section_memory(args, srv)
            sys.stdout.flush()
        if "syscalls" in only:
            section_syscalls(args, work)
            sys.stdout.flush()
        if "attach" in only:
            section_attach(args, srv, work)
        wait_for_detaches()
        print("\n%.0f s; at the end: %s" % (time.monotonic() - t0, load_note()))
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
