# SPDX-License-Identifier: MIT
"""What the end-to-end tests share: the environment a test gets (Env: the
HTTPS test server and its plain and HTTP/2 twins, tlstrace run to completion
or started in the background), child processes (Procs), the checks of an
entry's fields (those of docs/semantics.md), clients run under a
private /etc/hosts, and servers run under tlstrace.

A test is a function test_NAME(env) in a module t_*.py, which takes what it
needs from here; run.py finds it by its name (see run.py). It fails by
raising Failure (expect() does), skips by raising Skip (need() does), and may
return a detail for its PASS line.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

READY_LINE = "tlstrace: tracing"  # printed on stderr once probes are attached
TOL_MS = 0.3  # accuracy_bracket tolerance around each bracket


def bracket_deviation(at, bracket, side):
    """How far an instant at (ms) is from the side (0 entry, 1 return) of a
    bracket_client bracket [before, after, waited]. When the client's
    thread waited for a CPU inside the bracket (waited ms), the wait may lie
    between the call and the clock read on that side, which is then off by
    up to that much: an instant inside the bracket is allowed that much
    more. Returns (ms, whether the wait was needed to explain it)."""
    lo, hi = bracket[0], bracket[1]
    dev = abs(at - bracket[side])
    waited = bracket[2] if len(bracket) > 2 else 0.0
    if dev <= TOL_MS or not lo - TOL_MS <= at <= hi + TOL_MS or dev > waited + TOL_MS:
        return dev, False
    return dev - waited, True
EPS_MS = 1e-6  # for fields that must be equal
ORIGIN_SLACK_MS = 20.0  # process start times may be jiffy-rounded

ENTRY_KEYS = [
    "name", "entryType", "initiatorType", "startTime", "fetchStart",
    "workerStart", "redirectStart", "redirectEnd", "domainLookupStart",
    "domainLookupEnd", "connectStart", "secureConnectionStart", "connectEnd",
    "requestStart", "firstInterimResponseStart", "responseStart",
    "responseEnd", "duration", "nextHopProtocol", "transferSize",
    "encodedBodySize", "decodedBodySize", "responseStatus", "deliveryType",
    "renderBlockingStatus", "serverTiming", "tlstrace",
]
TIME_FIELDS = [
    "startTime", "fetchStart", "workerStart", "redirectStart", "redirectEnd",
    "domainLookupStart", "domainLookupEnd", "connectStart",
    "secureConnectionStart", "connectEnd", "requestStart",
    "firstInterimResponseStart", "responseStart", "responseEnd", "duration",
]
# Must be non-decreasing wherever non-zero.
ORDER = [
    "startTime", "domainLookupStart", "domainLookupEnd", "connectStart",
    "secureConnectionStart", "connectEnd", "requestStart", "responseStart",
    "responseEnd",
]
# Collapsed onto the request write for an entry on a reused connection.
REUSED_EQUAL = [
    "startTime", "fetchStart", "domainLookupStart", "domainLookupEnd",
    "connectStart", "secureConnectionStart", "connectEnd", "requestStart",
]
NUMBER = (int, float)
EXT_TYPES = {
    "timeOrigin": NUMBER, "pid": int, "tid": int, "comm": str, "role": str,
    "connectionId": int, "reused": bool, "localAddress": str,
    "remoteAddress": str, "tcpConnectEnd": NUMBER, "tls": dict,
}

# HTTPS client used by python_ssl, attach_pid and comm_filter.
#   argv: PORT [--fresh] [--wait] PATH...
#   --fresh: a new connection per request (default: one keep-alive connection)
#   --wait:  print "ready" (libssl loaded), then wait for a line on stdin
# Prints "PATH STATUS BODYLEN" per request.
PY_CLIENT = r"""
import http.client, ssl, sys
args = sys.argv[1:]
fresh, wait = "--fresh" in args, "--wait" in args
args = [a for a in args if not a.startswith("--")]
port, paths = int(args[0]), args[1:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if wait:
    print("ready", flush=True)
    sys.stdin.readline()
conn = None
for path in paths:
    if conn is None:
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    print(path, resp.status, len(resp.read()), flush=True)
    if fresh:
        conn.close()
        conn = None
if conn is not None:
    conn.close()
"""


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def wall_ms():
    return time.time_ns() / 1e6


def stderr_hint(text):
    lines = [l for l in text.splitlines() if l.strip()]
    if not lines:
        return ""
    last = lines[-1].strip()
    return " (stderr: %s)" % (last[:160] + "..." if len(last) > 160 else last)


def describe_exit(rc):
    """'exited N' or 'was killed by SIGX' for a Popen return code."""
    if rc is not None and rc < 0:
        try:
            return "was killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "was killed by signal %d" % -rc
    return "exited %s" % rc


def need(tool):
    path = shutil.which(tool)
    if not path:
        raise Skip("%s not installed" % tool)
    return path


# --- processes ---------------------------------------------------------------

class Procs:
    """Children run in their own session, so a whole group can be stopped."""

    def __init__(self):
        self.live = []

    def spawn(self, cmd, **kw):
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.live.append(p)
        return p

    @staticmethod
    def signal_group(p, sig):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, p, grace=2.0):
        """Stop p and whatever is left of its process group."""
        if p.poll() is None:
            self.signal_group(p, signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal_group(p, signal.SIGKILL)
                p.wait()
        # Stragglers (e.g. a traced child outliving tlstrace).
        self.signal_group(p, signal.SIGKILL)
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                f.close()

    def stop_all(self):
        while self.live:
            self.stop(self.live.pop())

    def wait(self, p, timeout, what):
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(p)
            raise Failure("%s timed out after %gs" % (what, timeout))

    def run(self, cmd, timeout, what, input=None, **kw):
        """Run cmd to completion; return (rc, stdout, stderr) as text."""
        p = self.spawn(cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        try:
            out, err = p.communicate(input.encode() if input is not None else None, timeout)
        except subprocess.TimeoutExpired:
            self.stop(p)
            raise Failure("%s timed out after %gs" % (what, timeout))
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def start_python(env, script, args, ready="ready"):
    """Start `python3 -c script ARGS...` with its stdin and stdout on pipes, and
    wait until it prints ready (it has set up, and waits for a line on stdin)."""
    client = env.procs.spawn([sys.executable, "-c", script] + list(args),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(client, 10, "python client") == ready, "python client did not start")
    return client


def read_line(p, timeout, what):
    """One line of p's stdout (a pipe), or Failure after timeout."""
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    expect(ready, "%s printed nothing within %gs" % (what, timeout))
    return p.stdout.readline().decode(errors="replace").strip()


def wait_for_detaches(timeout=20):
    """An exiting tlstrace leaves a child that releases its uprobes, which the
    kernel does one at a time; a tlstrace started meanwhile attaches slowly,
    and the tests that time a runtime attach would race it. Let them finish."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    stat_line = f.read()
            except OSError:
                continue
            # "(tlstrace)" with parent 1: a detaching child, not a running tracer
            name = stat_line[stat_line.find("(") + 1:stat_line.rfind(")")]
            fields = stat_line[stat_line.rfind(")") + 2:].split()
            if name == "tlstrace" and fields and fields[0] != "Z" and fields[1] == "1":
                busy = True
                break
        if not busy:
            return
        time.sleep(0.05)


# --- entries -----------------------------------------------------------------

def to_port(entries, port):
    """The client entries whose server is 127.0.0.1:port or [::1]:port: a
    host-wide or -c tracer's entries of the test's own fetches, not those of
    another session's programs that happen to share a name."""
    return [e for e in entries
            if e["tlstrace"].get("remoteAddress", "").rsplit(":", 1)[-1] == str(port)]


def read_entries(path, hint=""):
    if not os.path.exists(path):
        raise Failure("no output file %s%s" % (path, hint))
    entries = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError as ex:
                raise Failure("%s:%d: bad JSON: %s" % (os.path.basename(path), n, ex))
            expect(isinstance(e, dict), "%s:%d: not a JSON object" % (os.path.basename(path), n))
            entries.append(e)
    return entries


def expect_count(entries, n):
    names = [e.get("name") for e in entries]
    expect(len(entries) == n, "expected %d entries, got %d %s" % (n, len(entries), names[:5]))


def is_number(v):
    return isinstance(v, NUMBER) and not isinstance(v, bool)


def check_shape(e, i, content_encoded=False, role="client"):
    """Keys, constant fields and fields derived from others. With
    content_encoded, the caller checks decodedBodySize itself."""
    keys = list(e.keys())
    if keys != ENTRY_KEYS:
        missing = [k for k in ENTRY_KEYS if k not in e]
        extra = [k for k in keys if k not in ENTRY_KEYS]
        if missing or extra:
            raise Failure("entry %d: missing keys %s, unexpected keys %s" % (i, missing, extra))
        raise Failure("entry %d: keys out of order: %s" % (i, keys))
    sizes = ["transferSize", "encodedBodySize", "decodedBodySize", "responseStatus"]
    for k in TIME_FIELDS + sizes:
        expect(is_number(e[k]), "entry %d: %s is not a number: %r" % (i, k, e[k]))
    constants = {
        "entryType": "resource", "initiatorType": "other", "workerStart": 0,
        "redirectStart": 0, "redirectEnd": 0, "deliveryType": "",
        "renderBlockingStatus": "non-blocking", "serverTiming": [],
    }
    for k, want in constants.items():
        expect(e[k] == want, "entry %d: %s = %r, want %r" % (i, k, e[k], want))
    expect(e["startTime"] == e["fetchStart"],
           "entry %d: startTime %r != fetchStart %r" % (i, e["startTime"], e["fetchStart"]))
    expect(abs(e["duration"] - (e["responseEnd"] - e["startTime"])) < 0.002,
           "entry %d: duration %r != responseEnd - startTime" % (i, e["duration"]))
    expect(e["transferSize"] == e["encodedBodySize"] + 300,
           "entry %d: transferSize %r != encodedBodySize + 300" % (i, e["transferSize"]))
    expect(content_encoded or e["decodedBodySize"] == e["encodedBodySize"],
           "entry %d: decodedBodySize %r != encodedBodySize %r (no Content-Encoding)"
           % (i, e["decodedBodySize"], e["encodedBodySize"]))

    ext = e["tlstrace"]
    expect(isinstance(ext, dict), "entry %d: tlstrace is not an object" % i)
    for k, typ in EXT_TYPES.items():
        expect(k in ext, "entry %d: tlstrace.%s missing" % (i, k))
        ok = isinstance(ext[k], typ) and (typ is bool or not isinstance(ext[k], bool))
        expect(ok, "entry %d: tlstrace.%s has the wrong type: %r" % (i, k, ext[k]))
    for k in ("library", "serverName"):
        expect(isinstance(ext["tls"].get(k), str), "entry %d: tlstrace.tls.%s missing" % (i, k))
    expect(ext["role"] == role, "entry %d: role %r, want %r" % (i, ext["role"], role))
    expect(ext["pid"] > 0 and ext["tid"] > 0, "entry %d: bad pid/tid" % i)
    # Epoch ms after 2001: catches seconds, ns, or a monotonic clock.
    expect(1e12 < ext["timeOrigin"] < 1e13,
           "entry %d: implausible timeOrigin %r" % (i, ext["timeOrigin"]))


def check_order(e, i):
    prev = None
    for k in ORDER:
        v = e[k]
        if v == 0:
            continue
        if prev is not None:
            expect(v >= prev[1], "entry %d: %s %.3f < %s %.3f" % (i, k, v, prev[0], prev[1]))
        prev = (k, v)


def check_response(e, i, url, status, body_bytes):
    expect(e["name"] == url, "entry %d: name %r, want %r" % (i, e["name"], url))
    expect(e["responseStatus"] == status,
           "entry %d: responseStatus %r, want %d" % (i, e["responseStatus"], status))
    expect(e["encodedBodySize"] == body_bytes,
           "entry %d: encodedBodySize %r, want %d" % (i, e["encodedBodySize"], body_bytes))
    # The server does not negotiate ALPN; the status line says HTTP/1.1.
    expect(e["nextHopProtocol"] == "http/1.1",
           "entry %d: nextHopProtocol %r, want 'http/1.1'" % (i, e["nextHopProtocol"]))


def check_responses(env, entries, requests, complete=False):
    """One entry per request [(path, status, body bytes)] to the test server, in
    order: shape, name, status and size; with complete, none failed."""
    expect_count(entries, len(requests))
    for i, (e, (p, status, size)) in enumerate(zip(entries, requests)):
        check_shape(e, i)
        check_response(e, i, env.url(p), status, size)
        if complete:
            expect_no_failure(e, i)


def check_new_connection(e, i, port, library="openssl"):
    ext = e["tlstrace"]
    expect(ext["reused"] is False, "entry %d: reused should be false" % i)
    for k in ORDER + ["fetchStart"]:
        expect(e[k] > 0, "entry %d: %s is %r, want > 0" % (i, k, e[k]))
    check_order(e, i)
    expect(e["secureConnectionStart"] > e["connectStart"],
           "entry %d: secureConnectionStart %.3f not after connectStart %.3f"
           % (i, e["secureConnectionStart"], e["connectStart"]))
    tcp_end = ext["tcpConnectEnd"]
    expect(e["connectStart"] <= tcp_end <= e["secureConnectionStart"],
           "entry %d: tcpConnectEnd %.3f not within "
           "[connectStart %.3f, secureConnectionStart %.3f]"
           % (i, tcp_end, e["connectStart"], e["secureConnectionStart"]))
    remote = "127.0.0.1:%d" % port
    expect(ext["remoteAddress"] == remote,
           "entry %d: remoteAddress %r, want %r" % (i, ext["remoteAddress"], remote))
    host, _, lport = ext["localAddress"].rpartition(":")
    expect(host == "127.0.0.1" and lport.isdigit() and 0 < int(lport) < 65536,
           "entry %d: bad localAddress %r" % (i, ext["localAddress"]))
    tls = ext["tls"]
    expect(tls["library"] == library,
           "entry %d: tls.library %r, want %r" % (i, tls["library"], library))
    expect(tls["serverName"] == "localhost",
           "entry %d: tls.serverName %r, want 'localhost'" % (i, tls["serverName"]))


def check_reused(e, i, first):
    ext = e["tlstrace"]
    expect(ext["reused"] is True, "entry %d: reused should be true" % i)
    expect(ext["connectionId"] == first["tlstrace"]["connectionId"],
           "entry %d: connectionId %r differs from the first entry's %r"
           % (i, ext["connectionId"], first["tlstrace"]["connectionId"]))
    expect(e["requestStart"] > 0, "entry %d: requestStart is 0" % i)
    for k in REUSED_EQUAL:
        expect(abs(e[k] - e["requestStart"]) <= EPS_MS,
               "entry %d (reused): %s %.6f != requestStart %.6f" % (i, k, e[k], e["requestStart"]))
    check_order(e, i)
    expect(0 < e["responseStart"] <= e["responseEnd"],
           "entry %d: responseStart/responseEnd missing" % i)


def check_wallclock(e, i, lo_ms, hi_ms):
    """The traced process started, and the response ended, within [lo, hi]."""
    origin = e["tlstrace"]["timeOrigin"]
    expect(origin >= lo_ms - ORIGIN_SLACK_MS,
           "entry %d: timeOrigin %.3f is %.1f ms before the process was launched"
           % (i, origin, lo_ms - origin))
    end = origin + e["responseEnd"]
    expect(end <= hi_ms,
           "entry %d: responseEnd is %.1f ms after tlstrace exited" % (i, end - hi_ms))


def check_py_output(out, expected):
    lines = out.split()
    got = [tuple(lines[i:i + 3]) for i in range(0, len(lines), 3)]
    want = [(p, str(s), str(n)) for p, s, n in expected]
    expect(got == want, "python client printed %r, want %r" % (got, want))


def expect_no_failure(e, i):
    x = e["tlstrace"]
    expect("failedPhase" not in x and "error" not in x,
           "entry %d: a failed fetch (failedPhase %r, error %r), want a complete one"
           % (i, x.get("failedPhase"), x.get("error")))


def expect_predating(env, entries, paths):
    """One entry per path, in order, all on one connection older than the
    trace: not observed, its connection fields at fetchStart, status 200."""
    expect_count(entries, len(paths))
    for i, (e, p) in enumerate(zip(entries, paths)):
        x = e["tlstrace"]
        expect(e["name"] == env.url(p), "entry %d: name %r" % (i, e["name"]))
        expect(x["connectionObserved"] is False, "entry %d: connectionObserved %r"
               % (i, x["connectionObserved"]))
        for k in ("domainLookupStart", "domainLookupEnd", "connectStart",
                  "secureConnectionStart", "connectEnd", "requestStart"):
            expect(e[k] == e["fetchStart"], "entry %d: %s %r != fetchStart %r"
                   % (i, k, e[k], e["fetchStart"]))
        expect(e["responseStatus"] == 200, "entry %d: status %r" % (i, e["responseStatus"]))
        check_order(e, i)
    ids = {e["tlstrace"]["connectionId"] for e in entries}
    expect(len(ids) == 1, "connections %r for one" % sorted(ids))


# --- environment -------------------------------------------------------------

class Env:
    def __init__(self, args):
        self.tlstrace = os.path.abspath(args.tlstrace)
        self.workdir = os.path.abspath(args.workdir)
        self.attach_wait = args.attach_wait
        self.procs = Procs()
        self.server = None
        self.server_error = "not started"
        self.port = None
        self.bracket = None
        self.bracket_error = "not built"
        self.extra_servers = []  # started on first use, stopped at the end

    def path(self, name):
        return os.path.join(self.workdir, name)

    def url(self, path):
        return "https://localhost:%d%s" % (self.port, path)

    # setup / teardown

    def setup(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.build_bracket()
        self.start_server()

    def build_bracket(self):
        # the GnuTLS twin: built alongside, used by accuracy_gnutls
        out = self.path("bracket_gnutls")
        try:
            r = subprocess.run(["cc", "-O2", "-Wall", "-o", out,
                                os.path.join(HERE, "bracket_gnutls.c"), "-lgnutls"],
                               capture_output=True, text=True, timeout=120)
            self.bracket_gnutls = out if r.returncode == 0 else None
            self.bracket_gnutls_error = stderr_hint(r.stderr)
        except (OSError, subprocess.TimeoutExpired) as ex:
            self.bracket_gnutls, self.bracket_gnutls_error = None, str(ex)
        out = self.path("bracket_client")
        cmd = ["cc", "-O2", "-Wall", "-o", out, os.path.join(HERE, "bracket_client.c"),
               "-lssl", "-lcrypto"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as ex:
            self.bracket_error = str(ex)
            return
        if r.returncode != 0:
            self.bracket_error = "cc exited %d%s" % (r.returncode, stderr_hint(r.stderr))
            return
        self.bracket = out

    def start_server(self):
        certs = self.path("certs")
        r = subprocess.run(["sh", os.path.join(HERE, "mkcert.sh"), certs],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.server_error = "mkcert.sh exited %d%s" % (r.returncode, stderr_hint(r.stderr))
            return
        ready = self.path("server.port")
        if os.path.exists(ready):
            os.unlink(ready)
        log = open(self.path("server.log"), "wb")
        self.server = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--port", "0",
             "--cert", os.path.join(certs, "cert.pem"), "--key", os.path.join(certs, "key.pem"),
             "--ready-file", ready],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                with open(ready) as f:
                    self.port = int(f.read())
                self.server_error = None
                return
            if self.server.poll() is not None:
                with open(self.path("server.log"), errors="replace") as f:
                    hint = stderr_hint(f.read())
                rc = self.server.returncode
                self.server_error = "server.py %s%s" % (describe_exit(rc), hint)
                return
            time.sleep(0.05)
        self.server_error = "server.py did not start within 10s"

    def shutdown(self):
        self.procs.stop_all()
        for p in self.extra_servers:
            self.procs.stop(p)
        if self.server is not None:
            self.procs.stop(self.server)
            self.server = None

    def plain_port(self):
        """A plain-HTTP twin of the test server, started on first use."""
        if getattr(self, "_plain", None) is None:
            ready = self.path("plain.port")
            if os.path.exists(ready):
                os.unlink(ready)
            # lives as long as the run, like the main server (not killed after a test)
            self._plain = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "server.py"), "--plain", "--port", "0",
                 "--ready-file", ready],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            self.extra_servers.append(self._plain)
            deadline = time.monotonic() + 10
            while not (os.path.exists(ready) and open(ready).read().strip()):
                expect(time.monotonic() < deadline and self._plain.poll() is None,
                       "the plain HTTP server did not start")
                time.sleep(0.05)
            self._plain_port = int(open(ready).read())
        return self._plain_port

    def h2_port(self):
        """nghttpd (HTTP/2 over TLS, ALPN h2) on 127.0.0.1, started on first use."""
        if getattr(self, "_h2", None) is None:
            need("nghttpd")
            www = self.path("h2www")
            os.makedirs(www, exist_ok=True)
            with open(os.path.join(www, "hello"), "wb") as f:
                f.write(b"hello\n")
            with open(os.path.join(www, "big"), "wb") as f:
                f.write(b"b" * 50000)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            certs = self.path("certs")
            self._h2 = subprocess.Popen(
                ["nghttpd", "-a", "127.0.0.1", "-d", www, str(port),
                 os.path.join(certs, "key.pem"), os.path.join(certs, "cert.pem")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            self.extra_servers.append(self._h2)
            deadline = time.monotonic() + 10
            while True:
                with socket.socket() as c:
                    if c.connect_ex(("127.0.0.1", port)) == 0:
                        break
                expect(time.monotonic() < deadline and self._h2.poll() is None,
                       "nghttpd did not start")
                time.sleep(0.05)
            self._h2_port = port
        return self._h2_port

    def require_server(self):
        if self.server_error:
            raise Failure("test server not running: %s" % self.server_error)
        expect(self.server.poll() is None,
               "test server %s" % describe_exit(self.server.returncode))

    # tlstrace

    def out_file(self, test):
        path = self.path(test + ".jsonl")
        if os.path.exists(path):
            os.unlink(path)
        return path

    def trace(self, test, command, timeout, input=None, opts=(), **kw):
        """Run `tlstrace -f json -o FILE OPTS -- command`; return (rc, stdout, stderr, FILE)."""
        out = self.out_file(test)
        cmd = [self.tlstrace, "-f", "json", "-o", out] + list(opts) + ["--"] + command
        rc, so, se = self.procs.run(cmd, timeout, "tlstrace", input=input, **kw)
        return rc, so, se, out

    def start_tlstrace(self, test, opts):
        """Start `tlstrace -f json -o FILE OPTS` in the background; wait for it to attach."""
        out = self.out_file(test)
        errpath = self.path(test + ".stderr")
        with open(errpath, "wb") as err:
            p = self.procs.spawn([self.tlstrace, "-f", "json", "-o", out] + opts,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        p.out_file, p.err_file = out, errpath
        self.wait_attached(p)
        return p

    def wait_attached(self, p):
        """Until READY_LINE appears on stderr; attaching may wait behind the
        kernel's detach of an earlier run's uprobes, so allow it time."""
        deadline = time.monotonic() + max(self.attach_wait, 30)
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise Failure("tlstrace %s early%s"
                              % (describe_exit(p.returncode), self.err_hint(p)))
            with open(p.err_file, errors="replace") as f:
                if READY_LINE in f.read():
                    return
            time.sleep(0.02)
        raise Failure("tlstrace did not say it was tracing within 30 s")

    @staticmethod
    def err_hint(p):
        with open(p.err_file, errors="replace") as f:
            return stderr_hint(f.read())


def node_module(name):
    """The directory of an npm package installed for the tests (tests/e2e/node);
    Skip when it is missing, which tests/run.sh prevents."""
    path = os.path.join(HERE, "node", "node_modules", name)
    if not os.path.isdir(path):
        raise Skip("npm package %s not installed (run: npm ci --prefix tests/e2e/node)" % name)
    return path


# --- clients -----------------------------------------------------------------

TEST_NAME = "tlstrace-e2e.test"   # resolved through a private /etc/hosts


def in_private_hosts(env, command):
    """Run command in its own mount namespace, where /etc/hosts maps TEST_NAME
    to 127.0.0.1 (so no query ever leaves the machine)."""
    need("unshare")
    hosts = env.path("hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s\n" % TEST_NAME)
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, hosts] + command


def in_dead_resolver(env, command):
    """Run command where names are not in /etc/hosts and the name server is
    127.0.0.1:53, where nothing answers: every lookup fails, locally."""
    need("unshare")
    hosts, resolv = env.path("hosts.empty"), env.path("resolv.dead")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    script = ('mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && '
              'shift && exec "$@"')
    return ["unshare", "-m", "sh", "-c", script, hosts, resolv] + command


NODE_FETCH = r"""
process.emitWarning = () => {};
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
(async () => {
  for (const p of process.argv.slice(1)) {
    const r = await fetch(p);
    console.log(p, r.status, (await r.text()).length);
  }
})();
"""


# --- traced servers ----------------------------------------------------------
#
# A real server run as `tlstrace -- SERVER` (start_traced_server), fetched from
# with curl (curl_server), then tlstrace stopped alone with SIGINT and the
# server after it (stop_traced_server).

SERVER_CURL_W = "%{http_code} %{size_download} %{local_port}\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(pid, port):
    """Whether a TCP socket listens on port in process pid's network namespace."""
    want = ":%04X" % port
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def process_running(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def server_certs(env):
    certs = env.path("certs")
    cert, key = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
    expect(os.path.exists(cert) and os.path.exists(key),
           "no test certificates in %s (%s)" % (certs, env.server_error))
    return cert, key


class TracedServer:
    """`tlstrace -f json -o FILE -- SERVER...`, started by start_traced_server."""
    tracer = None
    pid = None
    port = None
    out_file = None
    netns = False

    def client(self, cmd):
        """cmd as run against this server (inside its network namespace if it has one)."""
        if self.netns:
            return ["nsenter", "-t", str(self.pid), "-n"] + cmd
        return cmd


def start_traced_server(env, test, command, port=None, ready_file=None, netns=False,
                        cwd=None, what=None, opts=()):
    """Start command under tlstrace and wait until it listens on port (or on the
    port it writes to ready_file). With netns, the server runs in a network
    namespace of its own with only lo up: for servers that cannot be told to
    listen on 127.0.0.1 alone."""
    what = what or os.path.basename(command[0])
    pidfile = env.path(test + ".pid")
    for f in (pidfile, ready_file):
        if f and os.path.exists(f):
            os.unlink(f)
    # sh records its pid, then execs the server in the same process.
    if netns:
        need("unshare")
        need("nsenter")
        need("ip")
        wrap = ["unshare", "-n", "sh", "-c",
                'ip link set lo up && echo $$ > "$0" && exec "$@"', pidfile]
    else:
        wrap = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile]
    srv = TracedServer()
    srv.netns = netns
    srv.out_file = env.out_file(test)
    errpath = env.path(test + ".stderr")
    with open(errpath, "wb") as err, open(env.path(test + ".stdout"), "wb") as out:
        p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", srv.out_file] + list(opts)
                            + ["--"] + wrap + command, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=err, cwd=cwd)
    p.out_file, p.err_file = srv.out_file, errpath
    srv.tracer = p
    deadline = time.monotonic() + 30  # attaching may wait behind an earlier detach
    while True:
        if p.poll() is not None:
            raise Failure("tlstrace %s before %s listened%s"
                          % (describe_exit(p.returncode), what, env.err_hint(p)))
        if srv.pid is None and os.path.exists(pidfile):
            with open(pidfile) as f:
                text = f.read().strip()
            srv.pid = int(text) if text.isdigit() else None
        if srv.port is None:
            if ready_file is None:
                srv.port = port
            elif os.path.exists(ready_file):
                with open(ready_file) as f:
                    srv.port = int(f.read())
        if srv.pid and srv.port:
            expect(process_running(srv.pid), "%s exited before it listened%s"
                   % (what, env.err_hint(p)))
            if listening(srv.pid, srv.port):
                return srv
        expect(time.monotonic() < deadline,
               "%s did not listen on port %s within 30 s%s" % (what, srv.port, env.err_hint(p)))
        time.sleep(0.05)


def server_py(env, ready):
    """The command that runs server.py, the test server's code, as a server of
    its own: on a free port, which it writes to the file ready once it listens."""
    cert, key = server_certs(env)
    return [sys.executable, os.path.join(HERE, "server.py"), "--port", "0", "--cert", cert,
            "--key", key, "--ready-file", ready]


def start_traced_server_py(env, test, opts=()):
    """server.py under tlstrace (start_traced_server), its port file TEST.port."""
    ready = env.path(test + ".port")
    return start_traced_server(env, test, server_py(env, ready), ready_file=ready,
                               what="server.py", opts=opts)


def stop_traced_server(env, srv):
    """SIGINT tlstrace alone; return (its exit status, whether the server was
    still running after it). Then stop the server."""
    time.sleep(0.2)  # let the server see its clients close
    srv.tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(srv.tracer, 15, "tlstrace after SIGINT")
    alive = process_running(srv.pid)
    if alive:
        try:
            os.kill(srv.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 3
        while process_running(srv.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    env.procs.stop(srv.tracer)  # SIGKILLs whatever is left of the group
    return rc, alive


def curl_server(env, srv, args, what="curl"):
    """Run curl -sk ARGS against srv; return (start, end) wall-clock ms and the
    lines -w SERVER_CURL_W printed (status, size, local port per transfer)."""
    need("curl")
    t0 = wall_ms()
    rc, out, err = env.procs.run(srv.client(["curl", "-sk"] + args), 30, what)
    t1 = wall_ms()
    expect(rc == 0, "%s exited %d%s" % (what, rc, stderr_hint(err)))
    lines = [l.split() for l in out.splitlines()]
    expect(lines and all(len(l) == 3 and all(x.isdigit() for x in l) for l in lines),
           "%s printed %r" % (what, out[:120]))
    return (t0, t1), [tuple(int(x) for x in l) for l in lines]


def server_fetches(urls):
    """curl arguments fetching urls on one connection, bodies to /dev/null."""
    args = ["-w", SERVER_CURL_W]
    for url in urls:
        args += ["-o", "/dev/null", url]
    return args
