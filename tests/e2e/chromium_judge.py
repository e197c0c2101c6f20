# SPDX-License-Identifier: MIT
"""A judge for tlstrace's entries of a program it has nothing to probe in:
headless Chromium (Debian's, BoringSSL linked in and stripped), whose OWN
timings of each request (the DevTools protocol's Network.Response.timing and
loadingFinished, on CLOCK_MONOTONIC) are set beside the test servers' own
timestamps of the same moments.

    run_chromium(workdir, cert_pem, key_pem, launch, timeout=90) -> dict

Starts, in this process, the servers of firefox_judge.py (A and B: HTTP/1.1
over TLS; C: HTTP/2 over TLS, ALPN h2 only; R: a port where nothing listens)
with two differences: they send TLS 1.3 session tickets (OpenSSL's two), the
records a naive reading of the wire takes for the response; and they move
their ciphertext themselves (ssl.MemoryBIO), so that each connection's log
has the moments its handshake's flights crossed the socket:
  hello_read    the recv that brought the ClientHello returned
  flight_sent   the server's flight (ServerHello to Finished) was written
  finished_read the recv that brought the client's Finished returned
(the client's Finished was written between the last two). Chromium ignores
certificate errors (its handshake skips no step for it). Then it writes
WORKDIR/chromium.json for chromium_drive.js and calls
    launch(argv) -> subprocess.Popen-like
with argv = ["node", chromium_drive.js, WORKDIR/chromium.json], which must
run it (e.g. under a tracer) and return; run_chromium waits for its end.
The fetches, in order (FETCHES): the page A /page, then
  a1, a2      A /hello           the page's connection, reused
  a_delay     A /delay/30        responseStart ~30 ms after requestStart
  a_big       A /size/200000     responseEnd well after responseStart
  a_close     A /close           the server closes after it
  a_new       A /hello           a new connection (or one Chromium opened
                                 ahead: then Chromium clamps its timings)
  b1, b2      B /hello           cross-origin: a new connection, reused
  c0          C /hello           the h2 connection
  c_p1..c_p4  C ...              at once: streams of that connection
  c_after     C /hello           reused
  refused     R /hello           nothing listens
Returns:
  requests    {key: {...}} Chromium's view of each fetch: url, protocol,
              reused, remote_port, status, failed, and the Resource Timing
              fields as epoch ms on CLOCK_REALTIME (connectStart,
              secureConnectionStart, connectEnd, requestStart, responseStart
              (receiveHeadersStart), responseEnd (loadingFinished)), None
              where Chromium gave -1; "raw" Chromium's own timing object
  server_log, connections   as firefox_judge.py's (epoch ms)
  ports       {"A", "B", "C", "R"}
  clock_offset_ms   CLOCK_REALTIME - CLOCK_MONOTONIC, as measured here
  rc          the launched process's exit status
Raises RuntimeError (with the driver's output) if it fails.
"""

import json
import os
import ssl
import subprocess
import time

import firefox_judge as fj

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"
DRIVER = os.path.join(HERE, "chromium_drive.js")

PAGE_HTML = "<!doctype html><title>tlstrace judge</title><p>judged</p>\n"


def fetches(ports):
    def url(server, path, key):
        return "https://localhost:%d%s%sk=%s" % (ports[server], path,
                                                  "&" if "?" in path else "?", key)
    return [["a1", url("A", "/hello", "a1")], ["a2", url("A", "/hello", "a2")],
            ["a_delay", url("A", "/delay/30", "a_delay")],
            ["a_big", url("A", "/size/200000", "a_big")],
            ["a_close", url("A", "/close", "a_close")], ["a_new", url("A", "/hello", "a_new")],
            ["b1", url("B", "/hello", "b1")], ["b2", url("B", "/hello", "b2")],
            ["c0", url("C", "/hello", "c0")],
            [["c_p1", url("C", "/hello", "c_p1")], ["c_p2", url("C", "/size/20000", "c_p2")],
             ["c_p3", url("C", "/delay/20", "c_p3")], ["c_p4", url("C", "/size/3000", "c_p4")]],
            ["c_after", url("C", "/hello", "c_after")],
            ["refused", url("R", "/hello", "refused")]]


class Judge(fj.Judge):
    def page(self):
        return PAGE_HTML


def server_context(cert_pem, key_pem, alpn):
    """As firefox_judge's, but with TLS 1.3 session tickets (OpenSSL sends two)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_pem, key_pem)
    ctx.set_alpn_protocols([alpn])
    return ctx


def clock_offset_ms():
    """CLOCK_REALTIME - CLOCK_MONOTONIC in ms, from the narrowest of 50 brackets."""
    best = None
    for _ in range(50):
        m0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        r = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, r - (m0 + m1) / 2)
    return best[1] / 1e6


def absolute(r, offset):
    """Chromium's request r with its timing as epoch ms."""
    t = r.get("timing") or {}
    base = t.get("requestTime")
    out = {"url": r.get("url"), "protocol": r.get("protocol"), "reused": r.get("reused"),
           "remote_port": r.get("remotePort"), "status": r.get("status"),
           "failed": r.get("failed"), "raw": t}

    def at(name):
        v = t.get(name)
        return None if base is None or v is None or v < 0 else base * 1000 + v + offset
    out["connectStart"] = at("connectStart")
    out["secureConnectionStart"] = at("sslStart")
    out["connectEnd"] = at("connectEnd")
    out["requestStart"] = at("sendStart")
    out["responseStart"] = at("receiveHeadersStart") if t.get("receiveHeadersStart", -1) > 0 \
        else at("receiveHeadersEnd")
    out["responseEnd"] = r["end"] * 1000 + offset if r.get("end") else None
    return out


class BioTLS:
    """A server's TLS over memory BIOs on a blocking socket, for the test
    servers' loops (recv, sendall, pending, fileno, shutdown, close, as
    ssl.SSLSocket's), its handshake's flights stamped as they cross."""

    def __init__(self, raw, ctx):
        self.raw = raw
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=True)

    def flush(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)
        return bool(data)

    def fill(self):
        data = self.raw.recv(65536)
        if not data:
            self.inc.write_eof()
            return False
        self.inc.write(data)
        return True

    def handshake(self, conn):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                if self.flush():
                    conn["flight_sent"] = fj.now_ms()
                if not self.fill():
                    raise ConnectionError("closed during the handshake")
                conn["finished_read"] = fj.now_ms()
                if conn.get("hello_read") is None:
                    conn["hello_read"] = conn["finished_read"]
        self.flush()  # the session tickets

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self.flush()
                if not self.fill():
                    return b""
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def sendall(self, data):
        self.obj.write(data)
        self.flush()

    def pending(self):
        return self.obj.pending() or self.inc.pending

    def selected_alpn_protocol(self):
        return self.obj.selected_alpn_protocol()

    def fileno(self):
        return self.raw.fileno()

    def shutdown(self, how):
        try:
            self.obj.unwrap()
        except (ssl.SSLError, OSError):
            pass
        try:
            self.flush()
            self.raw.shutdown(how)
        except OSError:
            pass

    def close(self):
        self.raw.close()


class BioServe:
    """firefox_judge's servers, their TLS over BioTLS."""

    def start_tls(self, raw, conn):
        tls = BioTLS(raw, self.ctx)
        self.conns.append(tls)
        tls.handshake(conn)
        return tls


class H1Server(BioServe, fj.H1Server):
    pass


class H2Server(BioServe, fj.H2Server):
    pass


def start_servers(cert_pem, key_pem):
    """Servers A, B (HTTP/1.1) and C (HTTP/2) in this process, with session
    tickets: (servers, log, judge), judge.ports naming their ports and R's.
    Each server's stop() ends it."""
    fj.import_h2()
    log, judge = fj.Log(), Judge()
    servers = [H1Server("A", server_context(cert_pem, key_pem, "http/1.1"), log, judge),
               H1Server("B", server_context(cert_pem, key_pem, "http/1.1"), log, judge),
               H2Server("C", server_context(cert_pem, key_pem, "h2"), log, judge)]
    judge.ports = {"A": servers[0].port, "B": servers[1].port, "C": servers[2].port,
                   "R": fj.find_port()}
    return servers, log, judge


def run_chromium(workdir, cert_pem, key_pem, launch, timeout=90):
    """See the module's docstring."""
    os.makedirs(workdir, exist_ok=True)
    servers, log, judge = start_servers(cert_pem, key_pem)
    out = os.path.join(os.path.abspath(workdir), "chromium.out.json")
    cfg = os.path.join(os.path.abspath(workdir), "chromium.json")
    with open(cfg, "w") as f:
        json.dump({"chromium": CHROMIUM, "out": out,
                   "page": "https://localhost:%d/page?k=page" % judge.ports["A"],
                   "fetches": fetches(judge.ports)}, f)
    if os.path.exists(out):
        os.unlink(out)
    offset = clock_offset_ms()
    proc = launch(["node", DRIVER, cfg])
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        if proc.poll() is None:
            fj.stop_process(proc, fj.leads_group(proc.pid))
        for s in servers:
            s.stop()
    if rc != 0 or not os.path.exists(out):
        raise RuntimeError("chromium_drive.js: exit %s, no results" % rc)
    with open(out) as f:
        res = json.load(f)
    offset = (offset + clock_offset_ms()) / 2
    with log.lock:
        requests = [dict(r) for r in log.requests]
        connections = [dict(c) for c in log.connections]
    return {
        "requests": {r["key"]: absolute(r, offset) for r in res["requests"] if r.get("key")},
        "page": [absolute(r, offset) for r in res["requests"] if "/page" in r.get("url", "")],
        "server_log": requests,
        "connections": connections,
        "ports": judge.ports,
        "clock_offset_ms": offset,
        "rc": rc,
        "user_agent": res.get("user_agent"),
    }
