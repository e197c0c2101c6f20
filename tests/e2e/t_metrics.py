# SPDX-License-Identifier: MIT
"""End-to-end tests of --metrics-addr: the Prometheus endpoint.

Real curl fetches (new connections, keep-alive, a 404, a refused connect)
are traced with -c curl while the endpoint serves; what /metrics says is
checked against the JSON entries of the same run, by promtool, and by a real
Prometheus server that scrapes it.
"""

import errno
import json
import math
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from select import POLLOUT, poll

from harness import (Failure, describe_exit, expect, free_port, listening, need, read_entries,
                     read_line)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
           0.25, 0.5, 1, 2.5, 5, 10]
HISTOGRAMS = {
    "lookup": "tlstrace_lookup_duration_seconds",
    "connect": "tlstrace_connect_duration_seconds",
    "tls": "tlstrace_tls_handshake_duration_seconds",
    "ttfb": "tlstrace_time_to_first_byte_seconds",
    "total": "tlstrace_request_duration_seconds",
}
# JSON rounds times to the microsecond: a difference of two is within 1 us
US = 1e-6
# the daemon test traces nothing: a name no process has
DAEMON_OPTS = ["-d", "0", "-c", "no-such-comm"]
# the endpoint's own defence: connections it closed to make room, or at once
EVICTED = "tlstrace_metrics_connections_evicted_total"
REFUSED = "tlstrace_metrics_connections_refused_total"

# no proxy from the environment between us and a loopback port
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url, method="GET", timeout=5):
    """(status, content type, body text); HTTP errors are answers too."""
    req = urllib.request.Request(url, method=method)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as ex:
        return ex.code, ex.headers.get("Content-Type"), ex.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as ex:
        raise Failure("GET %s: %s" % (url, getattr(ex, "reason", ex)))


# --- the exposition format ----------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse(text):
    """[(name, {label: value}, float)] of every sample line."""
    samples = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        expect(m, "/metrics line %d does not parse: %r" % (n, line[:120]))
        labels, rest = {}, m.group(2) or ""
        while rest:
            lm = LABEL.match(rest)
            expect(lm, "/metrics line %d: bad labels %r" % (n, rest[:120]))
            labels[lm.group(1)] = unescape(lm.group(2))
            rest = rest[lm.end():]
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def select(samples, name, **want):
    return [(lb, v) for n, lb, v in samples
            if n == name and all(lb.get(k) == w for k, w in want.items())]


def total(samples, name, **want):
    return sum(v for _, v in select(samples, name, **want))


# --- running it -----------------------------------------------------------------

def start_tracer(env, test, addr, opts):
    """tlstrace -f json -o FILE --metrics-addr ADDR OPTS, once it is tracing."""
    out = env.out_file(test)
    errpath = env.path(test + ".stderr")
    with open(errpath, "wb") as err:
        p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--metrics-addr", addr]
                            + list(opts),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    p.out_file, p.err_file = out, errpath
    env.wait_attached(p)
    return p


def stop_tracer(env, p):
    p.send_signal(signal.SIGINT)
    rc = env.procs.wait(p, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s after SIGINT%s" % (describe_exit(rc), env.err_hint(p)))


def start_fetches(env, test, addr):
    """tlstrace --metrics-addr ADDR -- sh: six fetches by curl (four new TLS
    connections, one carrying a second, reused request; a 404 among them; a
    refused connect), then the shell says "fetched" and waits for a line, so
    that tlstrace still serves while the test scrapes. Returns (tlstrace,
    the refused port)."""
    refused = free_port()
    script = """
        c() { curl -sk -o /dev/null "$@"; }
        c "$1" && c "$2" && c -o /dev/null "$1" "$3" && c "$4" || exit 1
        curl -sk "https://127.0.0.1:$5/"; [ $? = 7 ] || exit 2
        echo fetched; read x
    """
    out = env.out_file(test)
    errpath = env.path(test + ".stderr")
    with open(errpath, "wb") as err:
        p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--metrics-addr", addr,
                             "--", "sh", "-c", script, "sh", env.url("/hello"),
                             env.url("/size/2000"), env.url("/size/300"),
                             env.url("/no-such-page"), str(refused)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    p.out_file, p.err_file = out, errpath
    line = read_line(p, 60, "the fetches")
    expect(line == "fetched", "the fetches printed %r, tlstrace %s%s"
           % (line, describe_exit(p.poll()), env.err_hint(p)))
    return p, refused


def end_fetches(env, p):
    """Let the shell exit; tlstrace exits with its status."""
    p.stdin.write(b"\n")
    p.stdin.close()
    rc = env.procs.wait(p, 30, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(p)))


def scrape_until(url, want_entries, timeout=10):
    """/metrics once it counts want_entries entries of curl, and the drop
    counters (published every second) are in."""
    deadline = time.monotonic() + timeout
    while True:
        status, ctype, text = http(url)
        expect(status == 200, "/metrics answered %d" % status)
        samples = parse(text)
        got = total(samples, "tlstrace_entries_total", process="curl")
        drops = select(samples, "tlstrace_drops_total", cause="ringbuf")
        if (got == want_entries and drops) or time.monotonic() > deadline:
            return ctype, text, samples, got
        time.sleep(0.1)


# --- what the JSON entries say the histograms must hold ---------------------------

def outcome(e):
    x = e["tlstrace"]
    if x.get("failedPhase"):
        return x["failedPhase"]
    if e["responseStatus"] >= 500:
        return "http_5xx"
    if e["responseStatus"] >= 400:
        return "http_4xx"
    return "ok"


def phases(e):
    """{histogram: seconds} that the entry must have been observed in."""
    x = e["tlstrace"]
    failed = x.get("failedPhase")
    t = dict(e)
    if failed:
        t.update({k: 0 for k in ("domainLookupStart", "domainLookupEnd", "connectStart",
                                 "secureConnectionStart", "connectEnd", "requestStart",
                                 "responseStart")})
        t.update(x.get("partialTimings", {}))
    end = e["responseEnd"]
    out = {"total": (end - e["startTime"]) / 1e3}
    if not x["reused"] and x["connectionObserved"]:
        if t["domainLookupEnd"] > t["domainLookupStart"] > 0:
            out["lookup"] = (t["domainLookupEnd"] - t["domainLookupStart"]) / 1e3
        cs, ss, ce = t["connectStart"], t["secureConnectionStart"], t["connectEnd"]
        if cs:
            cend = ss or ce or (end if failed == "connect" else 0)
            if cend:
                out["connect"] = (cend - cs) / 1e3
        if ss:
            tend = ce or (end if failed == "tls" else 0)
            if tend:
                out["tls"] = (tend - ss) / 1e3
    if t["requestStart"] and t["responseStart"]:
        out["ttfb"] = (t["responseStart"] - t["requestStart"]) / 1e3
    return out


def check_histograms(samples, entries, server_of):
    """Every histogram series of curl against the entries: count, sum and each
    bucket (a value within 2 us of a bound may fall either side of it)."""
    want = {}
    for e in entries:
        for h, secs in phases(e).items():
            want.setdefault((h, server_of(e), outcome(e)), []).append(secs)
    for h, name in HISTOGRAMS.items():
        series = select(samples, name + "_count", process="curl", role="client")
        got_keys = {(h, lb["server"], lb["outcome"]) for lb, _ in series}
        want_keys = {k for k in want if k[0] == h}
        expect(got_keys == want_keys, "%s series %s, want %s"
               % (name, sorted(got_keys), sorted(want_keys)))
        for key in want_keys:
            vals = want[key]
            lbl = {"process": "curl", "server": key[1], "outcome": key[2]}
            count = total(samples, name + "_count", **lbl)
            expect(count == len(vals), "%s%s count %g, want %d" % (name, lbl, count, len(vals)))
            s = total(samples, name + "_sum", **lbl)
            expect(abs(s - sum(vals)) <= 2 * US * len(vals),
                   "%s%s sum %.9f, the entries say %.9f" % (name, lbl, s, sum(vals)))
            buckets = select(samples, name + "_bucket", **lbl)
            les = [b["le"] for b, _ in buckets]
            expect(les == ["%g" % b for b in BUCKETS] + ["+Inf"],
                   "%s%s buckets %s" % (name, lbl, les))
            prev = 0
            for b, v in buckets:
                expect(v >= prev, "%s%s not cumulative at le=%s" % (name, lbl, b["le"]))
                prev = v
                bound = math.inf if b["le"] == "+Inf" else float(b["le"])
                n = sum(1 for x in vals if x <= bound)
                near = any(abs(x - bound) <= 2 * US for x in vals)
                expect(v == n or near, "%s%s le=%s holds %g, the entries say %d"
                       % (name, lbl, b["le"], v, n))
            expect(prev == count, "%s%s +Inf %g != count %g" % (name, lbl, prev, count))


# --- tests -------------------------------------------------------------------------

def test_metrics_promtool(env):
    """Real fetches, then /metrics: promtool accepts it, and every counter and
    histogram agrees with the JSON entries of the same run."""
    need("curl")
    promtool = need("promtool")
    env.require_server()
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    p, refused = start_fetches(env, "metrics_promtool", "127.0.0.1:%d" % port)
    ctype, text, samples, got = scrape_until(base + "/metrics", 6)
    end_fetches(env, p)

    with open(env.path("metrics_promtool.prom"), "w") as f:
        f.write(text)
    expect(ctype == CONTENT_TYPE, "Content-Type %r, want %r" % (ctype, CONTENT_TYPE))
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    expect(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
           "promtool check metrics exited %d: %s" % (r.returncode,
                                                     (r.stdout + r.stderr).strip()[:300]))

    entries = [e for e in read_entries(p.out_file) if e["tlstrace"]["comm"] == "curl"]
    expect(len(entries) == 6, "%d JSON entries of curl, want 6: %s"
           % (len(entries), [e["name"] for e in entries]))
    expect(got == 6, "tlstrace_entries_total of curl is %g, want 6 (the fetches)" % got)
    server = "localhost:%d" % env.port
    lbl = {"process": "curl", "role": "client"}
    for oc, n in (("ok", 4), ("http_4xx", 1)):
        v = total(samples, "tlstrace_entries_total", server=server, outcome=oc, **lbl)
        expect(v == n, "entries_total{server=%s,outcome=%s} = %g, want %d" % (server, oc, v, n))
    v = total(samples, "tlstrace_entries_total", server="127.0.0.1:%d" % refused,
              outcome="connect", **lbl)
    expect(v == 1, "the refused connect: entries_total = %g, want 1" % v)
    fails = select(samples, "tlstrace_failures_total", process="curl")
    expect([(f["server"], f["phase"], v) for f, v in fails] ==
           [("127.0.0.1:%d" % refused, "connect", 1)],
           "failures_total %s, want the refused connect alone" % fails)

    def server_of(e):
        return "127.0.0.1:%d" % refused if outcome(e) == "connect" else server
    check_histograms(samples, entries, server_of)
    expect(total(samples, "tlstrace_tls_handshake_duration_seconds_count", **lbl) == 4,
           "want 4 TLS handshakes (the reused request has none)")
    expect(total(samples, "tlstrace_time_to_first_byte_seconds_count", **lbl) == 5,
           "want 5 first bytes (all but the refused connect)")

    for cause in ("ringbuf", "thread_map", "socket_map", "read_failure", "bad_record",
                  "unmatched", "requests_overflow"):
        expect(select(samples, "tlstrace_drops_total", cause=cause),
               "no tlstrace_drops_total{cause=%r}" % cause)
    expect(total(samples, "tlstrace_drops_total", cause="ringbuf") == 0, "ring buffer drops")
    start = total(samples, "process_start_time_seconds")
    expect(abs(start - (time.time() - 60)) < 600 and start <= time.time(),
           "process_start_time_seconds %r is not a few seconds ago" % start)


def test_metrics_prometheus(env):
    """A real Prometheus scrapes the endpoint every second; its queries give
    back what the fetches were."""
    need("curl")
    prometheus = need("prometheus")
    env.require_server()
    port, web = free_port(), free_port()
    p, refused = start_fetches(env, "metrics_prometheus", "127.0.0.1:%d" % port)
    _, _, samples, got = scrape_until("http://127.0.0.1:%d/metrics" % port, 6)
    expect(got == 6, "tlstrace_entries_total of curl is %g, want 6" % got)

    tsdb = tempfile.mkdtemp(prefix="prometheus-", dir=env.workdir)
    config = os.path.join(tsdb, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: tlstrace\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % port)
    log = env.path("metrics_prometheus.prometheus.log")
    with open(log, "wb") as lf:
        prom = env.procs.spawn([prometheus, "--config.file", config,
                                "--storage.tsdb.path", os.path.join(tsdb, "data"),
                                "--web.listen-address", "127.0.0.1:%d" % web],
                               stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    api = "http://127.0.0.1:%d/api/v1/" % web

    def query(q):
        status, _, body = http(api + "query?" + urllib.parse.urlencode({"query": q}))
        expect(status == 200, "Prometheus answered %d to %s: %s" % (status, q, body[:200]))
        result = json.loads(body)["data"]["result"]
        return [(r["metric"], float(r["value"][1])) for r in result]

    deadline = time.monotonic() + 60
    while True:
        expect(prom.poll() is None, "prometheus %s (see %s)" % (describe_exit(prom.returncode),
                                                              log))
        try:
            res = query('sum(tlstrace_entries_total{process="curl"})')
            if res and res[0][1] == 6:
                break
        except Failure:
            pass  # not listening yet
        expect(time.monotonic() < deadline,
               "Prometheus did not scrape 6 entries of curl within 60 s (see %s)" % log)
        time.sleep(0.5)

    status, _, body = http(api + "targets")
    targets = json.loads(body)["data"]["activeTargets"]
    expect(len(targets) == 1 and targets[0]["health"] == "up" and not targets[0]["lastError"],
           "scrape target: %s" % [(t["health"], t["lastError"]) for t in targets])
    res = query('tlstrace_failures_total{process="curl"}')
    expect([(m["server"], m["phase"], v) for m, v in res] ==
           [("127.0.0.1:%d" % refused, "connect", 1)], "failures_total: %s" % res)
    res = query('sum by (outcome) (tlstrace_entries_total{process="curl"})')
    expect(sorted((m["outcome"], v) for m, v in res) ==
           [("connect", 1), ("http_4xx", 1), ("ok", 4)], "entries by outcome: %s" % res)
    # the histogram: what Prometheus derives from our buckets is what we served
    served = total(samples, "tlstrace_request_duration_seconds_sum", process="curl")
    res = query('sum(tlstrace_request_duration_seconds_sum{process="curl"})')
    expect(res and abs(res[0][1] - served) < 1e-9,
           "request duration sum %s, /metrics said %.9f" % (res, served))
    ttfb = [(lb, v) for lb, v in select(samples, "tlstrace_time_to_first_byte_seconds_bucket",
                                        process="curl")]
    cum = {}
    for lb, v in ttfb:
        cum[lb["le"]] = cum.get(lb["le"], 0) + v
    top = min((float(le) for le, v in cum.items() if le != "+Inf" and v == 5), default=None)
    expect(top is not None, "a TTFB over 10 s?")
    res = query('histogram_quantile(1, sum by (le) '
                '(tlstrace_time_to_first_byte_seconds_bucket{process="curl"}))')
    expect(res and abs(res[0][1] - top) < 1e-12,
           "histogram_quantile(1) of TTFB %s, want the bucket bound %g" % (res, top))
    res = query('histogram_quantile(0.5, sum by (le) '
                '(tlstrace_time_to_first_byte_seconds_bucket{process="curl"}))')
    expect(res and 0 < res[0][1] <= top, "median TTFB %s" % res)
    end_fetches(env, p)
    env.procs.stop(prom)
    return "median TTFB %.3f ms by histogram_quantile" % (res[0][1] * 1e3)


def test_metrics_daemon(env):
    """-d 0 runs until a signal; / links /metrics, other paths are 404, HEAD
    works; after exit the port is free at once (the child that releases the
    uprobes must not keep it) and [::1] works too."""
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    p = start_tracer(env, "metrics_daemon", "127.0.0.1:%d" % port, DAEMON_OPTS)
    time.sleep(1.5)
    expect(p.poll() is None, "tlstrace -d 0 %s" % describe_exit(p.returncode))
    status, ctype, body = http(base + "/")
    expect(status == 200 and 'href="/metrics"' in body, "/ answered %d %r" % (status, body[:80]))
    status, _, _ = http(base + "/nothing-here")
    expect(status == 404, "/nothing-here answered %d, want 404" % status)
    status, ctype, body = http(base + "/metrics", method="HEAD")
    expect(status == 200 and ctype == CONTENT_TYPE and body == "",
           "HEAD /metrics: %d %r %r" % (status, ctype, body[:40]))
    status, _, _ = http(base + "/metrics", method="POST")
    expect(status == 405, "POST /metrics answered %d, want 405" % status)
    stop_tracer(env, p)
    expect(not listening(os.getpid(), port),
           "port %d still listening after tlstrace exited" % port)

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return "IPv6 loopback not available: [::1] not tried"
    p = start_tracer(env, "metrics_daemon6", "[::1]:%d" % port, DAEMON_OPTS)
    status, ctype, body = http("http://[::1]:%d/metrics" % port)
    expect(status == 200 and "tlstrace_build_info" in body, "[::1]: %d %r" % (status, body[:80]))
    expect(listening(os.getpid(), port), "nothing listens on [::1]:%d" % port)
    stop_tracer(env, p)


def test_metrics_bad_addr(env):
    """Bad --metrics-addr values and a port in use: one line, non-zero exit,
    and the command never runs."""
    marker = env.path("metrics_bad_addr.ran")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    in_use = busy.getsockname()[1]
    cases = [
        ("127.0.0.1:0", "port 0"),
        ("127.0.0.1:65536", "invalid port"),
        ("localhost:http", "invalid port"),
        ("::1:9464", "brackets"),
        ("[::1]9464", "[IPv6]:PORT"),
        ("no-such-host.invalid:9464", "cannot resolve"),
        ("192.0.2.1:9464", "not an address of this host"),
        ("9464", "HOST:PORT"),
        (":99999", "invalid port"),
        ("127.0.0.1:%d" % in_use, "already in use"),
    ]
    # what its form alone refuses is a usage error, before anything is loaded
    usage = {"127.0.0.1:0", "127.0.0.1:65536", "localhost:http", "::1:9464", "[::1]9464",
             "9464", ":99999"}
    try:
        for addr, why in cases:
            if os.path.exists(marker):
                os.unlink(marker)
            rc, _, err = env.procs.run([env.tlstrace, "--metrics-addr", addr, "--",
                                        "touch", marker], 30, "tlstrace")
            lines = err.splitlines()
            expect(rc not in (0, None) and rc > 0 and (rc == 2) == (addr in usage),
                   "--metrics-addr %s: tlstrace %s (2 only for a usage error)"
                   % (addr, describe_exit(rc)))
            expect(len(lines) == 1 and lines[0].startswith("tlstrace: ") and why in lines[0]
                   and addr in lines[0],
                   "--metrics-addr %s: stderr %r, want one line saying %r" % (addr, err, why))
            expect(not os.path.exists(marker), "--metrics-addr %s: the command ran" % addr)
    finally:
        busy.close()


class IdleFlood:
    """Idle TCP connections to 127.0.0.1:port, from local addresses of the
    test's choosing: each connects and sends nothing, as a client that only
    means to hold a slot would."""

    def __init__(self, port):
        self.port = port
        self.socks = {}  # socket: None while connecting, else its connect's errno
        self.opened = 0

    def open(self, n, source="127.0.0.1"):
        """n more connections from source, connecting in the background."""
        for _ in range(n):
            s = socket.socket()
            s.bind((source, 0))
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", self.port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                raise Failure("connect from %s: %s" % (source, os.strerror(err)))
            self.socks[s] = 0 if err == 0 else None
            self.opened += 1

    def connected(self, timeout):
        """How many connections are established (the server's kernel
        answered), waiting up to timeout seconds for those still connecting."""
        deadline = time.monotonic() + timeout
        while True:
            pending = {s.fileno(): s for s, err in self.socks.items() if err is None}
            if not pending or time.monotonic() > deadline:
                return sum(1 for err in self.socks.values() if err == 0)
            waiter = poll()
            for fd in pending:
                waiter.register(fd, POLLOUT)
            for fd, _ in waiter.poll(100):
                s = pending[fd]
                self.socks[s] = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)

    def refill(self):
        """Close the connections the server has closed, as an attacker would
        before opening new ones; returns how many there were."""
        gone = []
        for s, err in self.socks.items():
            if err is None:
                continue
            try:
                closed = err != 0 or s.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:
                gone.append(s)
        for s in gone:
            del self.socks[s]
            s.close()
        return len(gone)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = {}


def test_metrics_idle_flood(env):
    """Hundreds of idle connections from the scraper's own host (127.0.0.1 and
    127.0.0.2, one source) do not stop a scrape: each scrape answers within
    3 s while the flood is held open and renewed, and the evictions are
    counted on /metrics."""
    port = free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    p = start_tracer(env, "metrics_idle_flood", "127.0.0.1:%d" % port, DAEMON_OPTS)
    status, _, _ = http(url)
    expect(status == 200, "/metrics answered %d before the flood" % status)

    flood = IdleFlood(port)
    latencies = []
    try:
        flood.open(200)
        flood.open(40, source="127.0.0.2")
        held = flood.connected(10)
        for round_ in range(3):
            t0 = time.monotonic()
            try:
                status, _, text = http(url, timeout=3)
            except Failure as ex:
                raise Failure("scrape %d under %d idle connections (%d connected): %s"
                              % (round_ + 1, len(flood.socks), held, ex))
            latencies.append(time.monotonic() - t0)
            expect(status == 200, "scrape %d under the flood answered %d" % (round_ + 1, status))
            expect(latencies[-1] < 3, "scrape %d took %.1f s under the flood"
                   % (round_ + 1, latencies[-1]))
            # the attacker reconnects what was closed, and opens more
            flood.refill()
            flood.open(240 - len(flood.socks))
            held = flood.connected(10)
        expect(held == len(flood.socks), "only %d of %d idle connections connected"
               % (held, len(flood.socks)))
        expect(p.poll() is None, "tlstrace %s under the flood%s"
               % (describe_exit(p.returncode), env.err_hint(p)))
    finally:
        opened = flood.opened
        flood.close()

    time.sleep(1.1)  # the text is rendered at most once a second
    status, _, text = http(url)
    expect(status == 200, "/metrics answered %d after the flood" % status)
    after = parse(text)
    for name in (EVICTED, REFUSED):
        expect(len(select(after, name)) == 1, "no %s on /metrics" % name)
    evicted, refused = total(after, EVICTED), total(after, REFUSED)
    # the endpoint holds far fewer than 200 connections: the rest were closed
    expect(evicted + refused >= opened - 200,
           "%d idle connections opened, %s %d and %s %d"
           % (opened, EVICTED, evicted, REFUSED, refused))
    stop_tracer(env, p)
    return ("%d idle connections opened; scrapes in %s ms; %d evicted, %d refused"
            % (opened, "/".join("%.0f" % (t * 1e3) for t in latencies), evicted, refused))


def test_metrics_trickled_bodies(env):
    """Connections that send a request head announcing a 100 MB body, then
    one byte a second (the table counts them as serving, so not idle): each
    is answered 400 at once and closed, and scrapes from the same host get
    through all the while."""
    port = free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    p = start_tracer(env, "metrics_trickled_bodies", "127.0.0.1:%d" % port, DAEMON_OPTS)
    head = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
    socks, answers = [], []
    try:
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(head)
            socks.append(s)
        for round_ in range(4):
            for s in socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            status, _, _ = http(url, timeout=3)
            expect(status == 200, "scrape %d among trickled bodies answered %d"
                   % (round_ + 1, status))
            time.sleep(1)
        for s in socks[:5]:
            try:
                answers.append(s.recv(64).split(b"\r\n")[0])
            except OSError as ex:
                answers.append(repr(ex).encode())
    finally:
        for s in socks:
            s.close()
    expect(all(a.startswith(b"HTTP/1.1 400") for a in answers),
           "a request with a body got %r" % answers)
    stop_tracer(env, p)
