# SPDX-License-Identifier: MIT
"""A judge for tlstrace's Firefox (NSS) timings: headless Firefox's OWN Resource
Timing entries for a fixed set of fetches, on CLOCK_REALTIME, beside the test
servers' own timestamps of the same moments.

    run_firefox(workdir, cert_pem, key_pem, launch=None, timeout=60) -> dict

Starts, in this process (threads, never children of Firefox):
  A  HTTP/1.1 over TLS (ALPN http/1.1) on 127.0.0.1: serves the page, the
     sequential fetches, and takes the page's results (POST /results);
  B  HTTP/1.1 over TLS on another port (cross-origin: a new connection);
  C  HTTP/2 over TLS (ALPN h2 only; python3-h2) on a third port;
  and picks a port R where nothing listens.
cert_pem/key_pem (e.g. mkcert.sh's self-signed CN=localhost) serve as a CA:
Firefox (mozilla::pkix) refuses mkcert.sh's certificate itself as a server's,
trusted "P,," or "C,," alike (it is CA:TRUE: "bad certificate" alert), so
the servers use a leaf it issues here (WORKDIR/leaf/: EC P-256, CA:FALSE,
SAN DNS:localhost,IP:127.0.0.1), and the profile trusts cert_pem "C,,".
The servers send no TLS session tickets (Firefox counts NewSessionTicket bytes
as the response's first byte), and give every response Cache-Control:
no-store, Timing-Allow-Origin: * and Access-Control-Allow-Origin: *.
Routes (same on A, B, C; the query only makes each URL unique):
  /page         the test page (HTML; A only is used)
  /hello        200, "hello\\n"
  /size/N       200, N bytes
  /delay/MS     200, "delayed\\n" sent MS ms after the request was read
  /close        200, "closing\\n", Connection: close, then the server closes
                (HTTP/1.1 only)
  /go           200, "go\\n" once the test is ready (run_firefox's started;
                HTTP/1.1 only)
  /results      POST: the page's results (A)
  anything else 404
A head and a body of at most 16 KiB leave in one send (HTTP/2: one sendall of
the HEADERS and DATA frames); a bigger body is sent after the head. HTTP/1.1:
a thread per connection. HTTP/2: one thread per connection, no other: each
request is answered as soon as it is read (a /delay one from a timer of the
same loop), so no response waits for another thread.
The accept and connection threads run SCHED_FIFO (priority 1; nice -10 if
that is refused) so that their time.time() stamps are not late when Firefox
keeps both cores busy; FFJ_SCHED=nice|none in the environment overrides.

Then it writes a fresh Firefox profile in WORKDIR/ff-profile (the CA trusted
with certutil; user.js (USER_PREFS) with full-precision timers and nothing that
connects by itself: checked with strace, Firefox's only connect()s to an
INET address are the page's own 5), builds argv
    ["firefox-esr", "--headless", "--no-remote", "--profile", PROFILE, PAGE_URL]
and env = os.environ + FIREFOX_ENV (MOZ_REMOTE_SETTINGS_DEVTOOLS=1: without it
release builds ignore the pref that points remote settings at a data: URL,
and look up firefox.settings.services.mozilla.com a dozen times), and calls
    launch(argv, env)
which must start Firefox with that environment (e.g. subprocess.Popen(
[tracer, ..., "--"] + argv, env=env, start_new_session=True)) and return a
subprocess.Popen-like object (.pid, .poll(), .wait(timeout), .returncode).
By default: subprocess.Popen(argv, env=env, new session, output to
WORKDIR/firefox.out). The page, in order, awaiting each fetch and reading each
body fully (fetch(url, {cache: "no-store"})):
  key        URL                          what it shows
  a1         A /hello?k=a1                the page's connection, reused
  a2         A /hello?k=a2                reused again
  a_delay    A /delay/30?k=a_delay        responseStart ~30 ms after requestStart
  a_big      A /size/200000?k=a_big       responseEnd well after responseStart
  a_404      A /missing?k=a_404           404
  a_close    A /close?k=a_close           reused; the server closes after it
  a_new      A /hello?k=a_new             a NEW connection to A
  b1         B /hello?k=b1                a new connection (cross-origin), to
                                          https://B_HOST:PORT (run_firefox's
                                          b_host: a name Firefox looks up itself,
                                          where "localhost" it answers at once)
  b2         B /hello?k=b2                reused
  c0         C /hello?k=c0                the h2 connection (alone, so there is one)
  c_p1..c_p4 C /hello, /size/20000, /delay/20, /size/3000 (?k=...) all at once:
                                          streams of that one connection
  refused    R /hello?k=refused           nothing listens: a JS fetch error
The page measures performance.timeOrigin against its own Date.now() before and
after the fetches, POSTs everything to A /results, and closes its window
(dom.allow_scripts_to_close_windows), so Firefox exits by itself (status 0)
and a tracer wrapped around it can end normally. If the launched process has
not ended EXIT_GRACE_S (10 s) after the results, it gets SIGTERM (its process
group instead if it led one at launch), 5 s later SIGKILL; whatever is left
of a group it led gets SIGKILL at the end.

With started (a callable), the page first fetches A /go?k=go, whose answer
waits until started(firefox_pid) has returned: the page and its connection
are there, the fetches not begun (a tracer attached with -p sees them). Its
entry is among the entries, key "go".

Returns:
  entries         one dict per PerformanceResourceTiming entry the page saw,
                  in the page's order: name (URL), key (the k= of the URL or
                  None), initiatorType, nextHopProtocol, transferSize,
                  encodedBodySize, decodedBodySize, responseStatus,
                  and every time field (startTime, fetchStart, domainLookupStart,
                  domainLookupEnd, connectStart, secureConnectionStart,
                  connectEnd, requestStart, responseStart, responseEnd, ...)
                  as ABSOLUTE epoch ms = time_origin + field + origin_offset_ms
                  (the offset correction IS applied), or None where Firefox
                  gave 0 (not known / not exposed); "raw" holds Firefox's own
                  relative values, 0s included.
  navigation      the page's own PerformanceNavigationTiming entry (a list of
                  one), converted the same way (its extra fields, e.g.
                  domContentLoadedEventStart, stay relative, as Firefox gave them)
  time_origin     performance.timeOrigin (epoch ms, as Firefox gave it)
  origin_offset_ms  Date.now() - (timeOrigin + performance.now()), measured in
                  the page from Date.now()'s ms ticks (best of ~20 ticks, before
                  and after the fetches; "origin_offset" has the details):
                  positive = timeOrigin is early. Add it to timeOrigin + field.
  fetches         {key: {url, status, bytes, ok}} or {key: {url, error}} per fetch
  missing_entries URLs fetched that had no entry after waiting up to 1 s for
                  them (a failed fetch's entry can come after its rejection);
                  entry_wait_ms: how long the page waited
  errors          [{key, url, error}] JS fetch errors (the refused one at least)
  server_log      one dict per request the servers read: server ("A"/"B"/"C"),
                  port, path (with query), url, key, method, status, conn (a
                  connection serial, per run), stream (h2 stream id or None),
                  and epoch ms (time.time()*1000, float): accepted,
                  handshake_done (server side), request_read (HTTP/1.1: the
                  recv that completed the head returned; HTTP/2: the recv that
                  completed the request, END_STREAM), response_head_written,
                  response_end_written (the sendall returned). The page's own
                  GET (key "page") and POST /results (key "results") are there too.
  connections     one dict per accepted connection: server, port, conn,
                  accepted, handshake_done, alpn, requests, error (of the
                  handshake or the connection, e.g. an alert from Firefox)
  firefox_pid     the Firefox main process's pid (found under the launched
                  process, or the launched pid itself), launched_pid
  wall_ms         from the launch to the results' arrival
  ports           {"A", "B", "C", "R"}
  firefox_rc      the launched process's exit status (None if it had to be stopped)
  user_agent      navigator.userAgent
Raises RuntimeError (with Firefox's output's tail) if no results came in
`timeout` seconds.

Observed with Firefox ESR 153 on a 2-core VM (about 2-2.7 s from launch to
results, 3-4 s in all):
- Reused connection: domainLookupStart/End, connectStart,
  secureConnectionStart and connectEnd all equal fetchStart (not 0).
- New connection: domainLookupStart 2-9 ms after fetchStart (Firefox's own
  dispatch); secureConnectionStart ~0.1 ms after connectStart.
- Always 0 (None here): redirectStart/End, workerStart,
  firstInterimResponseStart; finalResponseHeadersStart == responseStart.
- transferSize is encodedBodySize + 300 for HTTP/1.1 and h2 alike: a constant,
  not the header bytes.
- The refused fetch rejects ("TypeError: NetworkError when attempting to fetch
  resource.") and DOES get an entry, but ~10 ms after the rejection: read at
  once, 2 runs in 3 had none. It has nextHopProtocol "", responseStatus 0,
  sizes 0, startTime == fetchStart == responseEnd (duration 0), every other
  time field 0.
- The navigation entry's fetchStart is negative (a few ms before timeOrigin).
- origin_offset_ms: 0.01-0.99 ms over 29 runs, the same before and after
  the fetches to 0.0002 ms (one double's step at epoch ms); the Date.now() tick
  brackets are 0.2 us wide; performance.now() has ns digits.
- Firefox minus server (10 runs of 53 pairs): with the server threads on
  SCHED_FIFO (SERVER_SCHED), Firefox is never early by more than physics
  allows (responseStart/End >= -0.1 ms, requestStart >= -1.4 ms, connectStart
  -0.2..-1 ms before the accept), median +0.1..+0.3 ms, and late by up to 6 ms
  (its stamps lag, each run a few of them). Without SCHED_FIFO (FFJ_SCHED=none
  in the environment) the servers' stamps themselves lagged by up to 39 ms.

Command line: python3 tests/e2e/firefox_judge.py WORKDIR  (makes a certificate
with mkcert.sh WORKDIR/cert, runs once, prints the JSON).
"""

import heapq
import importlib
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIREFOX = "firefox-esr"
DEBIAN_DIST = "/usr/lib/python3/dist-packages"  # python3-h2, if this python lacks it
SMALL_BODY = 16 * 1024
# Added to Firefox's environment (see USER_PREFS' services.settings.server).
FIREFOX_ENV = {"MOZ_REMOTE_SETTINGS_DEVTOOLS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"}
EXIT_GRACE_S = 10.0
SERVER_SCHED = "fifo"  # the server threads' scheduling: "fifo", "nice" or "none"

# Every pref that makes Firefox connect, prefetch or phone home on its own off;
# timers at full precision.
USER_PREFS = {
    # no process started ahead of need (a tracer holds each new one while it probes it)
    "dom.ipc.processPrelaunch.enabled": False,
    # timers
    "privacy.reduceTimerPrecision": False,
    "privacy.reduceTimerPrecision.unconditional": False,
    "privacy.resistFingerprinting": False,
    "privacy.resistFingerprinting.reduceTimerPrecision.jitter": False,
    "privacy.fingerprintingProtection": False,
    "dom.enable_performance": True,
    "dom.enable_resource_timing": True,
    "dom.allow_scripts_to_close_windows": True,
    # no connections of its own
    "network.http.speculative-parallel-limit": 0,
    "network.dns.disablePrefetch": True,
    "network.dns.disablePrefetchFromHTTPS": True,
    "network.dns.disableIPv6": True,
    "network.dns.native_https_query": False,
    "network.dns.echconfig.enabled": False,
    "network.dns.http3_echconfig.enabled": False,
    "network.trr.mode": 5,
    "network.predictor.enabled": False,
    "network.predictor.enable-prefetch": False,
    "network.prefetch-next": False,
    "network.preload": False,
    "network.early-hints.enabled": False,
    "network.http.http3.enable": False,
    "network.http.altsvc.enabled": False,
    "network.http.altsvc.oe": False,
    "network.proxy.type": 0,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.notify.checkForProxies": False,
    "network.http.network-changed.timeout": 0,
    "captivedetect.canonicalURL": "",
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.newtabpage.activity-stream.feeds.topsites": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.newtabpage.activity-stream.default.sites": "",
    "browser.startup.homepage": "about:blank",
    "browser.startup.page": 0,
    "browser.startup.firstrunSkipsHomepage": True,
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "startup.homepage_override_url": "",
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.tabs.warnOnClose": False,
    "browser.warnOnQuit": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.sessionstore.max_resumed_crashes": 0,
    "browser.chrome.site_icons": False,
    "browser.places.speculativeConnect.enabled": False,
    "browser.urlbar.speculativeConnect.enabled": False,
    "browser.urlbar.suggest.searches": False,
    "browser.search.suggest.enabled": False,
    "browser.search.update": False,
    "browser.search.geoip.url": "",
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.google.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.safebrowsing.update.enabled": False,
    "browser.contentblocking.report.lockwise.enabled": False,
    "browser.discovery.enabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.topsites.contile.enabled": False,
    "browser.messaging-system.whatsNewPanel.enabled": False,
    "browser.uitour.enabled": False,
    "browser.translations.enable": False,
    "browser.ml.enable": False,
    "browser.ml.chat.enabled": False,
    "extensions.update.enabled": False,
    "extensions.update.autoUpdateDefault": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.pocket.enabled": False,
    "extensions.screenshots.disabled": True,
    "extensions.autoDisableScopes": 15,
    "extensions.enabledScopes": 5,
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.update.disabledForTesting": True,
    "app.update.staging.enabled": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    # Remote settings' server, which release builds take only with
    # MOZ_REMOTE_SETTINGS_DEVTOOLS=1 in the environment (FIREFOX_ENV): a data:
    # URL, so that every sync fails at once without a DNS lookup or connect
    "services.settings.server": "data:,none",
    "services.settings.poll_interval": 86400 * 365,
    "services.sync.enabled": False,
    "identity.fxaccounts.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.usage.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.newProfilePing.enabled": False,
    "toolkit.telemetry.shutdownPingSender.enabled": False,
    "toolkit.telemetry.updatePing.enabled": False,
    "toolkit.telemetry.bhrPing.enabled": False,
    "toolkit.telemetry.firstShutdownPing.enabled": False,
    "toolkit.coverage.opt-out": True,
    "toolkit.startup.max_resumed_crashes": -1,
    "browser.crashReports.unsubmittedCheck.enabled": False,
    "breakpad.reportURL": "",
    "security.OCSP.enabled": 0,
    "security.OCSP.require": False,
    "security.remote_settings.crlite_filters.enabled": False,
    "security.remote_settings.intermediates.enabled": False,
    "security.pki.crlite_mode": 0,
    "security.certerrors.mitm.priming.enabled": False,
    "security.tls.enable_0rtt_data": False,
    "security.ssl.enable_ocsp_stapling": False,
    "network.stricttransportsecurity.preloadlist": False,
    "dom.push.enabled": False,
    "dom.push.connection.enabled": False,
    "dom.push.serverURL": "",
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-widevinecdm.enabled": False,
    "geo.enabled": False,
    "geo.provider.network.url": "",
    "doh-rollout.disable-heuristics": True,
    "network.http.http2.enabled": True,
}


def now_ms():
    return time.time() * 1000.0


def find_port():
    """A port on 127.0.0.1 where nothing listens (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def url_key(path):
    """The k= of a path's query, or None."""
    _, _, query = path.partition("?")
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        if name == "k" and eq:
            return value
    return None


class Log:
    """What the servers saw: requests and connections, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.connections = []
        self.serial = 0

    def connection(self, server, port, accepted):
        with self.lock:
            self.serial += 1
            conn = {"server": server, "port": port, "conn": self.serial, "accepted": accepted,
                    "handshake_done": None, "alpn": None, "requests": 0,
                    "error": None}
            self.connections.append(conn)
            return conn

    def request(self, conn, method, path, request_read, stream=None):
        rec = {"server": conn["server"], "port": conn["port"], "path": path,
               "url": "https://localhost:%d%s" % (conn["port"], path), "key": url_key(path),
               "method": method, "status": None, "conn": conn["conn"], "stream": stream,
               "accepted": conn["accepted"], "handshake_done": conn["handshake_done"],
               "request_read": request_read, "response_head_written": None,
               "response_end_written": None}
        with self.lock:
            conn["requests"] += 1
            self.requests.append(rec)
        return rec


def route(path):
    """(status, content_type, body, delay_s, close) of a GET path."""
    bare = path.partition("?")[0]
    parts = bare.strip("/").split("/")
    if bare == "/hello":
        return 200, "text/plain", b"hello\n", 0.0, False
    if len(parts) == 2 and parts[0] == "size" and parts[1].isdigit():
        return 200, "application/octet-stream", b"s" * min(int(parts[1]), 64 << 20), 0.0, False
    if len(parts) == 2 and parts[0] == "delay" and parts[1].isdigit():
        return 200, "text/plain", b"delayed\n", int(parts[1]) / 1000.0, False
    if bare == "/close":
        return 200, "text/plain", b"closing\n", 0.0, True
    return 404, "text/plain", b"not found\n", 0.0, False


GO_WAIT_S = 60  # the longest /go is held

COMMON_HEADERS = [("cache-control", "no-store"), ("timing-allow-origin", "*"),
                  ("access-control-allow-origin", "*")]


def server_context(cert_pem, key_pem, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_pem, key_pem)
    ctx.set_alpn_protocols([alpn])
    ctx.options |= ssl.OP_NO_TICKET
    ctx.num_tickets = 0
    return ctx


def prioritize():
    """Let the calling server thread run as soon as its socket wakes it, ahead
    of Firefox's threads on a busy machine, so that its timestamps are taken
    when things happen: SCHED_FIFO (priority 1) if allowed, else nice -10, else
    nothing. Per thread (Linux): the test's other threads keep theirs."""
    mode = os.environ.get("FFJ_SCHED", SERVER_SCHED)
    try:
        if mode == "fifo":
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            return
    except (OSError, AttributeError):
        pass
    try:
        if mode in ("fifo", "nice"):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
    except (OSError, AttributeError):
        pass


class Server:
    """A listening TLS socket on 127.0.0.1 and a thread per connection."""

    def __init__(self, name, ctx, log, judge):
        self.name, self.ctx, self.log, self.judge = name, ctx, log, judge
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        prioritize()
        while not self.stopping:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            accepted = now_ms()
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conns.append(raw)
            conn = self.log.connection(self.name, self.port, accepted)
            threading.Thread(target=self.serve, args=(raw, conn), daemon=True).start()

    def start_tls(self, raw, conn):
        """TLS on raw, its handshake done (an ssl.SSLSocket); a subclass may
        give its own, with recv, sendall, pending, fileno, shutdown and close."""
        tls = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        self.conns.append(tls)
        tls.do_handshake()
        return tls

    def serve(self, raw, conn):
        sock = raw
        prioritize()
        try:
            sock = tls = self.start_tls(raw, conn)
            conn["handshake_done"] = now_ms()
            conn["alpn"] = tls.selected_alpn_protocol()
            self.serve_tls(tls, conn)
        except Exception as ex:  # an alert, a reset, a protocol error: note it, end
            conn["error"] = "%s: %s" % (type(ex).__name__, ex)
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        for s in [self.sock] + self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


class H1Server(Server):
    def serve_tls(self, tls, conn):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            request_read = now_ms()
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            while len(buf) < length:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            body_in, buf = buf[:length], buf[length:]
            rec = self.log.request(conn, method, path, request_read)
            if method == "POST" and path.startswith("/results"):
                status, ctype, body, delay, close = 200, "text/plain", b"thanks\n", 0.0, False
            elif path.startswith("/go"):
                self.judge.go_asked.set()
                self.judge.go.wait(GO_WAIT_S)
                status, ctype, body, delay, close = 200, "text/plain", b"go\n", 0.0, False
            elif path.startswith("/page"):
                status, ctype, body, delay, close = 200, "text/html; charset=utf-8", \
                    self.judge.page().encode(), 0.0, False
            else:
                status, ctype, body, delay, close = route(path)
            if delay:
                time.sleep(delay)
            rec["status"] = status
            headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))] + \
                COMMON_HEADERS + ([("Connection", "close")] if close else [])
            out = ("HTTP/1.1 %d %s\r\n" % (status, "OK" if status == 200 else "Not Found") +
                   "".join("%s: %s\r\n" % h for h in headers) + "\r\n").encode()
            if method == "HEAD":
                body = b""
            if len(body) <= SMALL_BODY:
                tls.sendall(out + body)
                rec["response_head_written"] = rec["response_end_written"] = now_ms()
            else:
                tls.sendall(out)
                rec["response_head_written"] = now_ms()
                tls.sendall(body)
                rec["response_end_written"] = now_ms()
            if method == "POST" and path.startswith("/results"):
                self.judge.got_results(body_in)
            if close:
                tls.shutdown(socket.SHUT_RDWR)
                return


class H2Server(Server):
    """One thread per connection, no other: requests are timestamped as read
    and answered at once (a delayed one from a timer of the same loop), so no
    response waits for another thread."""

    def serve_tls(self, tls, conn):
        import h2.config
        import h2.connection
        import h2.events
        h2conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        h2conn.initiate_connection()
        tls.sendall(h2conn.data_to_send())
        pending = {}  # stream: (method, path) until the request ends
        timers = []  # heap of (due, stream, rec, path): delayed responses
        blocked = {}  # stream: (rec, body still to send) waiting for window

        def send_body(stream, rec, body):
            while body:
                n = min(h2conn.local_flow_control_window(stream), h2conn.max_outbound_frame_size)
                if n <= 0:
                    blocked[stream] = (rec, body)
                    return False
                chunk, body = body[:n], body[n:]
                h2conn.send_data(stream, chunk, end_stream=not body)
            return True

        def respond(stream, rec, path):
            status, ctype, body, _, _ = route(path)
            rec["status"] = status
            headers = [(":status", str(status)), ("content-type", ctype),
                       ("content-length", str(len(body)))] + COMMON_HEADERS
            h2conn.send_headers(stream, headers, end_stream=not body)
            if len(body) > SMALL_BODY:
                tls.sendall(h2conn.data_to_send())
                rec["response_head_written"] = now_ms()
            done = send_body(stream, rec, body)
            tls.sendall(h2conn.data_to_send())
            t = now_ms()
            if rec["response_head_written"] is None:
                rec["response_head_written"] = t
            if done:
                rec["response_end_written"] = t

        while True:
            if timers and tls.pending() == 0:
                wait = max(0.0, timers[0][0] - time.monotonic())
                readable = select.select([tls], [], [], wait)[0]
            else:
                readable = [tls]
            if readable:
                data = tls.recv(65536)
                if not data:
                    return
                t = now_ms()
                for ev in h2conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        hdrs = dict(ev.headers)
                        pending[ev.stream_id] = (hdrs.get(":method", "?"), hdrs.get(":path", "?"))
                        if ev.stream_ended is None:
                            continue
                    if isinstance(ev, (h2.events.RequestReceived, h2.events.StreamEnded)) and \
                            ev.stream_id in pending:
                        method, path = pending.pop(ev.stream_id)
                        rec = self.log.request(conn, method, path, t, stream=ev.stream_id)
                        delay = route(path)[3]
                        if delay:
                            heapq.heappush(timers, (time.monotonic() + delay, ev.stream_id, rec,
                                                    path))
                        else:
                            respond(ev.stream_id, rec, path)
                    elif isinstance(ev, h2.events.WindowUpdated):
                        for stream in list(blocked):
                            rec, body = blocked.pop(stream)
                            if send_body(stream, rec, body):
                                tls.sendall(h2conn.data_to_send())
                                rec["response_end_written"] = now_ms()
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        tls.sendall(h2conn.data_to_send())
                        return
            while timers and timers[0][0] <= time.monotonic():
                _, stream, rec, path = heapq.heappop(timers)
                respond(stream, rec, path)
            out = h2conn.data_to_send()
            if out:
                tls.sendall(out)


PAGE = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>tlstrace firefox judge</title></head>
<body><p id="s">running</p><script>
"use strict";
const A = location.origin, B = "https://%(b_host)s:%(B)d", C = "https://localhost:%(C)d",
      R = "https://localhost:%(R)d";
const SEQ = [
  ["a1", A + "/hello?k=a1"], ["a2", A + "/hello?k=a2"],
  ["a_delay", A + "/delay/30?k=a_delay"], ["a_big", A + "/size/200000?k=a_big"],
  ["a_404", A + "/missing?k=a_404"], ["a_close", A + "/close?k=a_close"],
  ["a_new", A + "/hello?k=a_new"], ["b1", B + "/hello?k=b1"], ["b2", B + "/hello?k=b2"],
  ["c0", C + "/hello?k=c0"]];
const PAR = [["c_p1", C + "/hello?k=c_p1"], ["c_p2", C + "/size/20000?k=c_p2"],
             ["c_p3", C + "/delay/20?k=c_p3"], ["c_p4", C + "/size/3000?k=c_p4"]];
const AFTER = [["refused", R + "/hello?k=refused"]];

// Date.now() - (timeOrigin + performance.now()), from Date.now()'s ms ticks:
// the tick to d happened after the previous Date.now() call (so after p0 of
// that iteration) and before this one returned (so before this p1).
function measureOffset(ticks) {
  const to = performance.timeOrigin, est = [];
  let prevD = Date.now(), prevP0 = performance.now();
  const limit = performance.now() + ticks * 2 + 5;
  while (est.length < ticks && performance.now() < limit) {
    const p0 = performance.now(), d = Date.now(), p1 = performance.now();
    if (d !== prevD)
      est.push({offset: d - (to + (prevP0 + p1) / 2), width: p1 - prevP0});
    prevD = d; prevP0 = p0;
  }
  return est;
}

async function get(key, url) {
  try {
    const r = await fetch(url, {cache: "no-store"});
    const b = await r.arrayBuffer();
    return [key, {url: url, status: r.status, ok: r.ok, bytes: b.byteLength}];
  } catch (e) {
    return [key, {url: url, error: String(e)}];
  }
}

async function main() {
  const out = {timeOrigin: performance.timeOrigin, fetches: {}, errors: []};
  // run_firefox(started=...): wait until the test is ready (a tracer attached)
  if (%(gate)s) { const [key, v] = await get("go", A + "/go?k=go"); out.fetches[key] = v; }
  out.offsetBefore = measureOffset(20);
  for (const [k, u] of SEQ) { const [key, v] = await get(k, u); out.fetches[key] = v; }
  for (const [key, v] of await Promise.all(PAR.map(([k, u]) => get(k, u))))
    out.fetches[key] = v;
  for (const [k, u] of AFTER) { const [key, v] = await get(k, u); out.fetches[key] = v; }
  for (const [key, v] of Object.entries(out.fetches))
    if (v.error) out.errors.push({key: key, url: v.url, error: v.error});
  // A failed fetch's entry can come after its promise is rejected: wait (up
  // to 1 s) until every fetched URL has one.
  const urls = SEQ.concat(PAR, AFTER).map(([k, u]) => u), waitFrom = performance.now();
  let missing = urls;
  while (missing.length && performance.now() - waitFrom < 1000) {
    await new Promise(r => setTimeout(r, 10));
    const have = new Set(performance.getEntriesByType("resource").map(e => e.name));
    missing = urls.filter(u => !have.has(u));
  }
  out.entryWaitMs = performance.now() - waitFrom;
  out.missingEntries = missing;
  out.entries = performance.getEntriesByType("resource").map(e => e.toJSON());
  out.navigation = performance.getEntriesByType("navigation").map(e => e.toJSON());
  out.offsetAfter = measureOffset(20);
  out.userAgent = navigator.userAgent;
  out.crossOriginIsolated = self.crossOriginIsolated;
  await fetch(A + "/results?k=results", {method: "POST", body: JSON.stringify(out),
                                         cache: "no-store"});
  document.getElementById("s").textContent = "done";
  setTimeout(() => window.close(), 50);
}
main().catch(e => fetch(A + "/results?k=results", {method: "POST",
  body: JSON.stringify({fatal: String(e)}), cache: "no-store"}));
</script></body></html>
"""

TIME_FIELDS = ("startTime", "fetchStart", "domainLookupStart", "domainLookupEnd",
               "connectStart", "secureConnectionStart", "connectEnd", "requestStart",
               "responseStart", "responseEnd", "redirectStart", "redirectEnd",
               "workerStart", "firstInterimResponseStart", "finalResponseHeadersStart")


def best_offset(samples):
    """The offset estimate of the narrowest brackets: the median of the
    narrowest half of the ticks."""
    if not samples:
        return None
    s = sorted(samples, key=lambda e: e["width"])[:max(1, len(samples) // 2)]
    vals = sorted(e["offset"] for e in s)
    return vals[len(vals) // 2]


def descendants(pid):
    """pids under pid (children first), from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        for c in sorted(children.get(p, [])):
            out.append(c)
            todo.append(c)
    return out


def tree_cpu(pid):
    """(pids at or under pid, their CPU seconds in all, whether one is
    stopped: held by a tracer, its work still to come) from /proc."""
    pids, ticks, stopped = [pid] + descendants(pid), 0, False
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        stopped = stopped or fields[0] in ("T", "t")
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return set(pids), ticks / os.sysconf("SC_CLK_TCK"), stopped


def settle(pid, quiet_s=1.0, timeout_s=15.0, busy=0.05):
    """Wait until pid's process tree starts no process, has none stopped and
    uses under busy of a CPU for quiet_s (Firefox starts content processes
    after a page loads, which a tracer holds while it probes them: on 2
    cores they preempt its socket thread between its own stamps and the
    calls a tracer times). False if it never did."""
    step = 0.25
    deadline = time.monotonic() + timeout_s
    pids, cpu, _ = tree_cpu(pid)
    quiet = 0.0
    while time.monotonic() < deadline:
        time.sleep(step)
        now_pids, now_cpu, stopped = tree_cpu(pid)
        quiet = (quiet + step if now_pids == pids and now_cpu - cpu <= busy * step and
                 not stopped else 0.0)
        pids, cpu = now_pids, now_cpu
        if quiet >= quiet_s:
            return True
    return False


def is_firefox(pid):
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return False
    return os.path.basename(exe).startswith(("firefox", FIREFOX))


def find_firefox(pid):
    """The first Firefox process at or under pid (the main process), or None."""
    for p in [pid] + descendants(pid):
        if is_firefox(p):
            return p
    return None


def make_leaf(dirpath, ca_pem, ca_key, host="localhost"):
    """A server certificate for localhost, host and 127.0.0.1 (EC P-256,
    CA:FALSE), issued by ca_pem/ca_key: (leaf_pem, leaf_key)."""
    os.makedirs(dirpath, exist_ok=True)
    key, csr, pem = (os.path.join(dirpath, n) for n in ("leaf.key", "leaf.csr", "leaf.pem"))
    ext = os.path.join(dirpath, "leaf.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1\n" % host)
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=tlstrace firefox judge",
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                    "-set_serial", str(int(time.time() * 1000)), "-days", "2", "-extfile", ext,
                    "-out", pem], check=True, capture_output=True)
    return pem, key


def write_profile(profile, ca_pem):
    if os.path.isdir(profile):
        subprocess.run(["rm", "-rf", "--one-file-system", profile], check=True)
    os.makedirs(profile)
    subprocess.run(["certutil", "-N", "-d", "sql:" + profile, "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run(["certutil", "-A", "-d", "sql:" + profile, "-n", "tlstrace-judge-ca",
                    "-t", "C,,", "-i", ca_pem], check=True, capture_output=True)
    with open(os.path.join(profile, "user.js"), "w") as f:
        for name, value in USER_PREFS.items():
            f.write("user_pref(%s, %s);\n" % (json.dumps(name), json.dumps(value)))


class Judge:
    def __init__(self):
        self.results = None
        self.done = threading.Event()
        self.ports = {}
        self.gate = False
        self.b_host = "localhost"
        self.go_asked = threading.Event()  # the page asked for /go
        self.go = threading.Event()  # ...and may have its answer

    def page(self):
        return PAGE % dict(self.ports, gate="true" if self.gate else "false",
                           b_host=self.b_host)

    def got_results(self, body):
        self.results = (now_ms(), body)
        self.done.set()


def default_launch(argv, env, out_path):
    out = open(out_path, "wb")
    try:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def leads_group(pid):
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def stop_process(proc, leader):
    """SIGTERM, then SIGKILL, to proc and, if it led its own process group
    when launched (leader), to that group; then SIGKILL to what is left of that
    group (a group id is not reused while the group has members)."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            if leader:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass
    if leader:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def tail(path, n=2000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


def absolute(entry, origin, offset):
    out = {k: v for k, v in entry.items() if k not in TIME_FIELDS}
    out["raw"] = {k: entry[k] for k in TIME_FIELDS if k in entry}
    for k in TIME_FIELDS:
        if k in entry:
            # 0 is "not known", but a navigation's startTime 0 is timeOrigin
            out[k] = origin + entry[k] + offset if entry[k] or k == "startTime" else None
    out["key"] = url_key("/" + entry.get("name", "").split("/", 3)[-1])
    return out


def import_h2():
    """Import python3-h2 now (not on the first connection, which it would
    delay), from Debian's dist-packages if this python lacks it."""
    try:
        importlib.import_module("h2")
    except ImportError:
        if DEBIAN_DIST not in sys.path:
            sys.path.append(DEBIAN_DIST)
    for name in ("h2.config", "h2.connection", "h2.events"):
        importlib.import_module(name)


def run_firefox(workdir, cert_pem, key_pem, launch=None, timeout=60, started=None,
                b_host="localhost"):
    """See the module's docstring."""
    import_h2()
    os.makedirs(workdir, exist_ok=True)
    profile = os.path.join(os.path.abspath(workdir), "ff-profile")
    write_profile(profile, cert_pem)
    cert_pem, key_pem = make_leaf(os.path.join(workdir, "leaf"), cert_pem, key_pem, b_host)
    log, judge = Log(), Judge()
    judge.gate = started is not None
    judge.b_host = b_host
    servers = [H1Server("A", server_context(cert_pem, key_pem, "http/1.1"), log, judge),
               H1Server("B", server_context(cert_pem, key_pem, "http/1.1"), log, judge),
               H2Server("C", server_context(cert_pem, key_pem, "h2"), log, judge)]
    judge.ports = {"A": servers[0].port, "B": servers[1].port, "C": servers[2].port,
                   "R": find_port()}
    page = "https://localhost:%d/page?k=page" % judge.ports["A"]
    argv = [FIREFOX, "--headless", "--no-remote", "--profile", profile, page]
    out_path = os.path.join(workdir, "firefox.out")
    proc, firefox_pid, rc, leader = None, None, None, False
    try:
        t0 = now_ms()
        env = dict(os.environ, **FIREFOX_ENV)
        proc = launch(argv, env) if launch else default_launch(argv, env, out_path)
        leader = leads_group(proc.pid)
        deadline = time.monotonic() + timeout
        while not judge.done.wait(0.05):
            if firefox_pid is None:
                firefox_pid = find_firefox(proc.pid)
            if judge.gate and not judge.go.is_set() and judge.go_asked.is_set() and firefox_pid:
                started(firefox_pid)
                judge.go.set()
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("firefox: no results in %.0f s (%s); output: %s" % (
                    timeout, "exited %s" % proc.returncode if proc.poll() is not None
                    else "still running", tail(out_path)))
        firefox_pid = find_firefox(proc.pid) or firefox_pid or proc.pid
        try:
            rc = proc.wait(EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            rc = None
    finally:
        judge.go.set()
        if proc is not None:
            stop_process(proc, leader)
        for s in servers:
            s.stop()
    t_results, body = judge.results
    res = json.loads(body)
    if "fatal" in res:
        raise RuntimeError("the page failed: %s" % res["fatal"])
    origin = res["timeOrigin"]
    offset = best_offset(res["offsetBefore"] + res["offsetAfter"])
    with log.lock:
        requests = [dict(r) for r in log.requests]
        connections = [dict(c) for c in log.connections]
    return {
        "entries": [absolute(e, origin, offset or 0.0) for e in res["entries"]],
        "navigation": [absolute(e, origin, offset or 0.0) for e in res.get("navigation", [])],
        "time_origin": origin,
        "origin_offset_ms": offset,
        "origin_offset": {"before": best_offset(res["offsetBefore"]),
                          "after": best_offset(res["offsetAfter"]),
                          "samples_before": res["offsetBefore"],
                          "samples_after": res["offsetAfter"]},
        "fetches": res["fetches"],
        "missing_entries": res["missingEntries"],
        "entry_wait_ms": res["entryWaitMs"],
        "errors": res["errors"],
        "server_log": requests,
        "connections": connections,
        "firefox_pid": firefox_pid,
        "launched_pid": proc.pid,
        "firefox_rc": rc,
        "wall_ms": t_results - t0,
        "ports": judge.ports,
        "user_agent": res.get("userAgent"),
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: firefox_judge.py WORKDIR")
    workdir = sys.argv[1]
    certdir = os.path.join(workdir, "cert")
    subprocess.run(["sh", os.path.join(HERE, "mkcert.sh"), certdir], check=True)
    res = run_firefox(workdir, os.path.join(certdir, "cert.pem"),
                      os.path.join(certdir, "key.pem"))
    json.dump(res, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
