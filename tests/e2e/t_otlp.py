# SPDX-License-Identifier: MIT
"""End-to-end tests of --otlp-endpoint: real programs traced, their spans
POSTed to a local receiver (otlp_receiver.js) that decodes every request with
the official OTLP protobuf definitions (@opentelemetry/otlp-transformer), and
checked against the JSON entries of the same run."""

import copy
import json
import os
import socket
import time
import urllib.request

from harness import (HERE, TEST_NAME, Failure, curl_server, describe_exit, expect, free_port,
                     in_dead_resolver, in_private_hosts, need, node_module, read_entries,
                     server_fetches, start_traced_server_py, stderr_hint, stop_traced_server)
from t_failures import stop_mid_download

TIME_SLACK_MS = 0.01  # span times and JSON fields come from the same clock reading
TRANSFORMER = "@opentelemetry/otlp-transformer"


class Receiver:
    """otlp_receiver.js on 127.0.0.1, a free port; its spans and requests as JSON lines."""

    def __init__(self, env, test, fail_first=0, fail_status=503, retry_after=None, tls=False):
        node = need("node")
        module = node_module(TRANSFORMER)
        self.spans_path = env.path(test + ".spans.jsonl")
        self.requests_path = env.path(test + ".requests.jsonl")
        ready = env.path(test + ".receiver.port")
        for f in (self.spans_path, self.requests_path, ready):
            if os.path.exists(f):
                os.unlink(f)
        self.log = env.path(test + ".receiver.log")
        with open(self.log, "wb") as log:
            self.proc = env.procs.spawn(
                [node, os.path.join(HERE, "otlp_receiver.js"), "--module", module,
                 "--ready-file", ready, "--spans", self.spans_path,
                 "--requests", self.requests_path, "--fail-first", str(fail_first),
                 "--fail-status", str(fail_status)] +
                (["--retry-after", str(retry_after)] if retry_after is not None else []) +
                (["--tls-cert", os.path.join(env.path("certs"), "cert.pem"), "--tls-key",
                  os.path.join(env.path("certs"), "key.pem")] if tls else []),
                stdin=open(os.devnull), stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise Failure("otlp_receiver.js %s%s" % (describe_exit(self.proc.returncode),
                                                         self.hint()))
            expect(time.monotonic() < deadline, "otlp_receiver.js did not listen within 15 s")
            time.sleep(0.05)
        with open(ready) as f:
            self.port = int(f.read())
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)

    def hint(self):
        with open(self.log, errors="replace") as f:
            return stderr_hint(f.read())

    @staticmethod
    def _lines(path):
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def spans(self):
        return self._lines(self.spans_path)

    def requests(self):
        return self._lines(self.requests_path)


def check_requests(reqs, statuses=None, content_type="application/x-protobuf"):
    """Every request a POST to /v1/traces of content_type (protobuf unless told) that
    decoded."""
    expect(reqs, "the receiver got no request")
    for i, r in enumerate(reqs):
        expect(r["method"] == "POST" and r["path"] == "/v1/traces",
               "request %d: %s %s, want POST /v1/traces" % (i, r["method"], r["path"]))
        expect(r["contentType"] == content_type,
               "request %d: Content-Type %r" % (i, r["contentType"]))
        expect("error" not in r, "request %d did not decode: %s" % (i, r.get("error")))
    got = [r["status"] for r in reqs]
    if statuses is not None:
        expect(got == statuses, "the receiver answered %r, want %r" % (got, statuses))


def ms(nanos):
    return int(nanos) / 1e6


def expect_time(what, nanos, wall):
    expect(abs(ms(nanos) - wall) <= TIME_SLACK_MS,
           "%s %.6f ms, the JSON entry says %.6f (%+.6f ms)" % (what, ms(nanos), wall,
                                                              ms(nanos) - wall))


def at(e, field):
    """A JSON entry's field on the wall clock, ms."""
    return e["tlstrace"]["timeOrigin"] + field


def check_ids(span, what):
    expect(len(span["traceId"]) == 32 and int(span["traceId"], 16) != 0,
           "%s: traceId %r is not 16 bytes, non-zero" % (what, span["traceId"]))
    expect(len(span["spanId"]) == 16 and int(span["spanId"], 16) != 0,
           "%s: spanId %r is not 8 bytes, non-zero" % (what, span["spanId"]))
    expect(not span["duplicateKeys"], "%s: attributes given twice: %r"
           % (what, span["duplicateKeys"]))


def check_attrs(span, want, what):
    a = span["attributes"]
    bad = ["%s=%r (want %r)" % (k, a.get(k), v) for k, v in want.items() if a.get(k) != v]
    expect(not bad, "%s: %s" % (what, ", ".join(bad)))


def check_resource(span, e, what):
    r = span["resource"]
    x = e["tlstrace"]
    want = {"service.name": x["comm"], "process.pid": x["pid"],
            "host.name": socket.gethostname(), "telemetry.sdk.name": "tlstrace"}
    bad = ["%s=%r (want %r)" % (k, r.get(k), v) for k, v in want.items() if r.get(k) != v]
    expect(not bad, "%s: resource %s" % (what, ", ".join(bad)))
    expect(isinstance(r.get("process.executable.name"), str) and r["process.executable.name"],
           "%s: no process.executable.name in %r" % (what, r))
    # the executable is named even when the process (a curl) exited before its entry was sent
    exe = x.get("exe")
    expect(exe and os.path.isabs(exe), "%s: the entry names no executable: %r" % (what, x))
    expect(r.get("process.executable.path") == exe and
           r.get("process.executable.name") == os.path.basename(exe),
           "%s: resource's executable %r, %r; the entry's %r"
           % (what, r.get("process.executable.path"), r.get("process.executable.name"), exe))
    if "cgroup" in x:
        expect(r.get("process.linux.cgroup") == "0::" + x["cgroup"],
               "%s: process.linux.cgroup %r, the entry's cgroup %r"
               % (what, r.get("process.linux.cgroup"), x["cgroup"]))
    expect(span["scope"].get("name") == "tlstrace", "%s: scope %r" % (what, span["scope"]))


def roots_and_children(spans):
    """The entries' spans (CLIENT or SERVER; their parent, if any, is the
    application's) and their INTERNAL children by parent span id."""
    roots = [s for s in spans if s["kind"] != "SPAN_KIND_INTERNAL"]
    children = {}
    for s in spans:
        if s["kind"] == "SPAN_KIND_INTERNAL":
            children.setdefault(s["parentSpanId"], []).append(s)
    ids = {s["spanId"] for s in roots}
    orphans = [s["name"] for s in spans
               if s["kind"] == "SPAN_KIND_INTERNAL" and s["parentSpanId"] not in ids]
    expect(not orphans, "child spans whose parent was not received: %r" % orphans)
    return roots, children


def by_url(roots, key="url.full"):
    out = {}
    for s in roots:
        u = s["attributes"].get(key)
        expect(u not in out, "two spans for %r" % u)
        out[u] = s
    return out


def check_child(c, root, name, start, end, what):
    expect(c["traceId"] == root["traceId"], "%s: %s not in its parent's trace" % (what, name))
    expect(c["kind"] == "SPAN_KIND_INTERNAL", "%s: %s kind %s" % (what, name, c["kind"]))
    check_ids(c, "%s/%s" % (what, name))
    expect_time("%s: %s start" % (what, name), c["startTimeUnixNano"], start)
    expect_time("%s: %s end" % (what, name), c["endTimeUnixNano"], end)
    expect(int(root["startTimeUnixNano"]) <= int(c["startTimeUnixNano"]) <=
           int(c["endTimeUnixNano"]) <= int(root["endTimeUnixNano"]),
           "%s: %s is not inside its parent" % (what, name))


def test_otlp_client(env):
    """curl: two requests on one connection to a name it looks up (200, 404)
    and a refused one, as CLIENT spans with the HTTP and TLS attributes, the
    JSON entries' times, and children for the first connection's phases only."""
    otlp_client(env, "otlp_client", [], "application/x-protobuf")


def test_otlp_client_json(env):
    """The same as otlp_client sent as http/json (--otlp-protocol), which the
    receiver reads back strictly: hex ids, int64 as strings, enums as numbers."""
    otlp_client(env, "otlp_client_json", ["--otlp-protocol", "http/json"], "application/json")


def otlp_client(env, test, opts, content_type):
    need("curl")
    env.require_server()
    rcv = Receiver(env, test)
    base = "https://%s:%d" % (TEST_NAME, env.port)
    urls = [base + "/hello", base + "/status/404", "https://127.0.0.1:1/x"]
    cmd = in_private_hosts(env, ["curl", "-sk", "-o", "/dev/null", "-o", "/dev/null", "-o",
                                 "/dev/null"] + urls)
    rc, _, err, path = env.trace(test, cmd, timeout=60,
                                 opts=["--otlp-endpoint", rcv.url, "--stats"] + opts)
    expect(rc == 7, "tlstrace %s, want curl's 7 (the refused one)%s"
           % (describe_exit(rc), stderr_hint(err)))
    expect("OTLP" not in err, "OTLP warning: %s" % err.strip())
    expect("otlp.sent=3 " in err and "otlp.failed=0" in err,
           "stats: %r" % [l for l in err.splitlines() if "otlp" in l])
    entries = read_entries(path)
    expect([e["name"] for e in entries] == [urls[0], urls[1], "https://127.0.0.1:1/"],
           "entries %r" % [e["name"] for e in entries])
    check_requests(rcv.requests(), content_type=content_type)
    spans = rcv.spans()
    roots, children = roots_and_children(spans)
    expect(len(roots) == 3, "%d entry spans, want 3: %r" % (len(roots), [s["name"] for s in roots]))
    roots = by_url(roots)
    expect(len({s["traceId"] for s in roots.values()}) == 3, "entries share a trace id")
    port = env.port
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        what = "entry %d (%s)" % (i, e["name"])
        s = roots.get(e["name"])
        expect(s, "%s: no span with url.full %r; got %r" % (what, e["name"], list(roots)))
        check_ids(s, what)
        check_resource(s, e, what)
        expect(s["kind"] == "SPAN_KIND_CLIENT", "%s: kind %s" % (what, s["kind"]))
        expect_time(what + ": start", s["startTimeUnixNano"], at(e, e["startTime"]))
        expect_time(what + ": end", s["endTimeUnixNano"], at(e, e["responseEnd"]))
        check_attrs(s, {"url.full": e["name"], "tlstrace.connection_id": x["connectionId"],
                        "tlstrace.reused": x["reused"], "tlstrace.tid": x["tid"],
                        "network.peer.address": "127.0.0.1"}, what)
        if i < 2:
            check_attrs(s, {
                "http.request.method": "GET", "http.response.status_code": e["responseStatus"],
                "network.protocol.name": "http", "network.protocol.version": "1.1",
                "server.address": TEST_NAME, "server.port": port,
                "network.peer.port": port, "tls.protocol.version": "1.3",
                "tls.cipher": x["tls"]["cipher"], "tls.client.server_name": TEST_NAME,
                "tls.resumed": False, "http.response.body.size": e["encodedBodySize"]}, what)
            expect(s["name"] == "GET", "%s: span name %r, want the method" % (what, s["name"]))
            ev = {v["name"]: v["timeUnixNano"] for v in s["events"]}
            expect("requestStart" in ev and "responseStart" in ev, "%s: events %r"
                   % (what, s["events"]))
            expect_time(what + ": requestStart", ev["requestStart"], at(e, e["requestStart"]))
            expect_time(what + ": responseStart", ev["responseStart"], at(e, e["responseStart"]))
        kids = {c["name"]: c for c in children.get(s["spanId"], [])}
        if i == 0:
            expect(s["status"] == {}, "%s: status %r, want unset" % (what, s["status"]))
            expect("error.type" not in s["attributes"], "%s: error.type set" % what)
            expect(e["domainLookupEnd"] > e["domainLookupStart"] > 0,
                   "%s: the lookup was not timed (%r, %r)" % (what, e["domainLookupStart"],
                                                              e["domainLookupEnd"]))
            want = {"dns lookup", "connect", "tls handshake"}
            expect(set(kids) == want, "%s: children %r, want %r" % (what, sorted(kids),
                                                                    sorted(want)))
            check_child(kids["dns lookup"], s, "dns lookup", at(e, e["domainLookupStart"]),
                        at(e, e["domainLookupEnd"]), what)
            # the connect phase: to secureConnectionStart, not to TCP established
            check_child(kids["connect"], s, "connect", at(e, e["connectStart"]),
                        at(e, e["secureConnectionStart"]), what)
            check_child(kids["tls handshake"], s, "tls handshake",
                        at(e, e["secureConnectionStart"]), at(e, e["connectEnd"]), what)
        elif i == 1:
            # a 404 is an error for a client (not for a server)
            expect(s["status"].get("code") == "STATUS_CODE_ERROR", "%s: status %r"
                   % (what, s["status"]))
            check_attrs(s, {"error.type": "404"}, what)
            expect(not kids, "%s: a reused connection has children %r" % (what, sorted(kids)))
        else:
            expect(s["name"] == "HTTP", "%s: span name %r, want HTTP (no method was sent)"
                   % (what, s["name"]))
            expect(s["status"] == {"code": "STATUS_CODE_ERROR", "message": x["error"]},
                   "%s: status %r" % (what, s["status"]))
            check_attrs(s, {"error.type": x["failedPhase"], "tlstrace.error": x["error"],
                            "network.peer.port": 1}, what)
            start = x["partialTimings"].get("connectStart", 0)
            if start and e["responseEnd"] > start:
                expect(set(kids) == {"connect"}, "%s: children %r" % (what, sorted(kids)))
                check_child(kids["connect"], s, "connect", at(e, start), at(e, e["responseEnd"]),
                            what)
                expect(kids["connect"]["status"].get("code") == "STATUS_CODE_ERROR",
                       "%s: the failed connect's status %r" % (what, kids["connect"]["status"]))
            else:
                expect(not kids, "%s: children %r" % (what, sorted(kids)))


def test_otlp_lookup_failure(env):
    """A name that does not resolve: a CLIENT span in error (error.type dns)
    whose one child, the lookup, ends at the failure."""
    need("curl")
    rcv = Receiver(env, "otlp_lookup_failure")
    cmd = in_dead_resolver(env, ["curl", "-sk", "https://no-such-name.tlstrace-e2e.test:8443/x"])
    rc, _, err, path = env.trace("otlp_lookup_failure", cmd, timeout=60,
                                 opts=["--otlp-endpoint", rcv.url])
    expect(rc == 6, "tlstrace %s, want curl's 6 (could not resolve)%s"
           % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect(len(entries) == 1, "%d entries, want 1" % len(entries))
    e = entries[0]
    x = e["tlstrace"]
    check_requests(rcv.requests(), [200])
    roots, children = roots_and_children(rcv.spans())
    expect(len(roots) == 1, "%d entry spans, want 1" % len(roots))
    s = roots[0]
    check_ids(s, "the span")
    check_resource(s, e, "the span")
    expect_time("start", s["startTimeUnixNano"], at(e, e["startTime"]))
    expect_time("end", s["endTimeUnixNano"], at(e, e["responseEnd"]))
    check_attrs(s, {"url.full": e["name"], "error.type": "dns", "tlstrace.error": x["error"],
                    "server.address": "no-such-name.tlstrace-e2e.test", "server.port": 8443},
                "the span")
    expect(s["status"] == {"code": "STATUS_CODE_ERROR", "message": x["error"]},
           "status %r" % s["status"])
    kids = children.get(s["spanId"], [])
    expect([c["name"] for c in kids] == ["dns lookup"], "children %r, want the lookup"
           % [c["name"] for c in kids])
    check_child(kids[0], s, "dns lookup", at(e, x["partialTimings"]["domainLookupStart"]),
                at(e, e["responseEnd"]), "the span")
    expect(kids[0]["status"].get("code") == "STATUS_CODE_ERROR", "the lookup's status %r"
           % kids[0]["status"])


def test_otlp_endpoint_down(env):
    """Nobody listens at the endpoint: the traced command runs as usual, the
    JSON output is whole, one warning line says what was not delivered, and
    the exit status is 1 (entries were lost)."""
    need("curl")
    env.require_server()
    endpoint = "http://127.0.0.1:%d" % free_port()
    t0 = time.monotonic()
    rc, out, err, path = env.trace("otlp_endpoint_down", ["curl", "-sk", env.url("/hello")],
                                   timeout=60, opts=["--otlp-endpoint", endpoint])
    took = time.monotonic() - t0
    expect(rc == 1, "tlstrace %s, want 1%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out == "hello\n", "curl printed %r" % out[:60])
    entries = read_entries(path)
    expect(len(entries) == 1, "%d entries, want 1" % len(entries))
    lines = [l for l in err.splitlines() if l.strip()]
    otlp = [l for l in lines if "OTLP" in l]
    expect(len(otlp) == 1 and otlp[0].startswith("tlstrace: warning: ") and
           "1 of 1 entries not delivered" in otlp[0],
           "stderr %r, want one warning that 1 of 1 entries were not delivered" % lines)
    expect("connect" in otlp[0].lower(), "the warning does not say why: %r" % otlp[0])
    # three tries, 0.5 s and 1 s apart, then exit: not the 10 s a POST may take
    expect(took < 8, "tlstrace took %.1f s to give up" % took)

    # a bad endpoint: one line, non-zero, before anything runs
    marker = env.path("otlp_bad_endpoint.ran")
    for bad in ("ftp://127.0.0.1/", "http://"):
        if os.path.exists(marker):
            os.unlink(marker)
        rc, _, err, _ = env.trace("otlp_bad_endpoint", ["touch", marker], timeout=30,
                                  opts=["--otlp-endpoint", bad])
        lines = [l for l in err.splitlines() if l.strip()]
        expect(rc != 0 and len(lines) == 1 and bad in lines[0],
               "--otlp-endpoint %s: tlstrace %s, stderr %r" % (bad, describe_exit(rc), lines))
        expect(not os.path.exists(marker), "--otlp-endpoint %s: the command ran" % bad)

    # a daemon never exits to say it: the loss is said while it runs, and counted in /metrics
    mport = free_port()
    tracer = env.start_tlstrace("otlp_down_daemon", ["--otlp-endpoint", endpoint, "-c", "curl",
                                                     "--metrics-addr", "127.0.0.1:%d" % mport])
    rc, _, err = env.procs.run(["curl", "-sk", "-o", "/dev/null", env.url("/hello")], 30, "curl")
    expect(rc == 0, "curl exited %d%s" % (rc, stderr_hint(err)))
    deadline = time.monotonic() + 15
    while "warning: OTLP:" not in open(tracer.err_file, errors="replace").read():
        expect(tracer.poll() is None and time.monotonic() < deadline,
               "no warning of the undelivered entries while running%s" % env.err_hint(tracer))
        time.sleep(0.2)
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as resp:
        page = resp.read().decode()
    failed = [l for l in page.splitlines()
              if l.startswith('tlstrace_drops_total{cause="otlp_failed"}')]
    expect(failed and float(failed[0].split()[-1]) >= 1,
           "/metrics: %r, want otlp_failed counted" % failed)
    tracer.send_signal(2)
    env.procs.wait(tracer, 15, "tlstrace")


def test_otlp_retries(env):
    """The receiver answers 503 twice, then 200: the batch gets through on its
    third POST, and the stats say two retries, nothing lost. A 429 with
    Retry-After is retried when it says."""
    need("curl")
    env.require_server()
    rcv = Receiver(env, "otlp_retries", fail_first=2, fail_status=503)
    urls = [env.url("/hello"), env.url("/size/100")]
    rc, _, err, path = env.trace("otlp_retries", ["curl", "-sk", "-o", "/dev/null", "-o",
                                                  "/dev/null"] + urls,
                                 timeout=60, opts=["--otlp-endpoint", rcv.url, "--stats"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    stats = [l for l in err.splitlines() if "otlp." in l]
    expect(stats and all(s in stats[0] for s in ("otlp.queued=2 ", "otlp.sent=2 ",
                                                 "otlp.failed=0 ", "otlp.retries=2")),
           "stats %r" % stats)
    expect("warning: OTLP" not in err, "warning: %s" % err.strip())
    check_requests(rcv.requests(), [503, 503, 200])
    roots, _ = roots_and_children(rcv.spans())
    got = sorted(s["attributes"].get("url.full") for s in roots)
    expect(got == sorted(urls), "spans for %r, want %r" % (got, urls))
    entries = read_entries(path)
    expect(len(entries) == 2, "%d entries" % len(entries))

    # a 429 with Retry-After: 2 is retried after 2 s, not the 0.5 s backoff
    rcv = Receiver(env, "otlp_retry_after", fail_first=1, fail_status=429, retry_after=2)
    rc, _, err, _ = env.trace("otlp_retry_after", ["curl", "-sk", "-o", "/dev/null", urls[0]],
                              timeout=60, opts=["--otlp-endpoint", rcv.url])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect("OTLP" not in err, "warning: %s" % err.strip())
    reqs = rcv.requests()
    check_requests(reqs, [429, 200])
    gap = (reqs[1]["t"] - reqs[0]["t"]) / 1e3
    expect(1.9 <= gap <= 3, "retried %.2f s after a 429 with Retry-After: 2" % gap)


def test_otlp_server(env):
    """server.py traced as a server: SERVER spans with url.path, the client's
    address and port, and a child for the handshake of the new connection."""
    need("curl")
    rcv = Receiver(env, "otlp_server")
    # start_traced_server runs env.tlstrace: give it one that exports
    wrapper = env.path("tlstrace_otlp.sh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec "%s" --otlp-endpoint "%s" "$@"\n' % (env.tlstrace, rcv.url))
    os.chmod(wrapper, 0o755)
    wenv = copy.copy(env)
    wenv.tlstrace = wrapper
    srv = start_traced_server_py(wenv, "otlp_server")
    base = "https://localhost:%d" % srv.port
    _, got = curl_server(env, srv, server_fetches([base + "/hello", base + "/size/2000"]))
    stop_traced_server(env, srv)
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect(len(entries) == 2, "%d entries, want 2" % len(entries))
    with open(srv.tracer.err_file, errors="replace") as f:
        err = f.read()
    expect("OTLP" not in err, "OTLP warning: %s" % err.strip())
    check_requests(rcv.requests())
    roots, children = roots_and_children(rcv.spans())
    expect(len(roots) == 2, "%d entry spans, want 2" % len(roots))
    roots = sorted(roots, key=lambda s: int(s["startTimeUnixNano"]))
    for i, (e, s, (status, size, cport)) in enumerate(zip(entries, roots, got)):
        what = "entry %d (%s)" % (i, e["name"])
        x = e["tlstrace"]
        check_ids(s, what)
        check_resource(s, e, what)
        expect(s["kind"] == "SPAN_KIND_SERVER", "%s: kind %s" % (what, s["kind"]))
        expect(s["name"] == "GET", "%s: name %r" % (what, s["name"]))
        expect_time(what + ": start", s["startTimeUnixNano"], at(e, e["startTime"]))
        expect_time(what + ": end", s["endTimeUnixNano"], at(e, e["responseEnd"]))
        check_attrs(s, {
            "http.request.method": "GET", "http.response.status_code": status,
            "url.scheme": "https", "url.path": e["name"][len(base):],
            "server.address": "localhost", "server.port": srv.port,
            "client.address": "127.0.0.1", "client.port": cport,
            "network.peer.address": "127.0.0.1", "network.peer.port": cport,
            "network.protocol.version": "1.1", "tls.protocol.version": "1.3",
            "tlstrace.reused": x["reused"]}, what)
        expect("url.full" not in s["attributes"], "%s: url.full on a server span" % what)
        expect(s["resource"]["process.pid"] == srv.pid, "%s: process.pid %r, the server's is %d"
               % (what, s["resource"]["process.pid"], srv.pid))
        kids = {c["name"]: c for c in children.get(s["spanId"], [])}
        if i == 0:
            # a server's connect phase: from accept() to the handshake's start
            expect(set(kids) == {"connect", "tls handshake"},
                   "%s: children %r, want the connect and the handshake" % (what, sorted(kids)))
            check_child(kids["connect"], s, "connect", at(e, e["connectStart"]),
                        at(e, e["secureConnectionStart"]), what)
            check_child(kids["tls handshake"], s, "tls handshake",
                        at(e, e["secureConnectionStart"]), at(e, e["connectEnd"]), what)
        else:
            expect(not kids, "%s: a reused connection has children %r" % (what, sorted(kids)))


TP_H1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TP_H2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
TP_SERVER = "00-11111111111111111111111111111111-2222222222222222-01"


def check_joined(spans, children, s, traceparent, what, trace_state=""):
    """s (an entry's span) and its children are in traceparent's trace, s a child of
    its parent-id."""
    _, trace, parent, _ = traceparent.split("-")
    expect(s["traceId"] == trace and s["parentSpanId"] == parent,
           "%s: trace %s parent %s, want %s %s" % (what, s["traceId"], s["parentSpanId"],
                                                   trace, parent))
    expect(s["traceState"] == trace_state, "%s: traceState %r, want %r"
           % (what, s["traceState"], trace_state))
    for c in children.get(s["spanId"], []):
        expect(c["traceId"] == trace and c["traceState"] == trace_state,
               "%s: child %s in trace %s, traceState %r" % (what, c["name"], c["traceId"],
                                                            c["traceState"]))


def test_otlp_trace_context(env):
    """Requests that carry a W3C traceparent join the application's trace:
    curl over HTTP/1.1 (with a tracestate given in two fields) and over
    HTTP/2 (nghttpd), the entry's span taking the trace id and the caller's
    span as its parent, its lookup/connect/TLS children in the same trace; a
    request with an invalid traceparent (upper-case hex) and one with none
    get traces of their own. A traced server's SERVER span joins the trace
    the request carried too. Sent as http/json from OTEL_EXPORTER_OTLP_PROTOCOL."""
    need("curl")
    env.require_server()
    h2 = env.h2_port()
    rcv = Receiver(env, "otlp_trace_context")
    sh = ("curl -sk -o /dev/null -H 'traceparent: %s' -H 'tracestate: rojo=00f067aa0ba902b7'"
          " -H 'tracestate: congo=t61rcWkgMzE' %s && "
          "curl -sk --http2 -o /dev/null -H 'traceparent: %s' https://127.0.0.1:%d/hello && "
          "curl -sk -o /dev/null -H 'traceparent: %s' %s && curl -sk -o /dev/null %s"
          % (TP_H1, env.url("/hello?h1"), TP_H2, h2, TP_H1.upper(), env.url("/hello?bad"),
             env.url("/hello?none")))
    vars_ = otel_env(OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url,
                     OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    rc, _, err, path = env.trace("otlp_trace_context", ["sh", "-c", sh], 60, opts=["--stats"],
                                 env=vars_)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect("otlp.sent=4 " in err, "stats: %r" % [l for l in err.splitlines() if "otlp" in l])
    check_requests(rcv.requests(), content_type="application/json")
    entries = read_entries(path)
    spans = rcv.spans()
    roots, children = roots_and_children(spans)
    roots = by_url(roots)
    h2_url = "https://127.0.0.1:%d/hello" % h2
    expect(set(roots) == {env.url("/hello?h1"), h2_url, env.url("/hello?bad"),
                          env.url("/hello?none")}, "spans of %r" % sorted(roots))
    expect([e["nextHopProtocol"] for e in entries if e["name"] == h2_url] == ["h2"],
           "the HTTP/2 fetch: %r" % [(e["name"], e["nextHopProtocol"]) for e in entries])
    check_joined(spans, children, roots[env.url("/hello?h1")], TP_H1, "HTTP/1.1",
                 "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    expect(len(children.get(roots[env.url("/hello?h1")]["spanId"], [])) == 2,
           "HTTP/1.1: the connect and handshake children")
    check_joined(spans, children, roots[h2_url], TP_H2, "HTTP/2")
    known = {TP_H1.split("-")[1], TP_H2.split("-")[1]}
    for q in ("bad", "none"):
        s = roots[env.url("/hello?" + q)]
        expect(s["traceId"] not in known and not s["parentSpanId"],
               "%s traceparent: trace %s parent %r" % (q, s["traceId"], s["parentSpanId"]))

    # a traced server: its SERVER span is in the trace the request brought
    rcv2 = Receiver(env, "otlp_trace_context_server")
    wrapper = env.path("tlstrace_otlp_tc.sh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec "%s" --otlp-endpoint "%s" --otlp-protocol http/json "$@"\n'
                % (env.tlstrace, rcv2.url))
    os.chmod(wrapper, 0o755)
    wenv = copy.copy(env)
    wenv.tlstrace = wrapper
    srv = start_traced_server_py(wenv, "otlp_trace_context_server")
    base = "https://localhost:%d" % srv.port
    curl_server(env, srv, ["-H", "traceparent: " + TP_SERVER] +
                server_fetches([base + "/hello"]))
    stop_traced_server(env, srv)
    check_requests(rcv2.requests(), content_type="application/json")
    roots, children = roots_and_children(rcv2.spans())
    expect(len(roots) == 1 and roots[0]["kind"] == "SPAN_KIND_SERVER",
           "server spans %r" % [(s["name"], s["kind"]) for s in roots])
    check_joined(rcv2.spans(), children, roots[0], TP_SERVER, "server")


def test_otlp_incomplete(env):
    """curl stopped mid-download (t_failures.stop_mid_download) with
    --otlp-endpoint: the span of the incomplete entry says so
    (tlstrace.incomplete, tlstrace.unknown as a string array, decoded by the
    official definitions) and is not an error: status UNSET, no error.type."""
    rcv = Receiver(env, TEST_NAME)
    entries = stop_mid_download(env, "otlp_incomplete", ["--otlp-endpoint", rcv.url])
    expect(len(entries) == 1, "%d entries of curl, want 1" % len(entries))
    x = entries[0]["tlstrace"]
    expect(x.get("incomplete") == "trace ended", "JSON: incomplete %r" % x.get("incomplete"))
    check_requests(rcv.requests())
    spans = [s for s in rcv.spans() if s["resource"].get("process.pid") == x["pid"] and
             not s.get("parentSpanId")]
    expect(len(spans) == 1, "%d root spans of curl, want 1" % len(spans))
    a = spans[0]["attributes"]
    expect(a.get("tlstrace.incomplete") == "trace ended",
           "tlstrace.incomplete %r" % a.get("tlstrace.incomplete"))
    expect(a.get("tlstrace.unknown") == x["unknown"],
           "tlstrace.unknown %r, JSON says %r" % (a.get("tlstrace.unknown"), x["unknown"]))
    expect("error.type" not in a, "error.type %r" % a.get("error.type"))
    code = spans[0]["status"].get("code", 0)
    expect(code in (0, "STATUS_CODE_UNSET"), "span status %r, want UNSET" % spans[0]["status"])


def otel_env(**kw):
    """this process's environment without OpenTelemetry's variables, then kw's"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(kw)
    return env


def test_otlp_environment(env):
    """OpenTelemetry's variables, as SDKs follow them: OTEL_EXPORTER_OTLP_ENDPOINT
    (an https receiver, /v1/traces appended) checked with the test CA of
    OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_HEADERS sent with
    each request (values percent-decoded), OTEL_SERVICE_NAME and
    OTEL_RESOURCE_ATTRIBUTES on the resource (process.pid kept); a traces
    endpoint used as it is; --otlp-endpoint and --otlp-protocol winning over
    the variables; an unsupported protocol or a header list that does not
    parse refused in one line, exit 2."""
    need("curl")
    env.require_server()
    rcv = Receiver(env, "otlp_environment", tls=True)
    ca = os.path.join(env.path("certs"), "cert.pem")
    vars_ = otel_env(OTEL_EXPORTER_OTLP_ENDPOINT=rcv.url,
                     OTEL_EXPORTER_OTLP_CERTIFICATE=ca,
                     OTEL_EXPORTER_OTLP_HEADERS="x-api-key=s3cret%20key , x-tenant=web,",
                     OTEL_SERVICE_NAME="checkout",
                     OTEL_RESOURCE_ATTRIBUTES="team=first,deployment.environment=test,"
                                              "team=web%2Cops")
    curl = ["curl", "-sk", "-o", "/dev/null", env.url("/hello")]
    rc, _, err, path = env.trace("otlp_environment", curl, 60, opts=["--stats"], env=vars_)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect("otlp.sent=1 " in err and "(OTEL_EXPORTER_OTLP_ENDPOINT)" in err,
           "stats: %r" % [l for l in err.splitlines() if "otlp" in l.lower()])
    reqs = rcv.requests()
    expect(len(reqs) == 1 and reqs[0]["path"] == "/v1/traces" and reqs[0]["status"] == 200,
           "requests %r" % reqs)
    expect(reqs[0]["xHeaders"] == {"x-api-key": "s3cret key", "x-tenant": "web"},
           "headers %r" % reqs[0]["xHeaders"])
    spans = rcv.spans()
    expect(spans, "no span")
    r = spans[0]["resource"]
    entry = read_entries(path)[0]
    want = {"service.name": "checkout", "deployment.environment": "test", "team": "web,ops",
            "process.pid": entry["tlstrace"]["pid"]}
    bad = ["%s=%r" % (k, r.get(k)) for k, v in want.items() if r.get(k) != v]
    expect(not bad and not spans[0]["duplicateKeys"], "resource %r" % r)

    # a traces endpoint is the URL itself; the flag wins over a variable
    rcv2 = Receiver(env, "otlp_environment2", tls=False)
    vars_ = otel_env(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=rcv2.url + "/custom/traces",
                     OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1")
    rc, _, err, _ = env.trace("otlp_environment2", curl, 60, opts=["--stats"], env=vars_)
    expect(rc == 0 and "otlp.sent=1 " in err, "traces endpoint: %s%s"
           % (describe_exit(rc), stderr_hint(err)))
    expect([q["path"] for q in rcv2.requests()] == ["/custom/traces"],
           "traces endpoint: requests %r" % rcv2.requests())
    vars_ = otel_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1")
    rc, _, err, _ = env.trace("otlp_environment3", curl, 60,
                              opts=["--stats", "--otlp-endpoint", rcv2.url], env=vars_)
    expect(rc == 0 and "otlp.sent=1 " in err and len(rcv2.requests()) == 2,
           "the flag did not win: %s%s" % (describe_exit(rc), stderr_hint(err)))

    for bad in [{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
                {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/xml"},
                {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"},
                {"OTEL_EXPORTER_OTLP_HEADERS": "bad key=1"},
                {"OTEL_EXPORTER_OTLP_HEADERS": "k=a%0D%0AInjected: 1"},
                {"OTEL_RESOURCE_ATTRIBUTES": "k=%00"},
                {"OTEL_EXPORTER_OTLP_CERTIFICATE": env.path("no-such-ca.pem")},
                {"OTEL_EXPORTER_OTLP_CERTIFICATE": env.workdir},
                {"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/hostname"},
                {"OTEL_EXPORTER_OTLP_HEADERS": "Content-Length=0"},
                {"OTEL_EXPORTER_OTLP_HEADERS": "a\r\nX-Injected: 1=b"},
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://"}]:
        extra = dict(bad)
        extra.setdefault("OTEL_EXPORTER_OTLP_ENDPOINT", rcv2.url)
        rc, _, err = env.procs.run([env.tlstrace, "-d", "1", "--", "true"], 10, "tlstrace",
                                   env=otel_env(**extra))
        lines = err.strip().splitlines()
        expect(rc == 2 and len(lines) == 1 and list(bad)[0] in lines[0],
               "%r: exit %d, stderr %r (want 2, one line naming it)" % (bad, rc, err[:200]))
    # the flag: a bad protocol, or one with nowhere to send; it wins over the variable
    for args, env_ in [(["--otlp-protocol", "grpc", "--otlp-endpoint", rcv2.url], {}),
                       (["--otlp-protocol", "http/json"], {}),
                       (["--otlp-endpoint", "http://127.0.0.1:99999"], {}),
                       (["--otlp-endpoint", "http://"], {})]:
        rc, _, err = env.procs.run([env.tlstrace] + args + ["-d", "1", "--", "true"], 10,
                                   "tlstrace", env=otel_env(**env_))
        lines = err.strip().splitlines()
        expect(rc == 2 and len(lines) == 1 and args[0] in lines[0],
               "%r: exit %d, stderr %r (want 2, one line naming it)" % (args, rc, err[:200]))
    rc, _, err, _ = env.trace("otlp_environment4", curl, 60,
                              opts=["--stats", "--otlp-protocol", "http/json"],
                              env=otel_env(OTEL_EXPORTER_OTLP_ENDPOINT=rcv2.url,
                                           OTEL_EXPORTER_OTLP_PROTOCOL="grpc"))
    expect(rc == 0 and "otlp.sent=1 " in err and rcv2.requests()[-1]["contentType"] ==
           "application/json", "--otlp-protocol did not win: %s%s"
           % (describe_exit(rc), stderr_hint(err)))
