# SPDX-License-Identifier: MIT
"""End-to-end tests for tlstrace against a local HTTPS server.

usage: python3 tests/e2e/run.py --tlstrace ./tlstrace --workdir .output/e2e [TEST...]

Prints one line per test (PASS/FAIL/SKIP name[: detail]) and a final
"N passed, N failed[, N skipped]" line. Exit status 0 iff nothing failed.
Field meanings are those of docs/semantics.md.
"""

import argparse
import gzip
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from server import CHUNK_GAP_S, EARLY_HINTS_MS, RESET_AFTER_MS, chunk_sizes  # noqa: E402

READY_LINE = "tlstrace: tracing"  # printed on stderr once probes are attached
TOL_MS = 0.3  # accuracy_bracket tolerance around each bracket
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


def read_line(p, timeout, what):
    """One line of p's stdout (a pipe), or Failure after timeout."""
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    expect(ready, "%s printed nothing within %gs" % (what, timeout))
    return p.stdout.readline().decode(errors="replace").strip()


# --- entries -----------------------------------------------------------------

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


# --- tests -------------------------------------------------------------------

def test_curl_single(env):
    need("curl")
    env.require_server()
    url = env.url("/hello")
    pidfile = env.path("curl_single.pid")
    # sh records its pid, then execs curl in the same process.
    cmd = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile, "curl", "-sk", url]
    t0 = wall_ms()
    rc, out, err, path = env.trace("curl_single", cmd, timeout=30)
    t1 = wall_ms()
    expect(rc == 0, "tlstrace %s, curl's status was 0%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out == "hello\n", "curl printed %r" % out[:60])
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, url, 200, 6)
    check_new_connection(e, 0, env.port)
    with open(pidfile) as f:
        curl_pid = int(f.read())
    ext = e["tlstrace"]
    expect(ext["pid"] == curl_pid, "pid %r, curl's pid was %d" % (ext["pid"], curl_pid))
    expect(ext["comm"] == "curl", "comm %r, want 'curl'" % ext["comm"])
    check_wallclock(e, 0, t0, t1)


def test_curl_exit_status(env):
    need("curl")
    cmd = ["curl", "-sk", "https://127.0.0.1:1/"]
    direct, _, _ = env.procs.run(cmd, 30, "curl")
    expect(direct == 7, "untraced curl exited %d, expected 7 (connection refused)" % direct)
    rc, _, err, _ = env.trace("curl_exit_status", cmd, timeout=30)
    expect(rc == direct, "tlstrace %s, curl's status was %d%s"
           % (describe_exit(rc), direct, stderr_hint(err)))
    rc, _, err, _ = env.trace("curl_exit_status", ["sh", "-c", "exit 42"], timeout=30)
    expect(rc == 42, "tlstrace %s, command's status was 42%s"
           % (describe_exit(rc), stderr_hint(err)))


def test_curl_keepalive(env):
    need("curl")
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/100", 200, 100), ("/status/404", 404, 11)]
    urls = [env.url(p) for p, _, _ in requests]
    rc, out, err, path = env.trace("curl_keepalive", ["curl", "-sk"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(len(out) == 6 + 100 + 11, "curl printed %d bytes, want 117" % len(out))
    entries = read_entries(path)
    expect_count(entries, 3)
    for i, (e, url, (_, status, size)) in enumerate(zip(entries, urls, requests)):
        check_shape(e, i)
        check_response(e, i, url, status, size)
    check_new_connection(entries[0], 0, env.port)
    for i in (1, 2):
        check_reused(entries[i], i, entries[0])


def test_python_ssl(env):
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/2000", 200, 2000)]
    cmd = [sys.executable, "-c", PY_CLIENT, str(env.port)] + [p for p, _, _ in requests]
    rc, out, err, path = env.trace("python_ssl", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_py_output(out, requests)
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, (e, (p, status, size)) in enumerate(zip(entries, requests)):
        check_shape(e, i)
        check_response(e, i, env.url(p), status, size)
    check_new_connection(entries[0], 0, env.port)
    check_reused(entries[1], 1, entries[0])


def test_openssl_s_client(env):
    need("openssl")
    env.require_server()
    request = "GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % env.port
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % env.port,
           "-servername", "localhost", "-quiet", "-ign_eof"]
    rc, out, err, path = env.trace("openssl_s_client", cmd, timeout=30, input=request)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.startswith("HTTP/1.1 200") and out.endswith("hello\n"),
           "s_client printed %r" % out[:60])
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, env.url("/hello"), 200, 6)
    check_new_connection(e, 0, env.port)


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


def test_accuracy_bracket(env):
    return accuracy(env, "accuracy_bracket", "127.0.0.1")


def test_accuracy_lookup(env):
    """As accuracy_bracket, with a name lookup (getaddrinfo) before the connect."""
    return accuracy(env, "accuracy_lookup", TEST_NAME)


def test_accuracy_gnutls(env):
    """As accuracy_lookup, with a client of our own that uses GnuTLS."""
    expect(env.bracket_gnutls, "cannot build bracket_gnutls%s" % env.bracket_gnutls_error)
    return accuracy(env, "accuracy_gnutls", TEST_NAME, env.bracket_gnutls, "gnutls")


def accuracy(env, test, host, client=None, library="openssl"):
    env.require_server()
    expect(env.bracket, "cannot build bracket_client: %s" % env.bracket_error)
    nreq, url_path = 3, "/delay/20"
    cmd = [client or env.bracket, host, str(env.port), url_path, str(nreq)]
    if host != "127.0.0.1":
        cmd = in_private_hosts(env, cmd)
    rc, out, err, path = env.trace(test, cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    try:
        br = json.loads(out)
    except ValueError:
        raise Failure("bracket_client printed %r%s" % (out[:80], stderr_hint(err)))
    expect(len(br["requests"]) == nreq, "bracket_client made %d requests" % len(br["requests"]))
    entries = read_entries(path)
    expect_count(entries, nreq)
    for i, e in enumerate(entries):
        check_shape(e, i)
        check_response(e, i, env.url(url_path), 200, 8)
        expect(e["tlstrace"]["pid"] == br["pid"],
               "entry %d: pid %r, bracket_client's was %d" % (i, e["tlstrace"]["pid"], br["pid"]))
    check_new_connection(entries[0], 0, env.port, library)
    for i in range(1, nreq):
        check_reused(entries[i], i, entries[0])

    # Each field is one side of a bracketed call: the entry of connect,
    # SSL_connect or SSL_write (bracket start), or the return of SSL_connect
    # or SSL_read (bracket end). Being within TOL_MS of that side implies
    # being inside the bracket +- TOL_MS; it also tells a read's return from
    # its entry, which a blocking read's wide bracket alone cannot.
    ENTRY, RETURN = 0, 1
    CALLS = {"connect": "connect()", "handshake": "SSL_connect", "write": "SSL_write",
             "firstRead": "SSL_read", "lastRead": "SSL_read"}
    CALLS["lookup"] = "getaddrinfo"
    checks = [(0, "connectStart", "connect", ENTRY),
              (0, "secureConnectionStart", "handshake", ENTRY),
              (0, "connectEnd", "handshake", RETURN)]
    if "lookup" in br:
        checks += [(0, "domainLookupStart", "lookup", ENTRY),
                   (0, "domainLookupEnd", "lookup", RETURN),
                   (0, "startTime", "lookup", ENTRY)]
        expect(entries[0]["domainLookupEnd"] > entries[0]["domainLookupStart"],
               "the lookup has no duration: %r" % entries[0]["domainLookupStart"])
    else:
        expect(entries[0]["domainLookupStart"] == entries[0]["domainLookupEnd"]
               == entries[0]["connectStart"], "no lookup, yet the lookup fields differ")
    for i in range(nreq):
        checks += [(i, "requestStart", "write", ENTRY),
                   (i, "responseStart", "firstRead", RETURN),
                   (i, "responseEnd", "lastRead", RETURN)]
    worst = (-1.0, None)
    for i, field, step, side in checks:
        e = entries[i]
        lo, hi = br[step] if step in ("lookup", "connect", "handshake") \
            else br["requests"][i][step]
        at = e["tlstrace"]["timeOrigin"] + e[field]
        edge = (lo, hi)[side]
        dev = abs(at - edge)
        expect(dev <= TOL_MS,
               "request %d %s is %.3f ms %s the %s of %s (%s bracket [%.3f, %.3f], at %.3f)"
               % (i + 1, field, dev, "before" if at < edge else "after",
                  ("entry", "return")[side], CALLS[step], step, lo, hi, at))
        if dev > worst[0]:
            worst = (dev, "request %d %s, %s the %s of %s"
                     % (i + 1, field, "before" if at < edge else "after",
                        ("entry", "return")[side], CALLS[step]))
    return "worst deviation %.3f ms (%s), tolerance %.1f ms" % (worst[0], worst[1], TOL_MS)


def test_curl_lookup(env):
    """curl resolves a name in a helper thread: the lookup still times the fetch."""
    need("curl")
    env.require_server()
    url = "https://%s:%d/hello" % (TEST_NAME, env.port)
    cmd = in_private_hosts(env, ["curl", "-sk", url])
    rc, out, err, path = env.trace("curl_lookup", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    expect(e["name"] == url, "name %r, want %r" % (e["name"], url))
    expect(e["startTime"] == e["domainLookupStart"] < e["domainLookupEnd"] <= e["connectStart"],
           "lookup not before the connect: start %r lookup [%r, %r] connect %r"
           % (e["startTime"], e["domainLookupStart"], e["domainLookupEnd"], e["connectStart"]))
    check_order(e, 0)
    expect(e["tlstrace"]["connectAttempts"] == 1, "connectAttempts %r" % e["tlstrace"]["connectAttempts"])


def test_lookup_failure(env):
    """A name that cannot be resolved: an entry that failed in phase dns."""
    need("curl")
    name = "no-such-name.tlstrace-e2e.test"
    cmd = in_dead_resolver(env, ["curl", "-sk", "https://%s:8443/x" % name])
    rc, out, err, path = env.trace("lookup_failure", cmd, timeout=30)
    expect(rc == 6, "tlstrace exited %r, want curl's 6 (could not resolve)%s"
           % (rc, stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    x = e["tlstrace"]
    expect(x.get("failedPhase") == "dns", "failedPhase %r" % x.get("failedPhase"))
    expect(e["name"] == "https://%s:8443/" % name, "name %r" % e["name"])
    expect(x.get("error"), "no error text")
    for k in ("domainLookupStart", "connectStart", "requestStart", "responseStart"):
        expect(e[k] == 0, "%s = %r in a failed fetch" % (k, e[k]))
    expect(e["responseEnd"] >= e["startTime"] > 0, "responseEnd %r startTime %r"
           % (e["responseEnd"], e["startTime"]))
    expect(x["partialTimings"].get("domainLookupStart") == e["startTime"],
           "partial domainLookupStart %r" % x["partialTimings"])


def test_tls_details(env):
    """Protocol version, cipher, ALPN and nextHopProtocol, for TLS 1.3 and 1.2."""
    need("curl")
    env.require_server()
    url = env.url("/hello")
    # TLS 1.3 hides the server's ALPN answer: an HTTP/1.1 request cannot tell
    # "agreed http/1.1" from "no ALPN", so it is reported unknown ("")
    cases = [("1.3", [], "TLSv1.3", "TLS_", ""),
             # TLS 1.2: the ServerHello is in the clear and our server chose no ALPN
             ("1.2", ["--tls-max", "1.2"], "TLSv1.2", "TLS_ECDHE_", "")]
    for name, opts, version, cipher, alpn in cases:
        rc, out, err, path = env.trace("tls_details_" + name.replace(".", ""),
                                       ["curl", "-sk", "-o", "/dev/null"] + opts + [url],
                                       timeout=30)
        expect(rc == 0, "TLS %s: tlstrace %s%s" % (name, describe_exit(rc), stderr_hint(err)))
        entries = read_entries(path)
        expect_count(entries, 1)
        e = entries[0]
        tls = e["tlstrace"]["tls"]
        expect(tls.get("version") == version, "TLS %s: tls.version %r" % (name, tls.get("version")))
        expect(tls.get("cipher", "").startswith(cipher),
               "TLS %s: tls.cipher %r, want %s..." % (name, tls.get("cipher"), cipher))
        expect(tls.get("alpn") == alpn, "TLS %s: tls.alpn %r, want %r" % (name, tls.get("alpn"), alpn))
        expect(tls.get("resumed") is False, "TLS %s: resumed %r" % (name, tls.get("resumed")))
        expect(e["nextHopProtocol"] == "http/1.1", "TLS %s: nextHopProtocol %r"
               % (name, e["nextHopProtocol"]))


def test_tls_resumption(env):
    """A resumed session is a new connection with full timings, marked resumed."""
    need("openssl")
    env.require_server()
    sess = env.path("session.pem")
    if os.path.exists(sess):
        os.unlink(sess)
    request = "GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % env.port
    results = []
    for i, opt in enumerate(["-sess_out", "-sess_in"]):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % env.port,
               "-servername", "localhost", "-quiet", "-ign_eof", opt, sess]
        rc, out, err, path = env.trace("tls_resumption_%d" % i, cmd, timeout=30, input=request)
        expect(rc == 0, "s_client %s: tlstrace %s%s" % (opt, describe_exit(rc), stderr_hint(err)))
        entries = read_entries(path)
        expect_count(entries, 1)
        results.append(entries[0])
    first, second = results
    expect(first["tlstrace"]["tls"].get("resumed") is False, "the first session is resumed?")
    expect(second["tlstrace"]["tls"].get("resumed") is True, "the second session is not resumed")
    check_new_connection(second, 1, env.port)
    expect(second["tlstrace"]["reused"] is False, "a resumed session is a new connection")


def test_happy_eyeballs(env):
    """A name with ::1 (nothing listens) and 127.0.0.1: one entry, two attempts."""
    need("curl")
    env.require_server()
    hosts = env.path("hosts.he")
    with open(hosts, "w") as f:
        f.write("::1 %s\n127.0.0.1 %s\n" % (TEST_NAME, TEST_NAME))
    url = "https://%s:%d/hello" % (TEST_NAME, env.port)
    cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts,
           "curl", "-sk", "-o", "/dev/null", url]
    rc, out, err, path = env.trace("happy_eyeballs", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    x = e["tlstrace"]
    expect("failedPhase" not in x, "the fetch failed: %r" % x.get("error"))
    expect(x["connectAttempts"] == 2, "connectAttempts %r, want 2" % x["connectAttempts"])
    expect(x["remoteAddress"] == "127.0.0.1:%d" % env.port, "remoteAddress %r" % x["remoteAddress"])
    expect(e["startTime"] == e["domainLookupStart"] < e["domainLookupEnd"] <= e["connectStart"],
           "the lookup does not start the fetch")
    check_order(e, 0)


def test_connect_refused(env):
    """A refused connection is a failed fetch, phase connect."""
    need("curl")
    rc, out, err, path = env.trace("connect_refused", ["curl", "-sk", "https://127.0.0.1:1/x"],
                                   timeout=30)
    expect(rc == 7, "tlstrace exited %r, want curl's 7" % rc)
    e, partial = only_failure(read_entries(path), "connect", ["refused"])
    expect(e["name"] == "https://127.0.0.1:1/", "name %r" % e["name"])
    expect(partial.get("connectStart") == e["startTime"], "partial %r" % partial)


def test_connect_timeout(env):
    """A connect that times out (its SYNs dropped: the listener's queue is full)."""
    need("curl")
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    try:
        # fill the accept queue; further SYNs are dropped, never answered
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        time.sleep(0.2)
        rc, out, err, path = env.trace(
            "connect_timeout", ["curl", "-sk", "--connect-timeout", "1",
                                "https://127.0.0.1:%d/x" % port], timeout=30)
    finally:
        for f in fillers:
            f.close()
        lst.close()
    expect(rc == 28, "tlstrace exited %r, want curl's 28 (timeout)%s" % (rc, stderr_hint(err)))
    e, partial = only_failure(read_entries(path), "connect", ["timed out"])
    expect(e["responseEnd"] - e["startTime"] >= 900,
           "the failure came after %.1f ms, before curl's 1 s timeout"
           % (e["responseEnd"] - e["startTime"]))


def test_plain_http(env):
    """http:// over plain TCP, keep-alive: entries from the socket syscalls."""
    need("curl")
    port = env.plain_port()
    urls = ["http://127.0.0.1:%d/hello" % port, "http://127.0.0.1:%d/size/50000" % port]
    rc, out, err, path = env.trace("plain_http", ["curl", "-s", "-o", "/dev/null", "-o",
                                                  "/dev/null"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, (e, url, size) in enumerate(zip(entries, urls, (6, 50000))):
        expect(e["name"] == url, "entry %d: name %r, want %r" % (i, e["name"], url))
        expect(e["responseStatus"] == 200, "entry %d: status %r" % (i, e["responseStatus"]))
        expect(e["encodedBodySize"] == size, "entry %d: encodedBodySize %r" % (i, e["encodedBodySize"]))
        expect(e["secureConnectionStart"] == 0, "entry %d: secureConnectionStart %r, want 0"
               % (i, e["secureConnectionStart"]))
        expect("tls" not in e["tlstrace"], "entry %d: a tls object on plain HTTP" % i)
        expect(e["nextHopProtocol"] == "http/1.1", "entry %d: nextHopProtocol %r" % (i, e["nextHopProtocol"]))
        check_order(e, i)
    first, second = entries
    expect(first["connectStart"] > 0 and first["connectEnd"] >= first["connectStart"],
           "first: connect fields")
    expect(first["connectEnd"] == first["tlstrace"]["tcpConnectEnd"],
           "plain: connectEnd %r is not TCP ESTABLISHED %r"
           % (first["connectEnd"], first["tlstrace"]["tcpConnectEnd"]))
    expect(second["tlstrace"]["reused"] is True, "second: not reused")


PY_OLD_CONN = r"""
import http.client, ssl, sys
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ssl._create_unverified_context())
c.request("GET", "/hello"); c.getresponse().read()
print("ready", flush=True)
sys.stdin.readline()
for path in ("/hello", "/size/1000"):
    c.request("GET", path); c.getresponse().read()
"""


def test_connection_predates_trace(env):
    """A keep-alive connection opened before tlstrace started: its later requests
    still give entries, with the connection fields at fetchStart."""
    env.require_server()
    client = env.procs.spawn([sys.executable, "-c", PY_OLD_CONN, str(env.port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(client, 10, "python client") == "ready", "python client did not start")
    tracer = env.start_tlstrace("connection_predates_trace", ["-p", str(client.pid)])
    client.stdin.write(b"go\n")
    client.stdin.close()
    expect(env.procs.wait(client, 15, "python client") == 0, "python client failed")
    rc = env.procs.wait(tracer, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    expect_predating(env, read_entries(tracer.out_file), ("/hello", "/size/1000"))


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


def check_h2(entries, urls, statuses, sizes):
    expect_count(entries, len(urls))
    by_name = {e["name"]: e for e in entries}
    expect(sorted(by_name) == sorted(urls), "names %r, want %r" % (sorted(by_name), sorted(urls)))
    ids = {e["tlstrace"]["connectionId"] for e in entries}
    expect(len(ids) == 1, "%d connections, want one" % len(ids))
    fresh = [e for e in entries if not e["tlstrace"]["reused"]]
    expect(len(fresh) == 1, "%d entries carry the connection's timings, want 1" % len(fresh))
    check_new_connection(fresh[0], 0, int(urls[0].rsplit(":", 1)[1].split("/")[0]))
    for i, (url, status, size) in enumerate(zip(urls, statuses, sizes)):
        e = by_name[url]
        expect(e["nextHopProtocol"] == "h2", "%s: nextHopProtocol %r" % (url, e["nextHopProtocol"]))
        expect(e["tlstrace"]["tls"].get("alpn") == "h2", "%s: tls.alpn %r"
               % (url, e["tlstrace"]["tls"].get("alpn")))
        expect(e["responseStatus"] == status, "%s: status %r, want %r" % (url, e["responseStatus"], status))
        if size is not None:
            expect(e["encodedBodySize"] == size, "%s: encodedBodySize %r, want %r"
                   % (url, e["encodedBodySize"], size))
        expect("failedPhase" not in e["tlstrace"], "%s failed: %r" % (url, e["tlstrace"].get("error")))
        check_order(e, i)
        if e["tlstrace"]["reused"]:
            expect(e["startTime"] == e["requestStart"] == e["connectEnd"],
                   "%s: a reused stream's fields are not at its requestStart" % url)


def test_h2_curl(env):
    """curl --http2: one entry per stream, the first with the connection's timings."""
    need("curl")
    port = env.h2_port()
    urls = ["https://localhost:%d/hello" % port, "https://localhost:%d/big" % port]
    rc, out, err, path = env.trace("h2_curl", ["curl", "-sk", "--http2", "-o", "/dev/null",
                                               "-o", "/dev/null"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_h2(read_entries(path), urls, [200, 200], [6, 50000])


def test_h2_nghttp(env):
    """nghttp: three concurrent streams on one connection, one of them a 404."""
    need("nghttp")
    port = env.h2_port()
    urls = ["https://localhost:%d/%s" % (port, p) for p in ("hello", "big", "missing")]
    rc, out, err, path = env.trace("h2_nghttp", ["nghttp", "-n"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_h2(read_entries(path), urls, [200, 200, 404], [6, 50000, None])


def check_gnutls(e, i, url, size):
    check_shape(e, i)
    check_response(e, i, url, 200, size)
    tls = e["tlstrace"]["tls"]
    expect(tls["library"] == "gnutls", "entry %d: tls.library %r" % (i, tls["library"]))
    expect(tls.get("version") == "TLSv1.3", "entry %d: tls.version %r" % (i, tls.get("version")))
    expect(tls["serverName"] == "localhost", "entry %d: serverName %r" % (i, tls["serverName"]))
    expect(e["secureConnectionStart"] > e["connectStart"] > 0, "entry %d: no handshake" % i)
    check_order(e, i)


def test_wget_gnutls(env):
    """wget (GnuTLS): one entry, timed like OpenSSL's clients."""
    need("wget")
    env.require_server()
    url = env.url("/size/3000")
    rc, out, err, path = env.trace("wget_gnutls", ["wget", "-q", "-O", "/dev/null",
                                                   "--no-check-certificate", url], timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    check_gnutls(entries[0], 0, url, 3000)


def test_gnutls_cli(env):
    """gnutls-cli with a request on its stdin."""
    need("gnutls-cli")
    env.require_server()
    request = "GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % env.port
    script = 'cat "$0"; sleep 1'
    reqfile = env.path("gnutls_cli.request")
    with open(reqfile, "w") as f:
        f.write(request)
    cmd = ["sh", "-c", 'sh -c "$0" "$1" | exec gnutls-cli --insecure -p "$2" localhost',
           script, reqfile, str(env.port)]
    rc, out, err, path = env.trace("gnutls_cli", cmd, timeout=30)
    entries = read_entries(path)
    expect_count(entries, 1)
    check_gnutls(entries[0], 0, env.url("/hello"), 6)


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


def test_node_fetch(env):
    """Node.js (OpenSSL inside the executable, memory BIOs): fetch() twice; each
    session is bound to its socket by its ciphertext and fully timed."""
    need("node")
    env.require_server()
    urls = [env.url("/hello"), env.url("/size/3000")]
    rc, out, err, path = env.trace("node_fetch", ["node", "-e", NODE_FETCH] + urls, timeout=60)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, (e, url, size) in enumerate(zip(entries, urls, (6, 3000))):
        check_shape(e, i)
        check_response(e, i, url, 200, size)
        expect(e["tlstrace"]["comm"].startswith("node"), "entry %d: comm %r" % (i, e["tlstrace"]["comm"]))
    first = entries[0]
    check_new_connection(first, 0, env.port)
    expect(first["tlstrace"]["connectionObserved"] is True, "the connection was not bound")
    # undici may or may not keep the connection: either way the entry is right
    if entries[1]["tlstrace"]["reused"]:
        check_reused(entries[1], 1, first)
    else:
        check_new_connection(entries[1], 1, env.port)


def test_pid_namespace(env):
    """A client in its own pid and mount namespaces: the host's pid, and its own."""
    need("curl")
    need("unshare")
    env.require_server()
    url = env.url("/hello")
    cmd = ["unshare", "-p", "-f", "-m", "--mount-proc", "curl", "-sk", "-o", "/dev/null", url]
    rc, out, err, path = env.trace("pid_namespace", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    x = entries[0]["tlstrace"]
    expect(x.get("nsPid") == 1, "nsPid %r, want 1 (curl is pid 1 in its namespace)" % x.get("nsPid"))
    expect(x["pid"] != 1, "pid %r: not the host's view" % x["pid"])
    check_response(entries[0], 0, url, 200, 6)


PY_LATE_SSL = r"""
import sys, time
print("ready", flush=True)
sys.stdin.readline()
import http.client, ssl          # loads libssl now, after tlstrace attached
time.sleep(0.2)
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ssl._create_unverified_context())
c.request("GET", "/hello"); print(c.getresponse().status, flush=True)
"""


def test_program_started_later(env):
    """A program with OpenSSL inside (node) started after tlstrace, traced by name:
    found at its exec, by its symbols, without options."""
    need("node")
    env.require_server()
    tracer = env.start_tlstrace("program_started_later", ["-c", "node"])
    url = env.url("/hello")
    rc, out, err = env.procs.run(["node", "-e", NODE_FETCH, url], 60, "node")
    expect(rc == 0, "node exited %d%s" % (rc, stderr_hint(err)))
    time.sleep(0.3)
    tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 15, "tlstrace after SIGINT")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    entries = read_entries(tracer.out_file)
    expect_count(entries, 1)
    check_response(entries[0], 0, url, 200, 6)
    check_new_connection(entries[0], 0, env.port)


def test_library_loaded_later(env):
    """-p on a process with no TLS library yet: tlstrace waits, and attaches when
    the process loads libssl (dlopen of Python's _ssl module)."""
    env.require_server()
    client = env.procs.spawn([sys.executable, "-c", PY_LATE_SSL, str(env.port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(client, 10, "python client") == "ready", "python client did not start")
    with open("/proc/%d/maps" % client.pid) as f:
        expect("libssl" not in f.read(), "libssl is already loaded: the test proves nothing")
    tracer = env.start_tlstrace("library_loaded_later", ["-p", str(client.pid)])
    client.stdin.write(b"go\n")
    client.stdin.close()
    expect(env.procs.wait(client, 15, "python client") == 0, "python client failed")
    rc = env.procs.wait(tracer, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    with open(tracer.err_file, errors="replace") as f:
        expect("yet" in f.read(), "no warning that no TLS library was loaded yet")
    entries = read_entries(tracer.out_file)
    expect_count(entries, 1)
    check_response(entries[0], 0, env.url("/hello"), 200, 6)
    check_new_connection(entries[0], 0, env.port)


def test_git_https(env):
    """git over https (git-remote-https, libcurl-gnutls): the smart-HTTP probe is
    traced, here answered 404 by the test server."""
    need("git")
    env.require_server()
    url = "https://localhost:%d/repo.git" % env.port
    rc, out, err, path = env.trace("git_https", ["env", "GIT_SSL_NO_VERIFY=1", "GIT_TERMINAL_PROMPT=0",
                                                 "git", "ls-remote", url], timeout=60)
    expect(rc != 0, "git ls-remote succeeded against a server with no repository")
    entries = read_entries(path)
    expect(entries, "no entries")
    e = entries[0]
    expect(e["name"].startswith(url + "/info/refs"), "name %r" % e["name"])
    expect(e["responseStatus"] == 404, "status %r" % e["responseStatus"])
    expect(e["tlstrace"]["tls"]["library"] == "gnutls", "tls.library %r" % e["tlstrace"]["tls"]["library"])
    expect(e["tlstrace"]["comm"].startswith("git"), "comm %r" % e["tlstrace"]["comm"])
    expect(e["tlstrace"]["reused"] is False, "reused")
    expect(e["secureConnectionStart"] > e["connectStart"] > 0, "no handshake timed")
    check_order(e, 0)


def test_lib_option(env):
    """--lib: a program with OpenSSL inside, under a name nothing else would find;
    and a file without TLS functions is reported and skipped."""
    need("node")
    env.require_server()
    app = env.path("vendorapp")
    shutil.copy(shutil.which("node"), app)
    url = env.url("/hello")
    rc, out, err, path = env.trace("lib_option", [app, "-e", NODE_FETCH, url], timeout=60,
                                   opts=["--lib", "/bin/true", "--lib", app])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect("/bin/true has no OpenSSL or GnuTLS functions" in err,
           "no word about /bin/true: %r" % err[:200])
    entries = read_entries(path)
    expect_count(entries, 1)
    check_response(entries[0], 0, url, 200, 6)
    check_new_connection(entries[0], 0, env.port)


def test_chrome_trace(env):
    """-f chrome-trace: a valid Trace Event JSON array; one slice per resource on
    its connection's track, with its phases nested inside it."""
    need("curl")
    env.require_server()
    out = env.path("chrome_trace.json")
    urls = [env.url("/hello"), env.url("/size/2000")]
    rc, _, err = env.procs.run([env.tlstrace, "-f", "chrome-trace", "-o", out, "--", "curl", "-sk",
                                "-o", "/dev/null", "-o", "/dev/null"] + urls, 30, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    try:
        with open(out) as f:
            events = json.load(f)
    except ValueError as ex:
        raise Failure("not JSON: %s" % ex)
    expect(isinstance(events, list), "not a JSON array")
    for ev in events:
        expect(ev.get("ph") in ("X", "M") and isinstance(ev.get("pid"), int) and
               isinstance(ev.get("tid"), int), "bad event %r" % ev)
    resources = [ev for ev in events if ev["ph"] == "X" and ev.get("cat") == "resource"]
    expect([r["name"] for r in resources] == urls, "resource slices %r"
           % [r["name"] for r in resources])
    expect(len({r["tid"] for r in resources}) == 1, "two tracks for one connection")
    phases = [ev for ev in events if ev["ph"] == "X" and ev.get("cat") == "phase"]
    names = {p["name"] for p in phases}
    expect({"connect", "tls", "wait", "download"} <= names, "phases %r" % sorted(names))
    for p in phases:
        owner = [r for r in resources if r["ts"] - 0.002 <= p["ts"] and
                 p["ts"] + p["dur"] <= r["ts"] + r["dur"] + 0.002]
        expect(owner, "phase %s at %.3f is in no resource slice" % (p["name"], p["ts"]))
    expect(any(ev["ph"] == "M" and ev["name"] == "thread_name" for ev in events),
           "no track names")


def test_curl_200_sequential(env):
    """200 short-lived curl processes in a row: one entry each, none lost."""
    need("curl")
    env.require_server()
    n = 200
    url = env.url("/hello")
    script = 'for i in $(seq %d); do curl -sk -o /dev/null "$0" || exit 1; done' % n
    rc, _, err, path = env.trace("curl_200_sequential", ["sh", "-c", script, url], timeout=180)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, n)
    for i, e in enumerate(entries):
        check_shape(e, i)
        check_response(e, i, url, 200, 6)
        expect(e["tlstrace"]["reused"] is False, "entry %d: reused should be false" % i)
    pids = {e["tlstrace"]["pid"] for e in entries}
    expect(len(pids) == n, "%d distinct pids, want %d" % (len(pids), n))


def test_attach_pid(env):
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/300", 200, 300)]
    # The client loads libssl, then waits until tlstrace is attached.
    launched = wall_ms()
    client = env.procs.spawn(
        [sys.executable, "-c", PY_CLIENT, str(env.port), "--fresh", "--wait"]
        + [p for p, _, _ in requests],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    expect(read_line(client, 10, "python client") == "ready", "python client did not start")

    tracer = env.start_tlstrace("attach_pid", ["-p", str(client.pid), "-d", "6"])
    client.stdin.write(b"go\n")
    client.stdin.close()
    crc = env.procs.wait(client, 15, "python client")
    out = client.stdout.read().decode(errors="replace")
    expect(crc == 0, "python client %s" % describe_exit(crc))
    check_py_output(out, requests)

    # tlstrace may stop by itself when its target exits; otherwise SIGINT.
    try:
        tracer.wait(1)
    except subprocess.TimeoutExpired:
        tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 10, "tlstrace after SIGINT")
    done = wall_ms()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))

    entries = read_entries(tracer.out_file)
    expect_count(entries, 2)
    for i, (e, (p, status, size)) in enumerate(zip(entries, requests)):
        check_shape(e, i)
        check_response(e, i, env.url(p), status, size)
        check_new_connection(e, i, env.port)
        expect(e["tlstrace"]["pid"] == client.pid,
               "entry %d: pid %r, want %d" % (i, e["tlstrace"]["pid"], client.pid))
        check_wallclock(e, i, launched, done)
    ids = [e["tlstrace"]["connectionId"] for e in entries]
    expect(ids[0] != ids[1], "two connections share connectionId %r" % ids[0])


def test_comm_filter(env):
    need("curl")
    env.require_server()
    url = env.url("/hello")
    started = time.monotonic()
    tracer = env.start_tlstrace("comm_filter", ["-c", "curl", "-d", "4"])

    curl_pids = []
    for _ in range(2):
        p = env.procs.spawn(["curl", "-sk", "-o", "/dev/null", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        expect(env.procs.wait(p, 15, "curl") == 0, "curl %s" % describe_exit(p.returncode))
        curl_pids.append(p.pid)
    rc, out, _ = env.procs.run([sys.executable, "-c", PY_CLIENT, str(env.port), "/hello"],
                               15, "python client")
    expect(rc == 0, "python client %s" % describe_exit(rc))
    check_py_output(out, [("/hello", 200, 6)])
    expect(tracer.poll() is None, "tlstrace exited before the clients finished (-d 4)")

    rc = env.procs.wait(tracer, 15, "tlstrace -d 4")
    elapsed = time.monotonic() - started
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    expect(elapsed >= 3.9, "tlstrace -d 4 stopped after %.2fs" % elapsed)

    entries = read_entries(tracer.out_file)
    expect_count(entries, 2)
    for i, e in enumerate(entries):
        check_shape(e, i)
        check_response(e, i, url, 200, 6)
        expect(e["tlstrace"]["comm"] == "curl", "entry %d: comm %r" % (i, e["tlstrace"]["comm"]))
    pids = sorted(e["tlstrace"]["pid"] for e in entries)
    expect(pids == sorted(curl_pids), "pids %r, curl's were %r" % (pids, curl_pids))


def test_errors(env):
    problems = []

    def one_line(err):
        return len([l for l in err.splitlines() if l.strip()]) == 1

    rc, _, err = env.procs.run([env.tlstrace, "--bogus"], 10, "tlstrace --bogus")
    if rc != 2 or not one_line(err):
        problems.append("--bogus: exit %d, %d stderr lines (want 2, 1)"
                        % (rc, len(err.splitlines())))

    pid = 999999
    while os.path.exists("/proc/%d" % pid):
        pid += 1
    rc, _, err = env.procs.run([env.tlstrace, "-p", str(pid)], 10, "tlstrace -p %d" % pid)
    if rc == 0 or not one_line(err) or str(pid) not in err:
        problems.append("-p %d: exit %d, stderr %r (want non-zero, one line naming the pid)"
                        % (pid, rc, err.strip()[:100]))

    rc, _, err = env.procs.run([env.tlstrace, "-f", "nope", "--", "true"], 10,
                               "tlstrace -f nope")
    if rc != 2 or not err.strip():
        problems.append("-f nope: exit %d%s (want 2 and a message)" % (rc, stderr_hint(err)))

    expect(not problems, "; ".join(problems))


def test_json_file_mode(env):
    need("curl")
    env.require_server()
    # umask 0, so only an explicit 0600 at creation passes.
    rc, _, err, path = env.trace("json_file_mode", ["curl", "-sk", "-o", "/dev/null",
                                                    env.url("/hello")], timeout=30, umask=0)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(os.path.exists(path), "no output file")
    st = os.stat(path)
    expect(stat.S_ISREG(st.st_mode), "output is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    expect(mode == 0o600, "output file mode %04o, want 0600" % mode)


# A client that stops in the middle of a fetch, for the tests of failures:
# "handshake" connects to a listener that never answers the ClientHello,
# "response" reads the head of a stalled response; then it says so and waits
# to be killed.
PY_STUCK = r"""
import socket, ssl, sys
what, port = sys.argv[1], int(sys.argv[2])
ctx = ssl._create_unverified_context()
if what == "handshake":
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    s = socket.create_connection(lst.getsockname())
    print("stuck", flush=True)
    ctx.wrap_socket(s, server_hostname="localhost")
else:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET /stall/30000 HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % port)
    s.recv(65536)
    print("stuck", flush=True)
    s.recv(65536)
"""


def only_failure(entries, phase, words):
    expect_count(entries, 1)
    e = entries[0]
    x = e["tlstrace"]
    expect(x.get("failedPhase") == phase, "failedPhase %r, want %r" % (x.get("failedPhase"), phase))
    for w in words:
        expect(w in x.get("error", ""), "error %r does not say %r" % (x.get("error"), w))
    for k in ("connectStart", "secureConnectionStart", "connectEnd", "requestStart",
              "responseStart"):
        expect(e[k] == 0, "%s = %r in a failed fetch, want 0" % (k, e[k]))
    expect(e["startTime"] > 0 and e["responseEnd"] >= e["startTime"],
           "startTime %r, responseEnd %r" % (e["startTime"], e["responseEnd"]))
    return e, x.get("partialTimings", {})


def test_killed_mid_handshake(env):
    """The client dies inside SSL_do_handshake: one failed entry, phase tls."""
    env.require_server()
    out = env.out_file("killed_mid_handshake")
    p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--", sys.executable, "-c",
                         PY_STUCK, "handshake", str(env.port)],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)
    expect(read_line(p, 20, "stuck client") == "stuck", "the client did not start")
    time.sleep(0.5)  # inside SSL_do_handshake, waiting for the ServerHello
    subprocess.run(["pkill", "-KILL", "-P", str(p.pid)], check=False)
    rc = env.procs.wait(p, 20, "tlstrace")
    expect(rc == 128 + signal.SIGKILL,
           "tlstrace exited %r, want the command's %d" % (rc, 128 + signal.SIGKILL))
    e, partial = only_failure(read_entries(out), "tls", ["handshake", "process exited"])
    expect(partial.get("connectStart", 0) > 0, "no partial connectStart: %r" % partial)
    expect(partial.get("secureConnectionStart", 0) >= partial.get("connectStart", 0) > 0,
           "partial secureConnectionStart missing or early: %r" % partial)
    expect(e["name"].startswith("https://localhost:"), "name %r" % e["name"])


def test_killed_mid_response(env):
    """The client dies after the head of a response: one failed entry, phase http."""
    env.require_server()
    out = env.out_file("killed_mid_response")
    p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--", sys.executable, "-c",
                         PY_STUCK, "response", str(env.port)],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)
    expect(read_line(p, 20, "stuck client") == "stuck", "the client did not start")
    subprocess.run(["pkill", "-KILL", "-P", str(p.pid)], check=False)
    rc = env.procs.wait(p, 20, "tlstrace")
    expect(rc == 128 + signal.SIGKILL, "tlstrace exited %r" % rc)
    e, partial = only_failure(read_entries(out), "http", ["cut short", "process exited"])
    expect(e["name"] == env.url("/stall/30000"), "name %r" % e["name"])
    for k in ("connectStart", "secureConnectionStart", "connectEnd", "requestStart",
              "responseStart"):
        expect(partial.get(k, 0) > 0, "partialTimings lacks %s: %r" % (k, partial))
    order = [partial[k] for k in ("connectStart", "secureConnectionStart", "connectEnd",
                                  "requestStart", "responseStart")]
    expect(order == sorted(order), "partial timings out of order: %r" % partial)
    expect(e["responseEnd"] >= partial["responseStart"], "responseEnd before the response")


def test_sigterm_flushes(env):
    """SIGTERM while a response is stalled: tlstrace exits 0 and flushes the open entry."""
    env.require_server()
    out = env.out_file("sigterm_flushes")
    errpath = env.path("sigterm_flushes.stderr")
    with open(errpath, "wb") as err:
        tracer = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "-c", "python3"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    tracer.out_file, tracer.err_file = out, errpath
    env.wait_attached(tracer)
    client = env.procs.spawn([sys.executable, "-c", PY_STUCK, "response", str(env.port)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(client, 20, "stuck client") == "stuck", "the client did not start")
    time.sleep(0.1)
    tracer.send_signal(signal.SIGTERM)
    rc = env.procs.wait(tracer, 20, "tlstrace after SIGTERM")
    expect(rc == 0, "tlstrace exited %r after SIGTERM, want 0" % rc)
    entries = [e for e in read_entries(out) if e["tlstrace"]["pid"] == client.pid]
    only_failure(entries, "http", ["cut short", "trace ended"])
    env.procs.stop(client)


# --- framing, pipelining and failures seen from the response ------------------

CURL_W = "%{http_code} %{size_download}\n"  # curl -w: what curl itself got


def curl_fetches(urls):
    """curl arguments fetching urls in order, bodies to /dev/null, -w CURL_W."""
    args = ["-w", CURL_W]
    for url in urls:
        args += ["-o", "/dev/null", url]
    return args


def check_curl_output(out, requests):
    want = ["%d %d" % (status, size) for _, status, size in requests]
    expect(out.splitlines() == want, "curl printed %r, want %r" % (out.splitlines(), want))


def expect_no_failure(e, i):
    x = e["tlstrace"]
    expect("failedPhase" not in x and "error" not in x,
           "entry %d: a failed fetch (failedPhase %r, error %r), want a complete one"
           % (i, x.get("failedPhase"), x.get("error")))


def check_failed_fields(e):
    """The spec-shaped fields of a failed fetch (docs/semantics.md, failed fetch column)."""
    for k in ("transferSize", "encodedBodySize", "decodedBodySize", "responseStatus",
              "firstInterimResponseStart"):
        expect(e[k] == 0, "%s = %r in a failed fetch, want 0" % (k, e[k]))
    expect(e["nextHopProtocol"] == "", "nextHopProtocol %r in a failed fetch, want ''"
           % e["nextHopProtocol"])


def check_one_connection(env, entries, requests):
    """requests [(path, status, body bytes)] were made in this order on one new
    connection: names, statuses and sizes; the first entry has the connection's
    timings, the others are reused; every response ended by its own framing,
    so before the next request was written."""
    expect_count(entries, len(requests))
    for i, (e, (p, status, size)) in enumerate(zip(entries, requests)):
        check_shape(e, i)
        check_response(e, i, env.url(p), status, size)
        expect_no_failure(e, i)
    check_new_connection(entries[0], 0, env.port)
    for i in range(1, len(entries)):
        check_reused(entries[i], i, entries[0])
        prev, e = entries[i - 1], entries[i]
        expect(prev["responseEnd"] <= e["requestStart"],
               "entry %d: responseEnd %.3f is after the next request's requestStart %.3f: "
               "the response did not end by its framing"
               % (i - 1, prev["responseEnd"], e["requestStart"]))


def test_framing_chunked(env):
    """Chunked bodies end at their last chunk, even one written in two parts;
    encodedBodySize does not count the chunk framing."""
    need("curl")
    env.require_server()
    requests = [("/chunked/5000", 200, 5000), ("/chunked-split/300", 200, 300)]
    cmd = ["curl", "-sk"] + curl_fetches([env.url(p) for p, _, _ in requests])
    rc, out, err, path = env.trace("framing_chunked", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    # The server sleeps CHUNK_GAP_S before each write after the head: the
    # entry cannot have ended at the head or at the first chunk.
    for i, (e, (p, _, size)) in enumerate(zip(entries, requests)):
        writes = len(chunk_sizes(size)) + (2 if "split" in p else 1)
        least = (writes - 1) * CHUNK_GAP_S * 1000
        took = e["responseEnd"] - e["responseStart"]
        expect(took >= least, "entry %d: responseEnd only %.3f ms after responseStart; the "
               "last chunk came at least %.0f ms after the head" % (i, took, least))


def test_framing_gzip(env):
    """Content-Encoding gzip: encodedBodySize is what came over the wire,
    decodedBodySize the size once decoded (curl itself does not decode it)."""
    need("curl")
    env.require_server()
    url, plain = env.url("/gzip/2000"), 2000
    body_file = env.path("framing_gzip.body")
    rc, out, err, path = env.trace("framing_gzip", ["curl", "-sk", "-o", body_file, url],
                                   timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    with open(body_file, "rb") as f:
        body = f.read()
    try:
        decoded = len(gzip.decompress(body))
    except (OSError, EOFError) as ex:
        raise Failure("the server's body is not gzip (%s): fix server.py" % ex)
    expect(decoded == plain, "the server's body decodes to %d bytes, want %d" % (decoded, plain))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0, content_encoded=True)
    check_response(e, 0, url, 200, len(body))
    expect_no_failure(e, 0)
    check_new_connection(e, 0, env.port)
    expect(e["decodedBodySize"] == plain, "decodedBodySize %r, want %d (encodedBodySize %r)"
           % (e["decodedBodySize"], plain, e["encodedBodySize"]))
    expect(not e["tlstrace"].get("decodedBodySizeUnknown"),
           "decodedBodySizeUnknown is set, though all %d bytes fit in one capture" % len(body))


def test_framing_early_hints(env):
    """A 103 before the 200: firstInterimResponseStart is the 103's read, which
    is also responseStart (the first response bytes); the entry is the 200's."""
    need("curl")
    env.require_server()
    url = env.url("/early-hints")
    rc, out, err, path = env.trace("framing_early_hints", ["curl", "-sk", url], timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.endswith("hinted\n"), "curl printed %r" % out[-60:])
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, url, 200, 7)
    expect_no_failure(e, 0)
    check_new_connection(e, 0, env.port)
    interim = e["firstInterimResponseStart"]
    expect(interim > 0, "firstInterimResponseStart is %r, want the 103's read" % interim)
    expect(e["requestStart"] <= interim <= e["responseStart"],
           "firstInterimResponseStart %.3f not within [requestStart %.3f, responseStart %.3f]"
           % (interim, e["requestStart"], e["responseStart"]))
    expect(abs(e["responseStart"] - interim) <= EPS_MS,
           "responseStart %.3f != firstInterimResponseStart %.3f: the 103 was the first "
           "response bytes read" % (e["responseStart"], interim))
    gap = e["responseEnd"] - interim
    expect(gap >= EARLY_HINTS_MS / 2,
           "responseEnd only %.3f ms after the 103; the 200 came %d ms after it"
           % (gap, EARLY_HINTS_MS))


def test_framing_head_204_304(env):
    """No body for HEAD (despite Content-Length: 6), 204 (no Content-Length)
    and 304 (Content-Length: 1000): each ends at its head."""
    need("curl")
    env.require_server()
    requests = [("/hello", 200, 0), ("/status/204?length=none", 204, 0),
                ("/status/304?length=1000", 304, 0)]
    urls = [env.url(p) for p, _, _ in requests]
    cmd = (["curl", "-sk", "-I"] + curl_fetches(urls[:1]) + ["--next", "-sk"]
           + curl_fetches(urls[1:]))
    rc, out, err, path = env.trace("framing_head_204_304", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    methods = [e["tlstrace"].get("method") for e in entries]
    expect(methods == ["HEAD", "GET", "GET"], "methods %r, want HEAD, GET, GET" % methods)


def test_framing_close_delimited(env):
    """No Content-Length, no chunking, Connection: close: the body ends at the
    close, and that is a complete response, not a failure."""
    need("curl")
    env.require_server()
    requests = [("/close-delimited/3000", 200, 3000)]
    url = env.url(requests[0][0])
    rc, out, err, path = env.trace("framing_close_delimited",
                                   ["curl", "-sk"] + curl_fetches([url]), timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    e = entries[0]
    expect(e["responseEnd"] >= e["responseStart"] > 0,
           "responseStart %r, responseEnd %r" % (e["responseStart"], e["responseEnd"]))


# Writes the GET requests for PATH... in one sendall on one TLS connection, then
# reads the responses, framed by Content-Length. Prints "PATH STATUS BODYLEN".
PY_PIPELINED = r"""
import socket, ssl, sys
port, paths = int(sys.argv[1]), sys.argv[2:]
ctx = ssl._create_unverified_context()
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % (p.encode(), port)
                   for p in paths))
buf = b""
def more():
    global buf
    data = s.recv(65536)
    if not data:
        sys.exit("connection closed with %d bytes unparsed" % len(buf))
    buf += data
for p in paths:
    while b"\r\n\r\n" not in buf:
        more()
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = [int(l.split(b":", 1)[1]) for l in lines[1:]
              if l.lower().startswith(b"content-length:")]
    if len(length) != 1:
        sys.exit("response to %s has no Content-Length" % p)
    while len(buf) < length[0]:
        more()
    print(p, int(lines[0].split()[1]), length[0], flush=True)
    buf = buf[length[0]:]
s.close()
"""


def test_pipelined(env):
    """Two requests in one write, before any response: two entries in order,
    the second reused, both requestStarts that one write."""
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/100", 200, 100)]
    cmd = [sys.executable, "-c", PY_PIPELINED, str(env.port)] + [p for p, _, _ in requests]
    rc, out, err, path = env.trace("pipelined", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_py_output(out, requests)
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, (e, (p, status, size)) in enumerate(zip(entries, requests)):
        check_shape(e, i)
        check_response(e, i, env.url(p), status, size)
        expect_no_failure(e, i)
    first, second = entries
    check_new_connection(first, 0, env.port)
    check_reused(second, 1, first)
    expect(abs(second["requestStart"] - first["requestStart"]) <= EPS_MS,
           "requestStart %.3f != %.3f: both requests were in one write"
           % (second["requestStart"], first["requestStart"]))
    expect(first["responseEnd"] <= second["responseStart"],
           "entry 0: responseEnd %.3f after entry 1's responseStart %.3f"
           % (first["responseEnd"], second["responseStart"]))


def test_cert_rejected(env):
    """curl rejects the self-signed certificate: a failed fetch, phase tls."""
    need("curl")
    env.require_server()
    cmd = ["curl", "-s", "-o", "/dev/null", env.url("/hello")]
    rc, out, err, path = env.trace("cert_rejected", cmd, timeout=30)
    expect(rc == 60, "tlstrace exited %r, want curl's 60 (certificate rejected)%s"
           % (rc, stderr_hint(err)))
    e, partial = only_failure(read_entries(path), "tls", [])
    check_failed_fields(e)
    x = e["tlstrace"]
    expect(x.get("error"), "no error text: %r" % x.get("error"))
    expect(e["name"] == env.url("/"), "name %r, want %r (the SNI; no request was sent)"
           % (e["name"], env.url("/")))
    expect(partial.get("connectStart", 0) > 0, "no partial connectStart: %r" % partial)
    expect(partial.get("secureConnectionStart", 0) >= partial["connectStart"],
           "partial secureConnectionStart missing or before connectStart: %r" % partial)
    for k in ("requestStart", "responseStart"):
        expect(not partial.get(k),
               "partial %s %r, yet no request was sent" % (k, partial.get(k)))
    expect(e["responseEnd"] >= partial["secureConnectionStart"],
           "responseEnd %.3f (the failure) before the handshake started %.3f"
           % (e["responseEnd"], partial["secureConnectionStart"]))


def test_peer_reset(env):
    """The server resets the connection in the middle of the body: a failed
    fetch, phase http, that says so."""
    need("curl")
    env.require_server()
    url = env.url("/reset")
    rc, out, err, path = env.trace("peer_reset", ["curl", "-sk", "-o", "/dev/null", url],
                                   timeout=30)
    expect(0 < rc < 128, "tlstrace exited %r, want curl's failure (56: recv failure)%s"
           % (rc, stderr_hint(err)))
    e, partial = only_failure(read_entries(path), "http", ["reset"])
    check_failed_fields(e)
    expect(e["name"] == url, "name %r, want %r" % (e["name"], url))
    steps = ("connectStart", "secureConnectionStart", "connectEnd", "requestStart",
             "responseStart")
    for k in steps:
        expect(partial.get(k, 0) > 0, "partialTimings lacks %s: %r" % (k, partial))
    order = [partial[k] for k in steps]
    expect(order == sorted(order), "partial timings out of order: %r" % partial)
    late = e["responseEnd"] - partial["responseStart"]
    expect(late >= RESET_AFTER_MS / 2,
           "responseEnd (the reset) only %.3f ms after responseStart; the server reset "
           "%d ms after the head" % (late, RESET_AFTER_MS))


# --- servers: entries of role "server" -----------------------------------------
#
# Each test runs a real HTTPS server under `tlstrace -- SERVER`, fetches from it
# with curl, then stops tlstrace with SIGINT (which leaves the server running)
# and stops the server itself. The entries are the server's view (docs/semantics.md,
# "Server side"): connectStart = accept, secureConnectionStart = the server's
# handshake start, requestStart = the request read, responseStart/End = the
# response written; later requests on a connection are reused.

SERVER_CURL_W = "%{http_code} %{size_download} %{local_port}\n"
WALL_SLACK_MS = 1.0  # "just before / just after" a client's run


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


def check_server_entry(e, i, url, status, size, pid, remote, library, proto, method="GET"):
    """One complete server entry: shape, what was served, to whom, by whom."""
    check_shape(e, i, role="server")
    expect_no_failure(e, i)
    x = e["tlstrace"]
    expect(e["name"] == url, "entry %d: name %r, want %r" % (i, e["name"], url))
    expect(x.get("method") == method, "entry %d: method %r, want %r" % (i, x.get("method"), method))
    expect(e["responseStatus"] == status,
           "entry %d: responseStatus %r, want %d" % (i, e["responseStatus"], status))
    expect(e["encodedBodySize"] == size,
           "entry %d: encodedBodySize %r, want %d" % (i, e["encodedBodySize"], size))
    expect(e["nextHopProtocol"] == proto,
           "entry %d: nextHopProtocol %r, want %r" % (i, e["nextHopProtocol"], proto))
    expect(x["pid"] == pid, "entry %d: pid %r, the server's is %d" % (i, x["pid"], pid))
    expect(x["remoteAddress"] == remote,
           "entry %d: remoteAddress %r, want the client's %r" % (i, x["remoteAddress"], remote))
    expect(x["tls"]["library"] == library,
           "entry %d: tls.library %r, want %r" % (i, x["tls"]["library"], library))
    expect(0 < e["responseStart"] <= e["responseEnd"],
           "entry %d: responseStart %r, responseEnd %r" % (i, e["responseStart"], e["responseEnd"]))


def check_server_new(e, i):
    """The first entry of an accepted connection: the connection's own timings,
    connectStart (accept) <= secureConnectionStart < connectEnd <= requestStart
    <= responseStart <= responseEnd, no name lookup."""
    expect(e["tlstrace"]["reused"] is False, "entry %d: reused should be false" % i)
    for k in ORDER + ["fetchStart"]:
        expect(e[k] > 0, "entry %d: %s is %r, want > 0" % (i, k, e[k]))
    check_order(e, i)
    expect(e["secureConnectionStart"] < e["connectEnd"],
           "entry %d: the handshake has no duration: secureConnectionStart %.3f, connectEnd %.3f"
           % (i, e["secureConnectionStart"], e["connectEnd"]))
    for k in ("domainLookupStart", "domainLookupEnd", "connectStart"):
        expect(abs(e[k] - e["startTime"]) <= EPS_MS,
               "entry %d: %s %.6f != startTime %.6f (an accepted connection starts at the "
               "accept, with no lookup)" % (i, k, e[k], e["startTime"]))


def check_server_wallclock(e, i, window):
    """The response was written while the client ran."""
    lo, hi = window
    end = e["tlstrace"]["timeOrigin"] + e["responseEnd"]
    expect(end >= lo - WALL_SLACK_MS,
           "entry %d: responseEnd is %.3f ms before the client started" % (i, lo - end))
    expect(end <= hi + WALL_SLACK_MS,
           "entry %d: responseEnd is %.3f ms after the client ended" % (i, end - hi))


def server_ext_problems(entries, local, version, alpn):
    """What the extension object gets wrong about the server's side of the
    connection (docs/semantics.md: local and remote address, tls version, cipher,
    serverName, alpn, resumed); one message per field, naming the entries."""
    bad = {}
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        tls = x["tls"]
        got = [("localAddress", x.get("localAddress"), local),
               ("tls.serverName", tls.get("serverName"), "localhost"),
               ("tls.version", tls.get("version"), version),
               ("tls.alpn", tls.get("alpn"), alpn),
               ("tls.resumed", tls.get("resumed"), False)]
        for k, have, want in got:
            if have != want:
                bad.setdefault((k, repr(have), repr(want)), []).append(str(i))
        cipher = tls.get("cipher")
        if not (isinstance(cipher, str) and cipher.startswith("TLS_")):
            bad.setdefault(("tls.cipher", repr(cipher), "a TLS_... name"), []).append(str(i))
    return ["%s %s, want %s (entries %s)" % (k, have, want, ",".join(ids))
            for (k, have, want), ids in bad.items()]


def expect_no_problems(problems):
    expect(not problems, "; ".join(problems))


def test_server_python(env):
    """server.py (Python's ssl, threads) traced as a server: two requests on one
    keep-alive connection, a POST on a second one."""
    need("curl")
    cert, key = server_certs(env)
    ready = env.path("server_python.port")
    srv = start_traced_server(
        env, "server_python", [sys.executable, os.path.join(HERE, "server.py"), "--port", "0",
                               "--cert", cert, "--key", key, "--ready-file", ready],
        ready_file=ready, what="server.py")
    base = "https://localhost:%d" % srv.port
    requests = [("GET", "/hello", 200, 6), ("GET", "/size/20000", 200, 20000),
                ("POST", "/hello", 200, 6)]
    win1, got1 = curl_server(env, srv, server_fetches([base + "/hello", base + "/size/20000"]))
    win2, got2 = curl_server(env, srv, ["-d", "small=body"] + server_fetches([base + "/hello"]),
                             "curl -d")
    rc, alive = stop_traced_server(env, srv)
    got = got1 + got2
    expect([(s, n) for s, n, _ in got] == [(s, n) for _, _, s, n in requests],
           "curl got %r" % got)
    expect(got1[0][2] == got1[1][2], "curl used two connections: local ports %d, %d"
           % (got1[0][2], got1[1][2]))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 3)
    windows = [win1, win1, win2]
    for i, (e, (method, p, status, size), (_, _, cport)) in enumerate(
            zip(entries, requests, got)):
        check_server_entry(e, i, base + p, status, size, srv.pid, "127.0.0.1:%d" % cport,
                           "openssl", "http/1.1", method)
        check_server_wallclock(e, i, windows[i])
    check_server_new(entries[0], 0)
    check_reused(entries[1], 1, entries[0])
    check_server_new(entries[2], 2)
    ids = [e["tlstrace"]["connectionId"] for e in entries]
    expect(ids[2] != ids[0], "two connections share connectionId %r" % ids[0])
    # With a command, a signal that stops tlstrace first gives 128 + signal
    # (the command is left running).
    problems = []
    if rc != 128 + signal.SIGINT:
        problems.append("tlstrace %s after SIGINT with the server still running, want %d"
                        % (describe_exit(rc), 128 + signal.SIGINT))
    if not alive:
        problems.append("the server did not outlive tlstrace")
    expect_no_problems(problems + server_ext_problems(
        entries, "127.0.0.1:%d" % srv.port, "TLSv1.3", ""))


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{
    worker_connections 64;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2;
        root {dir}/www;
    }}
}}
"""


def test_server_nginx(env):
    """nginx (one process, event loop, TLS 1.2 with ALPN): three requests on
    one keep-alive connection, the last a 404."""
    need("curl")
    need("nginx")
    cert, key = server_certs(env)
    d = env.path("nginx")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "tmp"))
    with open(os.path.join(d, "www", "hello"), "wb") as f:
        f.write(b"hello\n")
    with open(os.path.join(d, "www", "big"), "wb") as f:
        f.write(b"b" * 30000)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, port=port, cert=cert, key=key))
    srv = start_traced_server(env, "server_nginx",
                              ["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")],
                              port=port)
    base = "https://localhost:%d" % port
    paths = ["/hello", "/big", "/missing"]
    window, got = curl_server(env, srv, server_fetches([base + p for p in paths]))
    rc, _ = stop_traced_server(env, srv)
    expect([(s, n) for s, n, _ in got[:2]] == [(200, 6), (200, 30000)] and got[2][0] == 404
           and got[2][1] > 0, "curl got %r" % got)
    expect(len({p for _, _, p in got}) == 1, "curl used several connections: %r" % got)
    expect(rc >= 0 and rc not in (1, 2), "tlstrace %s%s" % (describe_exit(rc),
                                                            env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 3)
    remote = "127.0.0.1:%d" % got[0][2]
    for i, (e, p, (status, size, _)) in enumerate(zip(entries, paths, got)):
        check_server_entry(e, i, base + p, status, size, srv.pid, remote, "openssl", "http/1.1")
        expect(e["tlstrace"]["comm"] == "nginx",
               "entry %d: comm %r, want 'nginx'" % (i, e["tlstrace"]["comm"]))
        check_server_wallclock(e, i, window)
    check_server_new(entries[0], 0)
    for i in (1, 2):
        check_reused(entries[i], i, entries[0])
        expect(entries[i - 1]["responseEnd"] <= entries[i]["requestStart"],
               "entry %d: responseEnd %.3f after the next request was read (%.3f)"
               % (i - 1, entries[i - 1]["responseEnd"], entries[i]["requestStart"]))
    expect_no_problems(server_ext_problems(entries, "127.0.0.1:%d" % port, "TLSv1.2",
                                           "http/1.1"))


def test_server_s_server(env):
    """openssl s_server in its plain mode: it reads the request with SSL_read
    and writes what arrives on its stdin (here, a response, once the request
    is in) with SSL_write. Its -WWW/-www modes do their I/O through OpenSSL's
    SSL BIO, whose calls are internal to libssl and not traced (README)."""
    need("curl")
    need("openssl")
    cert, key = server_certs(env)
    fifo = env.path("s_server.stdin")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    port = free_port()
    # opened read-write: s_server neither blocks on the open nor sees an EOF
    srv = start_traced_server(env, "server_s_server",
                              ["sh", "-c", 'exec 3<>"$0"; exec "$@" <&3', fifo,
                               "openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                               "-cert", cert, "-key", key, "-quiet", "-naccept", "1"],
                              port=port, what="s_server")
    url = "https://localhost:%d/hello" % port
    t0 = wall_ms()
    client = env.procs.spawn(srv.client(["curl", "-sk"] + server_fetches([url])),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    time.sleep(0.7)  # the request has arrived: answer it
    with open(fifo, "w") as f:
        f.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
    crc = env.procs.wait(client, 15, "curl")
    t1 = wall_ms()
    out = client.stdout.read().decode(errors="replace").split()
    rc, _ = stop_traced_server(env, srv)
    expect(crc == 0 and len(out) == 3, "curl %s, printed %r" % (describe_exit(crc), out))
    expect(rc >= 0 and rc not in (1, 2), "tlstrace %s%s" % (describe_exit(rc),
                                                            env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 1)
    e = entries[0]
    check_server_entry(e, 0, url, 200, 6, srv.pid, "127.0.0.1:%s" % out[2], "openssl",
                       "http/1.1")
    check_server_new(e, 0)
    check_server_wallclock(e, 0, (t0, t1))
    expect(e["responseStart"] - e["requestStart"] >= 500,
           "responseStart %.1f ms after requestStart: the answer was held 700 ms"
           % (e["responseStart"] - e["requestStart"]))


NODE_SERVER = r"""
const fs = require('fs');
const [key, cert, port] = process.argv.slice(1);
require('https').createServer({key: fs.readFileSync(key), cert: fs.readFileSync(cert)},
  (q, s) => { s.setHeader('Content-Length', 6); s.end('hello\n'); }).listen(+port, '127.0.0.1');
"""


def test_server_node(env):
    """A Node.js https server (OpenSSL inside, memory BIOs): server entries, the
    session bound to its socket by the ServerHello's ciphertext."""
    need("node")
    cert, key = server_certs(env)
    port = free_port()
    srv = start_traced_server(env, "server_node", ["node", "-e", NODE_SERVER, key, cert, str(port)],
                              port=port, what="node")
    urls = ["https://localhost:%d/a" % port, "https://localhost:%d/b" % port]
    window, got = curl_server(env, srv, server_fetches(urls))
    rc, _ = stop_traced_server(env, srv)
    expect([(st, n) for st, n, _ in got] == [(200, 6), (200, 6)], "curl got %r" % got)
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 2)
    for i, (e, url) in enumerate(zip(entries, urls)):
        check_server_entry(e, i, url, 200, 6, srv.pid, "127.0.0.1:%d" % got[0][2], "openssl",
                           "http/1.1")
        check_server_wallclock(e, i, window)
        expect(e["tlstrace"]["connectionObserved"] is True, "entry %d: not bound" % i)
    check_server_new(entries[0], 0)
    check_reused(entries[1], 1, entries[0])


def test_server_gnutls(env):
    """gnutls-serv --http: a GnuTLS server answering any path with an HTML page,
    as HTTP/1.0 without Content-Length, closing after it. It listens on every
    address, so it runs in a network namespace of its own."""
    need("curl")
    need("gnutls-serv")
    cert, key = server_certs(env)
    port = free_port()
    srv = start_traced_server(env, "server_gnutls",
                              ["gnutls-serv", "--http", "--x509certfile", cert,
                               "--x509keyfile", key, "-p", str(port)],
                              port=port, netns=True, what="gnutls-serv")
    url = "https://localhost:%d/status" % port
    window, got = curl_server(env, srv, ["-4"] + server_fetches([url]))
    rc, _ = stop_traced_server(env, srv)
    expect(len(got) == 1 and got[0][0] == 200 and got[0][1] > 0, "curl got %r" % got)
    expect(rc >= 0 and rc not in (1, 2), "tlstrace %s%s" % (describe_exit(rc),
                                                            env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 1)
    e = entries[0]
    # The body is close-delimited: its size is what curl read until the close.
    check_server_entry(e, 0, url, 200, got[0][1], srv.pid, "127.0.0.1:%d" % got[0][2],
                       "gnutls", "http/1.0")
    check_server_new(e, 0)
    check_server_wallclock(e, 0, window)
    expect_no_problems(server_ext_problems(entries, "127.0.0.1:%d" % port, "TLSv1.3", ""))


TESTS = [
    ("curl_single", test_curl_single),
    ("curl_exit_status", test_curl_exit_status),
    ("curl_keepalive", test_curl_keepalive),
    ("python_ssl", test_python_ssl),
    ("openssl_s_client", test_openssl_s_client),
    ("accuracy_bracket", test_accuracy_bracket),
    ("accuracy_lookup", test_accuracy_lookup),
    ("accuracy_gnutls", test_accuracy_gnutls),
    ("curl_lookup", test_curl_lookup),
    ("lookup_failure", test_lookup_failure),
    ("tls_details", test_tls_details),
    ("tls_resumption", test_tls_resumption),
    ("happy_eyeballs", test_happy_eyeballs),
    ("connect_refused", test_connect_refused),
    ("connect_timeout", test_connect_timeout),
    ("plain_http", test_plain_http),
    ("connection_predates_trace", test_connection_predates_trace),
    ("h2_curl", test_h2_curl),
    ("h2_nghttp", test_h2_nghttp),
    ("wget_gnutls", test_wget_gnutls),
    ("node_fetch", test_node_fetch),
    ("library_loaded_later", test_library_loaded_later),
    ("program_started_later", test_program_started_later),
    ("git_https", test_git_https),
    ("lib_option", test_lib_option),
    ("pid_namespace", test_pid_namespace),
    ("gnutls_cli", test_gnutls_cli),
    ("curl_200_sequential", test_curl_200_sequential),
    ("attach_pid", test_attach_pid),
    ("comm_filter", test_comm_filter),
    ("errors", test_errors),
    ("json_file_mode", test_json_file_mode),
    ("chrome_trace", test_chrome_trace),
    ("killed_mid_handshake", test_killed_mid_handshake),
    ("killed_mid_response", test_killed_mid_response),
    ("sigterm_flushes", test_sigterm_flushes),
    ("framing_chunked", test_framing_chunked),
    ("framing_gzip", test_framing_gzip),
    ("framing_early_hints", test_framing_early_hints),
    ("framing_head_204_304", test_framing_head_204_304),
    ("framing_close_delimited", test_framing_close_delimited),
    ("pipelined", test_pipelined),
    ("cert_rejected", test_cert_rejected),
    ("peer_reset", test_peer_reset),
    ("server_python", test_server_python),
    ("server_nginx", test_server_nginx),
    ("server_s_server", test_server_s_server),
    ("server_gnutls", test_server_gnutls),
    ("server_node", test_server_node),
]


def load_test_modules():
    """Tests in tests/e2e/t_*.py: each module has a TESTS list like ours and takes
    its helpers from this one with `from run import ...`."""
    sys.modules.setdefault("run", sys.modules[__name__])
    for fname in sorted(os.listdir(HERE)):
        if fname.startswith("t_") and fname.endswith(".py"):
            module = __import__(fname[:-3])
            TESTS.extend(module.TESTS)


def node_module(name):
    """The directory of an npm package installed for the tests (tests/e2e/node);
    Skip when it is missing, which tests/run.sh prevents."""
    path = os.path.join(HERE, "node", "node_modules", name)
    if not os.path.isdir(path):
        raise Skip("npm package %s not installed (run: npm ci --prefix tests/e2e/node)" % name)
    return path


HOST_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/urandom")


def host_devices():
    """What no test may change: the machine's shared device nodes' mode and owner."""
    out = {}
    for path in HOST_DEVICES:
        try:
            st = os.stat(path)
            out[path] = (oct(st.st_mode), st.st_uid, st.st_gid)
        except OSError:
            out[path] = None
    return out


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


def run_test(env, fn):
    """Return ("PASS"|"FAIL"|"SKIP", detail or None)."""
    try:
        wait_for_detaches()
        detail = fn(env)
        return "PASS", detail
    except Skip as ex:
        return "SKIP", str(ex)
    except Failure as ex:
        return "FAIL", str(ex)
    except Exception as ex:  # a bug or an environment problem: report, go on
        return "FAIL", "%s: %s" % (type(ex).__name__, ex)
    finally:
        env.procs.stop_all()


def interrupt(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so children are cleaned up."""
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="tlstrace end-to-end tests")
    ap.add_argument("--tlstrace", required=True, help="the tlstrace binary")
    ap.add_argument("--workdir", required=True, help="scratch directory")
    ap.add_argument("--attach-wait", type=float, default=1.5, metavar="SECONDS",
                    help="in -p/-c modes, how long to wait for %r (default 1.5)" % READY_LINE)
    ap.add_argument("tests", nargs="*", help="run only these tests")
    args = ap.parse_args()

    load_test_modules()
    known = [name for name, _ in TESTS]
    unknown = [t for t in args.tests if t not in known]
    if unknown:
        ap.error("unknown test(s): %s (known: %s)" % (", ".join(unknown), ", ".join(known)))
    selected = [(n, f) for n, f in TESTS if not args.tests or n in args.tests]

    signal.signal(signal.SIGTERM, interrupt)

    env = Env(args)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    root = os.geteuid() == 0
    devices = host_devices()
    try:
        if root:
            env.setup()
        for name, fn in selected:
            result, detail = run_test(env, fn) if root else ("SKIP", "needs root")
            counts[result] += 1
            print("%s %s%s" % (result, name, ": " + detail if detail else ""), flush=True)
            if host_devices() != devices:
                # a test pointed tlstrace (or anything) at the machine's own devices
                counts["FAIL"] += 1
                print("FAIL host_devices_untouched: after %s: %r, were %r"
                      % (name, host_devices(), devices), flush=True)
                devices = host_devices()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        env.shutdown()

    summary = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        summary += ", %d skipped" % counts["SKIP"]
    print(summary, flush=True)
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
