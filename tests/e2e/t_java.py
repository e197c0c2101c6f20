# SPDX-License-Identifier: MIT
"""End-to-end tests of Java's HttpClient (JSSE: TLS in Java code, nothing to
probe), timed from the wire: tests/e2e/java/Fetch.java fetches from the test
servers of chromium_judge.py (TLS 1.3 with session tickets) and prints its own
clock around each send()."""

import json
import subprocess

import chromium_judge
from harness import describe_exit, expect, need, read_entries, server_certs, stderr_hint, HERE

FETCH = HERE + "/java/Fetch.java"
BRACKET_SLACK_MS = 0.3


def run_java(env, test, version, server, paths):
    """Fetch.java VERSION over the test server's paths, traced: (entries on
    its port, Java's own lines with start/end as epoch ms)."""
    need("java")
    cert, key = server_certs(env)
    servers, _, judge = chromium_judge.start_servers(cert, key)
    port = judge.ports[server]
    out = env.out_file(test)
    try:
        urls = ["https://localhost:%d%s" % (port, p) for p in paths]
        rc, stdout, err = env.procs.run(
            [env.tlstrace, "-f", "json", "-o", out, "--", "java",
             "-Djdk.internal.httpclient.disableHostnameVerification=true", FETCH, version] + urls,
            120, "java")
    finally:
        for s in servers:
            s.stop()
    expect(rc == 0, "tlstrace -- java: %s%s" % (describe_exit(rc), stderr_hint(err)))
    offset = chromium_judge.clock_offset_ms()
    fetched = []
    for line in stdout.splitlines():
        f = json.loads(line)
        f["start"] = f["start_ns"] / 1e6 + offset
        f["end"] = f["end_ns"] / 1e6 + offset
        fetched.append(f)
    expect(len(fetched) == len(paths), "Java fetched %d of %d" % (len(fetched), len(paths)))
    entries = [e for e in read_entries(out)
               if e["tlstrace"].get("remoteAddress", "").endswith(":%d" % port)]
    for i, e in enumerate(entries):
        tls = e["tlstrace"].get("tls", {})
        expect(tls.get("library") == "wire", "entry %d: library %r" % (i, tls.get("library")))
        expect(tls.get("version") == "TLSv1.3" and tls.get("serverName") == "localhost",
               "entry %d: tls %r" % (i, tls))
        expect(e["tlstrace"]["comm"] != "", "entry %d: no comm" % i)
    return entries, fetched


def at(e, field):
    return e["tlstrace"]["timeOrigin"] + e[field]


def test_java_httpclient_h1(env):
    """HTTP/1.1: three fetches on one connection, each an entry: the first
    new (connect and handshake inside Java's first send()), the others
    reused; each requestStart and responseEnd inside its send() call; the
    /delay/30 one answered 30 ms after it was asked."""
    entries, fetched = run_java(env, "java_httpclient_h1", "1.1", "A",
                                ["/hello?k=j1", "/hello?k=j2", "/delay/30?k=j3"])
    expect(len(entries) == 3, "%d entries on the server's port, want 3" % len(entries))
    expect(not entries[0]["tlstrace"]["reused"] and entries[0]["secureConnectionStart"] > 0,
           "entry 0: not a new connection with its handshake")
    for i in (1, 2):
        expect(entries[i]["tlstrace"]["reused"] and entries[i]["tlstrace"]["connectionId"] ==
               entries[0]["tlstrace"]["connectionId"], "entry %d: not reused" % i)
    worst = 0.0
    for i, (e, f) in enumerate(zip(entries, fetched)):
        for field in ("connectStart", "requestStart", "responseEnd"):
            if not e[field]:
                continue
            t = at(e, field)
            expect(f["start"] - BRACKET_SLACK_MS <= t <= f["end"] + BRACKET_SLACK_MS,
                   "entry %d: %s %.3f ms outside its send() [%.3f, %.3f]" % (
                       i, field, t - f["start"], 0, f["end"] - f["start"]))
            worst = max(worst, f["start"] - t, t - f["end"])
    wait = entries[2]["responseEnd"] - entries[2]["requestStart"]
    expect(wait >= 30, "/delay/30: requestStart to responseEnd %.3f ms" % wait)
    if "responseStart" not in entries[0]["tlstrace"].get("unknown", []):
        expect(entries[0]["responseStart"] >= entries[0]["requestStart"],
               "entry 0: responseStart before requestStart")
    return "3 entries inside Java's send() calls; worst outside by %.3f ms" % max(worst, 0)


def test_java_httpclient_h2(env):
    """HTTP/2 (ALPN h2): one connection, its handshake inside the first
    send(), and an exchange (a burst of records each way) per fetch, since
    Java waits for each (one may begin early, with a WINDOW_UPDATE after the
    last answer): the exchange under way during the /delay/30 send() lasts
    its 30 ms."""
    entries, fetched = run_java(env, "java_httpclient_h2", "2", "C",
                                ["/hello?k=j1", "/delay/30?k=j2", "/size/20000?k=j3"])
    expect(all(f["version"] == "HTTP_2" for f in fetched), "Java did not use HTTP/2: %r"
           % [f["version"] for f in fetched])
    conns = {e["tlstrace"]["connectionId"] for e in entries}
    expect(len(conns) == 1, "%d connections, want 1" % len(conns))
    first = [e for e in entries if not e["tlstrace"]["reused"]]
    expect(len(first) == 1, "%d entries open the connection, want 1" % len(first))
    t = at(first[0], "secureConnectionStart")
    expect(fetched[0]["start"] - BRACKET_SLACK_MS <= t <= fetched[0]["end"],
           "the handshake began outside the first send()")
    # (an exchange may begin before it: a WINDOW_UPDATE Java wrote after the last answer)
    delayed = [e for e in entries if at(e, "requestStart") <= fetched[1]["end"] and
               at(e, "responseEnd") >= fetched[1]["start"]]
    expect(delayed, "no exchange was under way during the /delay/30 send()")
    wait = max(e["responseEnd"] - e["requestStart"] for e in delayed)
    expect(wait >= 30, "/delay/30: its exchange took %.3f ms" % wait)
    return "%d exchanges on one connection; /delay/30 took %.1f ms" % (len(entries), wait)
