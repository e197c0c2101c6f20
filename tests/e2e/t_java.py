# SPDX-License-Identifier: MIT
"""End-to-end tests of Java's HttpClient (JSSE: TLS in Java code, nothing to
probe), timed from the wire: tests/e2e/java/Fetch.java fetches from the test
servers of chromium_judge.py (TLS 1.3 with session tickets) and prints its own
clock around each send()."""

import json
import subprocess

import chromium_judge
from harness import describe_exit, expect, need, read_entries, server_certs, stderr_hint, HERE, \
    start_traced_server, stop_traced_server, curl_server, SERVER_CURL_W

FETCH = HERE + "/java/Fetch.java"
SERVE = HERE + "/java/Serve.java"
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


def test_java_https_server(env):
    """A server with nothing to probe: the JDK's own HttpsServer (Serve.java),
    traced from its start, answers curl (not traced) over HTTP/1.1: three
    requests on one connection, one on another. Four server entries from
    its records, each inside curl's run, the /delay/30 one answered 30 ms
    after its request was read."""
    need("java")
    need("openssl")
    cert, key = server_certs(env)
    p12 = env.path("java_https_server.p12")
    rc = subprocess.run(["openssl", "pkcs12", "-export", "-in", cert, "-inkey", key, "-out", p12,
                         "-passout", "pass:tlstrace"], capture_output=True).returncode
    expect(rc == 0, "openssl pkcs12 failed")
    ready = env.path("java_https_server.port")
    srv = start_traced_server(env, "java_https_server", ["java", SERVE, p12, "tlstrace", ready],
                              ready_file=ready, what="java Serve.java")
    base = "https://127.0.0.1:%d" % srv.port
    w = ["-w", SERVER_CURL_W, "-o", "/dev/null"]
    try:
        (t0, t1), lines = curl_server(env, srv, ["--http1.1"] + w + [base + "/hello"] + w +
                                      [base + "/delay/30"] + w + [base + "/hello"])
        (t2, t3), more = curl_server(env, srv, ["--http1.1"] + w + [base + "/hello"])
    finally:
        rc, _ = stop_traced_server(env, srv)
    # (SIGINT while its command runs: 130, the command left running)
    expect(rc in (0, 130), "tlstrace %s" % describe_exit(rc))
    expect([l[0] for l in lines + more] == [200] * 4, "curl saw %r" % (lines + more))
    entries = [e for e in read_entries(srv.out_file) if e["tlstrace"].get("role") == "server"]
    expect(len(entries) == 4, "%d server entries, want 4" % len(entries))
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(x.get("tls", {}).get("library") == "wire", "entry %d: library %r"
               % (i, x.get("tls", {}).get("library")))
        lo, hi = (t0, t1) if i < 3 else (t2, t3)
        for f in ("requestStart", "responseEnd"):
            t = x["timeOrigin"] + e[f]
            expect(lo - 1 <= t <= hi + 1, "entry %d: %s %.1f ms outside curl's run" % (
                i, f, t - lo))
    expect([e["tlstrace"]["reused"] for e in entries] == [False, True, True, False],
           "reused: %r" % [e["tlstrace"]["reused"] for e in entries])
    delayed = entries[1]
    wait = (delayed["responseStart"] if "responseStart" not in delayed["tlstrace"]["unknown"]
            else delayed["responseEnd"]) - delayed["requestStart"]
    expect(wait >= 30, "/delay/30 answered %.3f ms after its request" % wait)
    return "4 server entries; /delay/30 answered after %.1f ms" % wait
