# SPDX-License-Identifier: MIT
"""End-to-end tests of a program tlstrace has nothing to probe in: Debian's
Chromium (BoringSSL linked in, stripped), timed from the TLS records on its
sockets and judged by Chromium's own timings of the same requests
(chromium_judge.py), on one clock.

What the judge compares, per field, |tlstrace - Chromium| within
FIELD_TOLERANCE_MS, or inside the window the test servers' own stamps and
Chromium's put around the moment (Chromium's stamps lag on a busy machine);
connectEnd always inside the servers' window (see window()):
- each new connection (Chromium: not reused): connectStart, secure-
  ConnectionStart, connectEnd, against the entry that opened that socket;
- each HTTP/1.1 fetch: requestStart, responseStart, responseEnd (Chromium's
  loadingFinished, taken after the last read);
- HTTP/2 fetches: their connection's fields only. The wire shows HTTP/2 as
  bursts of records, not streams: its exchanges are bursts, not requests.
The worst error against Chromium's value is reported."""

import json
import subprocess

import chromium_judge
from harness import Failure, describe_exit, expect, need, read_entries, server_certs, \
    stderr_hint

FIELD_TOLERANCE_MS = 1.0
WINDOW_SLACK_MS = 0.2
CONNECT_FIELDS = ["connectStart", "secureConnectionStart", "connectEnd"]
EXCHANGE_FIELDS = ["requestStart", "responseStart", "responseEnd"]


def run_judged(env, test, opts):
    """Chromium's fetches under `tlstrace -f json OPTS --`: (judge, entries, stderr)."""
    need("chromium")
    need("node")
    cert, key = server_certs(env)
    out = env.out_file(test)
    errpath = env.path(test + ".stderr")
    tracer = []

    def launch(argv):
        with open(errpath, "wb") as err:
            p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--stats"] + list(opts)
                                + ["--"] + argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        tracer.append(p)
        return p

    try:
        judge = chromium_judge.run_chromium(env.path(test + ".chromium"), cert, key, launch)
    except RuntimeError as ex:
        with open(errpath, errors="replace") as f:
            raise Failure("Chromium gave no results: %s%s" % (ex, stderr_hint(f.read())))
    rc = tracer[0].returncode
    with open(errpath, errors="replace") as f:
        err = f.read()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    with open(env.path(test + ".judge.json"), "w") as f:
        json.dump(judge, f, indent=1)
    return judge, read_entries(out), err


def port_of(e):
    return int(e["tlstrace"].get("remoteAddress", ":0").rpartition(":")[2] or 0)


def absolute(e, field):
    v = e.get(field)
    return e["tlstrace"]["timeOrigin"] + v if v else None


def window(judge, key, field, theirs):
    """Where field of fetch key must lie, by the test servers' own stamps and
    Chromium's: (lo, hi) epoch ms, or None. Chromium stamps the connect's
    and the handshake's starts before they happen, the request's send
    before it goes, the answer's arrival and the load's end after; the
    servers stamp the accept, the ClientHello's read, the request's read
    after them, the answer's write before. connectEnd (TLS 1.3: the
    client's Finished written) lies between the server's write of its
    flight and its read of that Finished."""
    rec = next((r for r in judge["server_log"] if r["key"] == key), None)
    if rec is None:
        return None
    conn = next((c for c in judge["connections"] if c["conn"] == rec["conn"]), {})
    pair = {"connectStart": (theirs, conn.get("accepted")),
            "secureConnectionStart": (theirs, conn.get("hello_read")),
            "connectEnd": (conn.get("flight_sent"), conn.get("finished_read")),
            "requestStart": (theirs, rec["request_read"]),
            "responseStart": (rec["response_head_written"], theirs),
            "responseEnd": (rec["response_end_written"], theirs)}[field]
    return None if None in pair else (min(pair), max(pair))


class Verdict:
    def __init__(self):
        self.worst = (0.0, "")
        self.by_field = {}
        self.bad = []
        self.compared = 0

    def judge(self, judge, key, field, ours, theirs):
        """ours against Chromium's theirs: within FIELD_TOLERANCE_MS, or in the
        window; connectEnd always in the servers' window, whose two ends are
        the servers' own."""
        if theirs is None:
            return
        expect(ours is not None, "%s: no %s where Chromium has one" % (key, field))
        self.compared += 1
        err = ours - theirs
        if abs(err) > abs(self.by_field.get(field, 0.0)):
            self.by_field[field] = err
        if abs(err) > abs(self.worst[0]):
            self.worst = (err, "%s %s" % (key, field))
        w = window(judge, key, field, theirs)
        inside = w is not None and w[0] - WINDOW_SLACK_MS <= ours <= w[1] + WINDOW_SLACK_MS
        if field == "connectEnd" and w is not None and not inside:
            self.bad.append("%s connectEnd %+.3f ms from the server's write of its flight, "
                            "outside [0, %.3f] (its read of the Finished)"
                            % (key, ours - w[0], w[1] - w[0]))
        elif abs(err) > FIELD_TOLERANCE_MS and not inside:
            self.bad.append("%s %s: %+.3f ms from Chromium's, outside the window %s" % (
                key, field, err, "[%+.3f, %+.3f]" % (w[0] - theirs, w[1] - theirs) if w
                else "(none)"))


def check_judged(judge, entries):
    ports = {judge["ports"][s]: s for s in ("A", "B", "C")}
    ours = [e for e in entries if port_of(e) in ports and not e["tlstrace"].get("failedPhase")]
    expect(ours, "no entries for the test servers' ports")
    for i, e in enumerate(ours):
        tls = e["tlstrace"].get("tls", {})
        expect(tls.get("library") == "wire", "entry %d: tls.library %r, want 'wire'"
               % (i, tls.get("library")))
        expect(tls.get("serverName") == "localhost", "entry %d: serverName %r"
               % (i, tls.get("serverName")))
        expect(tls.get("version") == "TLSv1.3", "entry %d: version %r" % (i, tls.get("version")))
        expect("h2" in tls.get("alpnOffered", []) and "http/1.1" in tls.get("alpnOffered", []),
               "entry %d: alpnOffered %r, want Chromium's h2 and http/1.1"
               % (i, tls.get("alpnOffered")))
        expect("method" in e["tlstrace"].get("unknown", []), "entry %d: method not unknown" % i)
    v = Verdict()
    new_conns = preconnected = 0
    for key, c in sorted(judge["requests"].items()):
        if c["failed"] or c["remote_port"] not in ports:
            continue
        mine = [e for e in ours if port_of(e) == c["remote_port"]]
        if not c["reused"] and c["connectStart"] is not None:
            opened = [e for e in mine if not e["tlstrace"]["reused"]]
            expect(opened, "%s: a new connection to %s, no entry opened one"
                   % (key, ports[c["remote_port"]]))
            e = min(opened, key=lambda e: abs(absolute(e, "connectStart") - c["connectStart"]))
            for f in CONNECT_FIELDS:
                v.judge(judge, key, f, absolute(e, f), c[f])
            new_conns += 1
        if c["reused"] and mine:
            # a socket Chromium connected ahead (a preconnect) is "reused" in its own
            # timings, clamped to the request: the wire saw its connect as new
            e = min(mine, key=lambda e: abs(absolute(e, "requestStart") - c["requestStart"]))
            preconnected += not e["tlstrace"]["reused"] and key in ("a_new", "b1", "c0")
        if c["protocol"] != "http/1.1":
            continue
        e = min(mine, key=lambda e: abs(absolute(e, "requestStart") - c["requestStart"]))
        for f in EXCHANGE_FIELDS:
            if f == "responseStart" and f in e["tlstrace"].get("unknown", []):
                continue  # said to be unknown: a ticket or the answer, not told apart
            v.judge(judge, key, f, absolute(e, f), c[f])
    expect(new_conns + preconnected >= 3,
           "%d new connections judged and %d preconnected, want the 3 of a_new, b1, c0"
           % (new_conns, preconnected))
    expect(not v.bad, "fields off Chromium's and outside the servers' window: %s"
           % "; ".join(v.bad))
    return "%d fields of %d fetches judged%s; worst %+.3f ms (%s); by field: %s" % (
        v.compared, len(judge["requests"]),
        " (%d on a preconnected socket)" % preconnected if preconnected else "",
        v.worst[0], v.worst[1],
        ", ".join("%s %+.2f" % kv for kv in sorted(v.by_field.items())))


def test_chromium_judged(env):
    """Chromium under `tlstrace --` (the default mode): no library of it is
    probed, so the wire stands for its TLS sessions by itself. Every field
    against Chromium's own (see the module's docstring); tickets: the
    servers send TLS 1.3 session tickets, which must not be taken for the
    first response of a new connection."""
    judge, entries, _ = run_judged(env, "chromium_judged", [])
    return check_judged(judge, entries)


def test_chromium_judged_wire(env):
    """The same under --wire: nothing probed, no library looked for."""
    judge, entries, err = run_judged(env, "chromium_judged_wire", ["--wire"])
    expect("hits.handshake_enter=0" in err and "hits.getaddrinfo_enter=0" in err,
           "a uprobe was hit under --wire: %s" % stderr_hint(err))
    return check_judged(judge, entries)
