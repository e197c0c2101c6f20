# SPDX-License-Identifier: MIT
"""Fetches that fail, one failed entry each, in the phase that failed: a name
that does not resolve, a connect refused or timed out, a client killed in
the handshake or in the response, a certificate rejected, a connection reset
by the server; and tlstrace stopped mid-response, which is no failure: the
entry is incomplete."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

from harness import (expect, expect_count, in_dead_resolver, need, read_entries, read_line,
                     stderr_hint)
from server import RESET_AFTER_MS


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


def check_failed_fields(e):
    """The spec-shaped fields of a failed fetch (docs/semantics.md, failed fetch column)."""
    for k in ("transferSize", "encodedBodySize", "decodedBodySize", "responseStatus",
              "firstInterimResponseStart"):
        expect(e[k] == 0, "%s = %r in a failed fetch, want 0" % (k, e[k]))
    expect(e["nextHopProtocol"] == "", "nextHopProtocol %r in a failed fetch, want ''"
           % e["nextHopProtocol"])


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


def trace_stuck(env, test, what):
    """tlstrace -f json -- PY_STUCK WHAT, once the client says it is stuck;
    return the tlstrace process and its output file."""
    out = env.out_file(test)
    p = env.procs.spawn([env.tlstrace, "-f", "json", "-o", out, "--", sys.executable, "-c",
                         PY_STUCK, what, str(env.port)],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)
    expect(read_line(p, 20, "stuck client") == "stuck", "the client did not start")
    return p, out


def test_killed_mid_handshake(env):
    """The client dies inside SSL_do_handshake: one failed entry, phase tls."""
    env.require_server()
    p, out = trace_stuck(env, "killed_mid_handshake", "handshake")
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
    p, out = trace_stuck(env, "killed_mid_response", "response")
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


def only_incomplete(entries, status):
    """One entry, cut by the trace's end while its body came: incomplete, not failed."""
    expect_count(entries, 1)
    e = entries[0]
    x = e["tlstrace"]
    expect(x.get("incomplete") == "trace ended",
           "incomplete %r, want 'trace ended' (failedPhase %r, error %r)"
           % (x.get("incomplete"), x.get("failedPhase"), x.get("error")))
    expect("failedPhase" not in x and "error" not in x, "a failure: %r" % x)
    unknown = set(x.get("unknown", []))
    expect({"responseEnd", "encodedBodySize", "decodedBodySize", "transferSize"} <= unknown,
           "unknown %r lacks the response's end and sizes" % sorted(unknown))
    expect(not unknown & {"responseStatus", "responseStart", "requestStart", "connectEnd"},
           "unknown %r lists what was seen" % sorted(unknown))
    expect(e["responseStatus"] == status, "responseStatus %r, want %d" % (e["responseStatus"], status))
    order = [e[k] for k in ("startTime", "connectStart", "secureConnectionStart", "connectEnd",
                            "requestStart", "responseStart", "responseEnd")]
    expect(order[0] > 0 and order == sorted(order), "timings out of order: %r" % order)
    return e


def test_sigterm_flushes(env):
    """SIGTERM while a response is stalled: tlstrace exits 0 and flushes the open entry,
    incomplete (the trace ended), not failed."""
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
    only_incomplete(entries, 200)
    env.procs.stop(client)


def stop_mid_download(env, test, opts=()):
    """curl fetching /stall/30000 (100 of its 1000 body bytes, then a pause of
    30 s) traced by `tlstrace -f json -c curl OPTS`, which is stopped by
    SIGINT once curl has the first 100 bytes; curl's entries."""
    need("curl")
    env.require_server()
    body = env.path(test + ".body")
    if os.path.exists(body):
        os.unlink(body)
    tracer = env.start_tlstrace(test, ["-c", "curl"] + list(opts))
    curl = env.procs.spawn(["curl", "-sk", "-N", "-o", body, env.url("/stall/30000")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not (os.path.exists(body) and os.path.getsize(body) >= 100):
        expect(time.monotonic() < deadline and curl.poll() is None,
               "curl did not get the first 100 bytes (%s)" % curl.poll())
        time.sleep(0.05)
    time.sleep(0.2)  # the read's record on its way to the collector
    expect(curl.poll() is None, "curl finished before the stop")
    tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 30, "tlstrace after SIGINT")
    expect(rc == 0, "tlstrace exited %r after SIGINT, want 0%s" % (rc, env.err_hint(tracer)))
    expect(curl.poll() is None, "curl finished before tlstrace did")
    entries = [e for e in read_entries(tracer.out_file) if e["tlstrace"]["pid"] == curl.pid]
    env.procs.stop(curl)
    # the exit report: the fetch cut by the stop said as such, no cause named that did not happen
    with open(tracer.err_file, errors="replace") as f:
        err = f.read()
    expect(re.search(r"tlstrace: \d+ fetch(es)? (was|were) under way when the trace ended", err),
           "the exit report does not say a fetch was cut by the stop: %r" % err[-300:])
    expect(not re.search(r"(^|[ (])0 [a-z]|[a-z] 0[,)]", err),
           "the exit report names a cause that did not happen: %r" % err[-300:])
    return entries


def test_stopped_mid_download(env):
    """curl downloads a body the server sends slowly; tlstrace, stopped by
    SIGINT meanwhile, exits 0 and writes the fetch as far as it got:
    incomplete ('trace ended'), its end and sizes unknown, not a failure."""
    e = only_incomplete(stop_mid_download(env, "stopped_mid_download"), 200)
    expect(e["name"] == env.url("/stall/30000"), "name %r" % e["name"])
    return "%.1f ms of it seen" % (e["responseEnd"] - e["startTime"])
