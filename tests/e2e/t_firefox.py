# SPDX-License-Identifier: MIT
"""Firefox (NSS and NSPR) traced, and judged by its own Resource Timing
entries for the same fetches (firefox_judge.py): headless Firefox loads a
page that fetches over new and reused HTTP/1.1 connections, HTTP/2 streams
of one connection, a 404 and a refused connect, and hands its entries back.

Each field of each tlstrace entry is compared with Firefox's for the same
URL, on the same clock (epoch ms; Firefox's timeOrigin corrected by the
offset the page measured). A field passes within TOL_MS of Firefox's value,
or, where Firefox stamped late (a busy browser notices moments after they
happen), within LAG_MS before it when the test servers' own stamps agree
with tlstrace's: a client's act (connect, ClientHello, Finished, request)
comes before the server sees it, and a response is read after the server
wrote it. The worst difference from Firefox's value is reported either way.

Fields that differ by design (docs/semantics.md):
  startTime, fetchStart  Firefox's are when the page called fetch(); on
        the wire nothing shows before the lookup or connect (a new
        connection) or the request's first write (a reused one), so
        tlstrace's are those, never before Firefox's.
  domainLookupStart/End  Firefox answers "localhost" itself, with no
        getaddrinfo(): no lookup is seen, so both are connectStart. The
        second origin's name (TEST_NAME, in a private /etc/hosts) Firefox
        looks up with getaddrinfo() on its DNS thread, and tlstrace times
        that call; Firefox stamps the lookup on its socket thread, when it
        hands the name over and when the answer comes back, so its stamps
        may bracket tlstrace's by up to LAG_MS.
  connectStart..connectEnd of a reused connection  Firefox gives its
        fetchStart, tlstrace the request's start (as startTime).
  transferSize  Firefox's is encodedBodySize + 300 (a constant, not the
        head's size); tlstrace's is the bytes of the response's head and
        body.
  responseStart with TLS 1.3 session tickets  Firefox takes the tickets'
        arrival for the response's first byte; tlstrace the response's own.
        The test servers send no tickets, so the two agree here.
  a refused connect  Firefox's entry has startTime = responseEnd and zeros;
        tlstrace's is a failure (failedPhase "connect") with the connect's
        start, named by the address (no request was written).
"""

import os
import signal
import subprocess

import firefox_judge
from harness import (TEST_NAME, Failure, describe_exit, expect, in_private_hosts, need,
                     read_entries, server_certs, stderr_hint)
from t_timing import hits

TOL_MS = 1.0  # Firefox's timers are at full precision in the test profile
LAG_MS = 6.0  # how late Firefox's own stamps were seen on a busy 2-core machine
SERVER_EPS_MS = 0.5  # a server's stamp is taken just after its send returns

# tlstrace's field -> (server stamp that bounds it, whether the client acts first)
BOUND = {
    "connectStart": ("accepted", True),
    "secureConnectionStart": ("handshake_done", True),
    "connectEnd": ("handshake_done", True),
    "requestStart": ("request_read", True),
    "responseStart": ("response_head_written", False),
    "responseEnd": ("response_end_written", False),
}
NEW_FIELDS = list(BOUND)
# each field's next instant in the same fetch, as Firefox stamps it
NEXT = dict(zip(NEW_FIELDS, NEW_FIELDS[1:]))
LOOKUP_FIELDS = ["domainLookupStart", "domainLookupEnd"]  # no server sees these
REUSED_FIELDS = ["requestStart", "responseStart", "responseEnd"]


def run_judged(env, test, opts, attach=False):
    """Firefox under `tlstrace OPTS --`, judged; (judge's result, entries,
    stderr). Its second origin is named TEST_NAME, which Firefox looks up
    (getaddrinfo) in a private /etc/hosts. attach: Firefox starts untraced
    (its second origin "localhost"), and `tlstrace OPTS -p PID` once its
    page has loaded, before its fetches."""
    need("firefox-esr")
    need("certutil")
    cert, key = server_certs(env)
    out = env.out_file(test)
    errpath = env.path(test + ".stderr")
    tracer = []

    def started(pid):
        tracer.append(env.start_tlstrace(test, ["--stats", "-p", str(pid)] + list(opts)))
        firefox_judge.settle(pid)

    def launch(argv, fenv):
        with open(errpath, "wb") as err:
            p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--stats"] + list(opts)
                                + ["--"] + in_private_hosts(env, argv), env=fenv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        tracer.append(p)
        return p

    try:
        judge = firefox_judge.run_firefox(env.path(test + ".firefox"), cert, key,
                                          launch=None if attach else launch, timeout=120,
                                          started=started if attach else None,
                                          b_host="localhost" if attach else TEST_NAME)
    except RuntimeError as ex:
        raise Failure("Firefox gave no results: %s" % str(ex)[-400:])
    expect(tracer, "tlstrace was not started")
    if attach:
        out = tracer[0].out_file
        tracer[0].send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer[0], 30, "tlstrace")
    with open(errpath, errors="replace") as f:
        err = f.read()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(not judge["missing_entries"], "Firefox gave no entry for %r" % judge["missing_entries"])
    return judge, read_entries(out), err


class Verdict:
    """Each field's difference from Firefox's, and the worst."""

    def __init__(self):
        self.worst = (0.0, "")
        self.by_window = []
        self.n = 0
        self.range = {}  # field -> (least, most) difference

    def judge(self, what, field, tt, ff, srv, ff_next=None):
        """tt (tlstrace), ff (Firefox), srv (the server's stamp of the same
        moment, or None), ff_next (Firefox's stamp of the fetch's next
        instant, or None): epoch ms. tlstrace's field is the return of the
        call that did it; Firefox stamps some (connectEnd, in its handshake
        callback) inside that call, so a thread preempted between the two
        shows tlstrace late: that is judged by Firefox's own next stamp,
        which the call's return must precede."""
        err = tt - ff
        self.n += 1
        lo, hi = self.range.get(field, (err, err))
        self.range[field] = (min(lo, err), max(hi, err))
        if abs(err) > abs(self.worst[0]):
            self.worst = (err, "%s %s" % (what, field))
        if abs(err) <= TOL_MS:
            return
        where = "%s %s: tlstrace %+.3f ms from Firefox's" % (what, field, err)
        if field in LOOKUP_FIELDS:
            # Firefox's stamps are on its socket thread, the lookup on its DNS thread
            late = err if field == "domainLookupStart" else -err
            expect(0 < late <= LAG_MS, where + " (the lookup is its getaddrinfo() call, "
                   "which Firefox's stamps bracket)")
            self.by_window.append("%s %s %+.2f" % (what, field, err))
            return
        if err > 0 and err <= LAG_MS and ff_next is not None and tt <= ff_next + TOL_MS:
            self.by_window.append("%s %s %+.2f (before Firefox's %s)"
                                  % (what, field, err, NEXT[field]))
            return
        expect(err < 0 and -err <= LAG_MS and srv is not None,
               where + " (not within %.1f ms, nor a late Firefox stamp, nor before Firefox's "
               "next)" % TOL_MS)
        client_first = BOUND[field][1]
        if client_first:
            expect(tt <= srv + SERVER_EPS_MS, where + "; after the server's stamp by %.3f ms"
                   % (tt - srv))
        else:
            expect(tt >= srv - SERVER_EPS_MS, where + "; before the server's stamp by %.3f ms"
                   % (srv - tt))
        self.by_window.append("%s %s %+.2f" % (what, field, err))

    def summary(self):
        s = "%d fields, worst %+.3f ms (%s); by field %s" % (
            self.n, self.worst[0], self.worst[1],
            ", ".join("%s %+.2f..%+.2f" % (f, lo, hi) for f, (lo, hi) in self.range.items()))
        if self.by_window:
            s += ("; judged by window (Firefox late, its stamps around the lookup, or tlstrace "
                  "before Firefox's next stamp): %s") \
                % ", ".join(self.by_window)
        return s


def server_stamp(judge, key, field):
    if field not in BOUND:
        return None
    for r in judge["server_log"]:
        if r["key"] == key:
            return r.get(BOUND[field][0])
    return None


def is_reused(fe):
    """Firefox's entry for a request on a connection it had: the connection's
    fields are its fetchStart."""
    return fe["connectStart"] == fe["fetchStart"] and fe["connectEnd"] == fe["fetchStart"]


def check_exchange(what, e, fe):
    """e's status, body size and reuse are those of Firefox's entry fe;
    whether fe's connection was reused"""
    expect(e["responseStatus"] == fe["responseStatus"], "%s: status %r, Firefox %r"
           % (what, e["responseStatus"], fe["responseStatus"]))
    expect(e["encodedBodySize"] == fe["encodedBodySize"], "%s: encodedBodySize %r, Firefox %r"
           % (what, e["encodedBodySize"], fe["encodedBodySize"]))
    reused = is_reused(fe)
    expect(e["tlstrace"]["reused"] == reused, "%s: reused %r, Firefox's says %r"
           % (what, e["tlstrace"]["reused"], reused))
    return reused


def absolute(e, field):
    return e["tlstrace"]["timeOrigin"] + e[field]


def test_firefox_judged(env):
    """Every fetch of the page (and the page itself) has one entry, whose
    URL, protocol, status, size, reuse and timing fields are Firefox's own,
    judged as this module's docstring says; the refused connect is a
    failure at the connect."""
    judge, entries, err = run_judged(env, "firefox_judged", [])
    v = Verdict()
    by_name = {}
    for e in entries:
        by_name.setdefault(e["name"], []).append(e)
    fetched = [fe for fe in judge["navigation"] + judge["entries"] if fe["key"] != "refused"]
    expect(len(fetched) == 15, "Firefox gave %d entries, want 15" % len(fetched))
    for fe in fetched:
        what = fe["key"]
        got = by_name.get(fe["name"], [])
        expect(len(got) == 1, "%d tlstrace entries for %s" % (len(got), fe["name"]))
        e = got[0]
        ext = e["tlstrace"]
        expect(ext["comm"] == "Socket Thread", "%s: comm %r" % (what, ext["comm"]))
        expect(ext["tls"]["library"] == "nss", "%s: tls.library %r" % (what, ext["tls"]["library"]))
        host = fe["name"].split("/")[2].rsplit(":", 1)[0]
        expect(ext["tls"]["serverName"] == host, "%s: serverName %r, want %r"
               % (what, ext["tls"]["serverName"], host))
        expect(ext["tls"]["version"] == "TLSv1.3", "%s: version %r" % (what, ext["tls"]["version"]))
        expect(e["nextHopProtocol"] == fe["nextHopProtocol"], "%s: nextHopProtocol %r, Firefox %r"
               % (what, e["nextHopProtocol"], fe["nextHopProtocol"]))
        # TLS 1.3 encrypts the server's ALPN answer: h2 shows by its preface, http/1.1 not
        alpn = "h2" if fe["nextHopProtocol"] == "h2" else ""
        expect(ext["tls"]["alpn"] == alpn, "%s: tls.alpn %r, want %r"
               % (what, ext["tls"]["alpn"], alpn))
        reused = check_exchange(what, e, fe)
        for f in ("startTime", "fetchStart"):
            expect(absolute(e, f) >= fe[f] - TOL_MS, "%s: %s %.3f ms before Firefox's fetch()"
                   % (what, f, fe[f] - absolute(e, f)))
        fields = REUSED_FIELDS if reused else NEW_FIELDS
        if not reused and host != "localhost":
            # a name Firefox looked up: its getaddrinfo() on its DNS thread
            fields = LOOKUP_FIELDS + fields
        for f in fields:
            v.judge(what, f, absolute(e, f), fe[f], server_stamp(judge, what, f),
                    fe.get(NEXT.get(f)))
    refused = [fe for fe in judge["entries"] if fe["key"] == "refused"]
    expect(len(refused) == 1, "Firefox gave %d entries for the refused fetch" % len(refused))
    remote = "127.0.0.1:%d" % judge["ports"]["R"]
    failed = [e for e in entries if e["tlstrace"]["remoteAddress"] == remote]
    expect(len(failed) >= 1, "no entry for the refused connect to %s" % remote)
    ext = failed[0]["tlstrace"]
    expect(ext.get("failedPhase") == "connect", "refused: failedPhase %r" % ext.get("failedPhase"))
    start = ext["timeOrigin"] + ext["partialTimings"]["connectStart"]
    expect(0 <= start - refused[0]["startTime"] + TOL_MS < 1000,
           "refused: connectStart %.3f ms from Firefox's fetch()" % (start - refused[0]["startTime"]))
    # nothing else: no entry made of the browser's other I/O through NSPR
    known = {fe["name"] for fe in fetched} | {"https://localhost:%d/results?k=results"
                                              % judge["ports"]["A"]}
    others = [e["name"] for e in entries if e["name"] not in known and e not in failed]
    expect(not others, "entries for what the page did not fetch: %r" % others[:5])
    return v.summary()


def test_firefox_judged_timing_only(env):
    """--timing-only: only SSL_ForceHandshake is probed; each connection's
    handshake is followed from its records from the ClientHello it wrote
    (NSS finishes it in reads and writes), its exchanges timed from its
    socket. Entries have no URL: each of Firefox's HTTP/1.1 entries is
    matched to the exchange on its server's port nearest its requestStart.
    HTTP/2's streams are one exchange stream on the wire: only its
    connection's fields are judged, against its first fetch's."""
    judge, entries, err = run_judged(env, "firefox_judged_timing_only", ["--timing-only"])
    h = hits(err)
    expect(h.get("read_enter", 0) == 0 and h.get("write_enter", 0) == 0
           and h.get("not_tls", 0) == 0, "NSPR's calls were probed: %r" % h)
    v = Verdict()
    live = [e for e in entries if not e["tlstrace"].get("error")]
    for e in live:
        expect(e["tlstrace"]["tls"]["library"] == "nss", "%s: tls.library %r"
               % (e["name"], e["tlstrace"]["tls"]["library"]))
    taken = set()
    for fe in judge["navigation"] + judge["entries"]:
        if fe["key"] == "refused":
            continue
        port = int(fe["name"].split("/")[2].rsplit(":", 1)[1])
        mine = [e for e in live if e["tlstrace"]["remoteAddress"] == "127.0.0.1:%d" % port]
        reused = is_reused(fe)
        if fe["nextHopProtocol"] == "h2":
            if reused:
                continue
            fields = NEW_FIELDS[:3]
            mine = [e for e in mine if not e["tlstrace"]["reused"]]
        else:
            fields = REUSED_FIELDS if reused else NEW_FIELDS
        expect(mine, "%s: no exchange on port %d" % (fe["key"], port))
        e = min(mine, key=lambda e: abs(absolute(e, "requestStart") - fe["requestStart"]))
        expect(id(e) not in taken, "%s: its nearest exchange was another fetch's" % fe["key"])
        taken.add(id(e))
        expect(e["tlstrace"]["reused"] == reused, "%s: reused %r, Firefox's says %r"
               % (fe["key"], e["tlstrace"]["reused"], reused))
        for f in fields:
            v.judge(fe["key"], f, absolute(e, f), fe[f], server_stamp(judge, fe["key"], f),
                    fe.get(NEXT.get(f)))
    return v.summary()


def test_firefox_judged_pid(env):
    """`tlstrace -p PID` on a Firefox already running, once its page has
    loaded: its libraries are found in its maps (its own libssl3, the
    system's libnspr4), its new connections are traced whole, and the
    connection its page came on, older than the trace, is adopted at its
    first TLS record: those fetches are reused, not observed, with their
    request and response judged."""
    judge, entries, err = run_judged(env, "firefox_judged_pid", [], attach=True)
    v = Verdict()
    by_name = {}
    for e in entries:
        by_name.setdefault(e["name"], []).append(e)
    for fe in judge["entries"]:
        if fe["key"] in ("refused", "go"):
            continue
        what = fe["key"]
        got = by_name.get(fe["name"], [])
        expect(len(got) == 1, "%d tlstrace entries for %s" % (len(got), fe["name"]))
        e, ext = got[0], got[0]["tlstrace"]
        expect(ext["tls"]["library"] == "nss", "%s: tls.library %r" % (what, ext["tls"]["library"]))
        reused = check_exchange(what, e, fe)
        older = fe["name"].startswith("https://localhost:%d/" % judge["ports"]["A"]) and \
            what not in ("a_new",)
        expect(ext["connectionObserved"] is not older, "%s: connectionObserved %r"
               % (what, ext["connectionObserved"]))
        for f in (REUSED_FIELDS if reused else NEW_FIELDS):
            v.judge(what, f, absolute(e, f), fe[f], server_stamp(judge, what, f),
                    fe.get(NEXT.get(f)))
    return v.summary()


def test_firefox_plain_http(env):
    """Firefox fetching plain http:// (a screenshot of the plain twin of the
    test server's /hello): NSPR's PR_Write and PR_Read on a socket that is
    no TLS session are the program's own, so its HTTP is captured from the
    socket as any program's is. One entry, no TLS."""
    need("firefox-esr")
    cert, _ = server_certs(env)
    port = env.plain_port()
    profile = env.path("firefox_plain_http.profile")
    firefox_judge.write_profile(profile, cert)
    url = "http://127.0.0.1:%d/hello" % port
    rc, _, err, path = env.trace(
        "firefox_plain_http", [firefox_judge.FIREFOX, "--headless", "--no-remote", "--profile",
                               profile, "--screenshot", env.path("firefox_plain_http.png"), url],
        timeout=90, env=dict(os.environ, **firefox_judge.FIREFOX_ENV))
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    got = [e for e in read_entries(path) if e["name"] == url]
    expect(len(got) == 1, "%d entries for %s" % (len(got), url))
    e = got[0]
    expect(e["responseStatus"] == 200 and e["encodedBodySize"] == 6 and
           e["nextHopProtocol"] == "http/1.1" and e["secureConnectionStart"] == 0,
           "entry: status %r, size %r, protocol %r, secureConnectionStart %r"
           % (e["responseStatus"], e["encodedBodySize"], e["nextHopProtocol"],
              e["secureConnectionStart"]))
    expect(0 < e["connectStart"] <= e["connectEnd"] <= e["requestStart"] <= e["responseStart"]
           <= e["responseEnd"], "timings out of order")
