# SPDX-License-Identifier: MIT
"""--timing-only: handshake probes alone, requests timed from socket
syscalls."""

import json
import os
import re
import signal
import subprocess
import time

from harness import (TOL_MS, Failure, bracket_deviation, curl_server, describe_exit, expect, need, read_entries,
                     read_line, server_fetches, server_py, start_python, start_traced_server_py,
                     stderr_hint, stop_traced_server)
from t_robust import ROUNDS


def hits(err):
    """The uprobe hits of --stats, by name."""
    return {k: int(v) for k, v in re.findall(r"hits\.([a-z_]+)=(\d+)", err)}


def predating_both_ends(env, test, opts, server=None):
    """server.py (or server(ready), a command that serves its routes and
    writes its port to the file ready) and a Python client with a keep-alive
    connection between them, one round of requests made before `tlstrace
    OPTS -p CLIENT -p SERVER` starts, "/hello /delay/20 /hello" after: (the
    entries by role, the server's port)"""
    ready = env.path("predates_server.port")
    if os.path.exists(ready):
        os.unlink(ready)
    srv = env.procs.spawn((server or server_py)(env, ready), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not os.path.exists(ready):
        expect(time.monotonic() < deadline and srv.poll() is None, "server.py did not start")
        time.sleep(0.05)
    with open(ready) as f:
        port = int(f.read())
    client = start_python(env, ROUNDS, [str(port)], "started")
    client.stdin.write(b"/hello\n")
    client.stdin.flush()
    expect(read_line(client, 15, "python client") == "done", "the round before the trace failed")
    tracer = env.start_tlstrace(test,
                                opts + ["-p", str(client.pid), "-p", str(srv.pid)])
    client.stdin.write(b"/hello /delay/20 /hello\n")
    client.stdin.flush()
    expect(read_line(client, 15, "python client") == "done", "the traced round failed")
    client.stdin.close()
    expect(env.procs.wait(client, 15, "python client") == 0, "python client failed")
    time.sleep(0.2)
    srv.send_signal(signal.SIGTERM)
    env.procs.wait(srv, 15, "server.py")
    rc = env.procs.wait(tracer, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    entries = read_entries(tracer.out_file)
    return {r: [e for e in entries if e["tlstrace"]["role"] == r]
            for r in ("client", "server")}, port


def test_timing_only_predates_trace(env):
    """--timing-only started while a keep-alive connection between a Python
    client and server.py is open, both traced: each end is adopted at its
    first TLS record (its handshake was never seen), the client's as a
    client and the server's as a server (it listens on the port). Each gets
    an entry per exchange: a socket read is met at its return, so the
    server's read already waiting when the trace began counts too. The 20
    ms delay is inside requestStart..responseStart on both; all are marked
    as predating the trace."""
    by_role, port = predating_both_ends(env, "timing_only_predates", ["--timing-only"])
    got = {r: len(v) for r, v in by_role.items()}
    expect(got == {"client": 3, "server": 3}, "entries by role %r, want 3 client, 3 server" % got)
    for role, es in by_role.items():
        ids = {e["tlstrace"]["connectionId"] for e in es}
        expect(len(ids) == 1, "%s: connections %r, want one" % (role, ids))
        for i, e in enumerate(es):
            x = e["tlstrace"]
            expect(x["connectionObserved"] is False and x.get("timingOnly") and
                   "failedPhase" not in x, "%s entry %d: %r" % (role, i, x))
            expect(e["name"] == "https://127.0.0.1:%d/" % port,
                   "%s entry %d: name %r (no SNI seen: the server's address)"
                   % (role, i, e["name"]))
            seq = [e[k] for k in ("startTime", "requestStart", "responseStart", "responseEnd")]
            expect(all(a <= b for a, b in zip(seq, seq[1:])) and seq[-1] > 0,
                   "%s entry %d: timings out of order %r" % (role, i, seq))
        delayed = es[-2]
        wait = delayed["responseStart"] - delayed["requestStart"]
        expect(20 <= wait < 500, "%s: the delayed request answered in %.3f ms" % (role, wait))
    c, s = by_role["client"][0]["tlstrace"], by_role["server"][0]["tlstrace"]
    expect(c["localAddress"] == s["remoteAddress"] and c["remoteAddress"] == s["localAddress"],
           "client %s -> %s, server %s <- %s" % (c["localAddress"], c["remoteAddress"],
                                                 s["localAddress"], s["remoteAddress"]))


def test_predates_trace_both_ends(env):
    """The default mode's twin of timing_only_predates_trace: the server's
    end, adopted at its first TLS call's syscall, is a server's (it listens
    on the port), named by the requests it read; the client's a client's.
    The client gets its 3 requests, the server the 2 it read under the trace
    (not the one it was already waiting for), all on connections older than
    the trace, their ends each other's."""
    by_role, _ = predating_both_ends(env, "predates_both_ends", [])
    got = {r: [e["name"].split("/", 3)[-1] for e in v] for r, v in by_role.items()}
    want = {"client": ["hello", "delay/20", "hello"], "server": ["delay/20", "hello"]}
    expect(got == want, "entries by role %r, want %r" % (got, want))
    for role, es in by_role.items():
        for i, e in enumerate(es):
            x = e["tlstrace"]
            expect(x["connectionObserved"] is False and e["responseStatus"] == 200 and
                   "failedPhase" not in x, "%s entry %d: %r" % (role, i, x))
        wait = es[-2]["responseStart"] - es[-2]["requestStart"]
        expect(20 <= wait < 500, "%s: the delayed request answered in %.3f ms" % (role, wait))
    c, s = by_role["client"][0]["tlstrace"], by_role["server"][0]["tlstrace"]
    expect(c["localAddress"] and c["localAddress"] == s["remoteAddress"] and
           c["remoteAddress"] == s["localAddress"],
           "client %r -> %r, server %r <- %r" % (c["localAddress"], c["remoteAddress"],
                                                 s["localAddress"], s["remoteAddress"]))


def test_timing_only_server(env):
    """server.py traced with --timing-only: two requests on one keep-alive
    connection (the second delayed 20 ms by the server) and a POST on a
    second: three server entries in order, none for the clients' closing
    alerts, the delay inside the second's requestStart..responseStart."""
    need("curl")
    srv = start_traced_server_py(env, "timing_server", opts=["--timing-only"])
    base = "https://localhost:%d" % srv.port
    _, got1 = curl_server(env, srv, server_fetches([base + "/hello", base + "/delay/20"]))
    _, got2 = curl_server(env, srv, ["-d", "small=body"] + server_fetches([base + "/hello"]),
                          "curl -d")
    stop_traced_server(env, srv)
    expect([s for s, _, _ in got1 + got2] == [200, 200, 200], "curl got %r" % (got1 + got2))
    entries = read_entries(srv.out_file)
    expect(len(entries) == 3, "%d entries, want 3: %r"
           % (len(entries), [(e["name"], e["tlstrace"].get("error")) for e in entries]))
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(x["role"] == "server" and x.get("timingOnly") and "failedPhase" not in x,
               "entry %d: %r" % (i, x))
        expect(e["name"] == base + "/", "entry %d: name %r, want %s/ (SNI, own port)"
               % (i, e["name"], base))
        seq = [e[k] for k in ("startTime", "requestStart", "responseStart", "responseEnd")]
        expect(all(a <= b for a, b in zip(seq, seq[1:])) and seq[-1] > 0,
               "entry %d: timings out of order %r" % (i, seq))
    ids = [e["tlstrace"]["connectionId"] for e in entries]
    expect(ids[0] == ids[1] != ids[2], "connections %r" % ids)
    wait = entries[1]["responseStart"] - entries[1]["requestStart"]
    expect(20 <= wait < 500, "the delayed request: %.3f ms from request to response" % wait)
    return "delayed request answered in %.1f ms" % wait


def test_timing_only_accuracy(env):
    """Our bracketing client (CLOCK_REALTIME around each call), 3 requests on
    one connection, traced with --timing-only: every timing field within
    TOL_MS of the call it stands for, as in the default mode; except a
    responseStart the entry itself lists as unknown (TLS 1.3 tickets)."""
    expect(env.bracket, "cannot build bracket_client: %s" % env.bracket_error)
    return timing_only_accuracy(env, "timing_only_accuracy", env.bracket)


def timing_only_accuracy(env, test, client):
    """test_timing_only_accuracy with client, a bracketing client as
    bracket_client.c (HOST PORT PATH NREQ; its brackets as JSON on stdout)."""
    env.require_server()
    nreq = 3
    rc, out, err, path = env.trace(test, [client, "127.0.0.1", str(env.port), "/delay/20",
                                          str(nreq)], timeout=30, opts=["--timing-only"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    try:
        br = json.loads(out)
    except ValueError:
        raise Failure("bracket_client printed %r%s" % (out[:80], stderr_hint(err)))
    entries = read_entries(path)
    expect(len(entries) == nreq, "%d entries, want %d" % (len(entries), nreq))
    checks = [(0, "connectStart", br["connect"], 0),
              (0, "secureConnectionStart", br["handshake"], 0),
              (0, "connectEnd", br["handshake"], 1)]
    for i in range(nreq):
        checks += [(i, "requestStart", br["requests"][i]["write"], 0),
                   (i, "responseStart", br["requests"][i]["firstRead"], 1),
                   (i, "responseEnd", br["requests"][i]["lastRead"], 1)]
    worst, skipped = 0.0, 0
    for i, field, bracket, side in checks:
        e = entries[i]
        if field in e["tlstrace"].get("unknown", []):
            skipped += 1
            continue
        dev, _ = bracket_deviation(e["tlstrace"]["timeOrigin"] + e[field], bracket, side)
        expect(dev <= TOL_MS, "request %d %s is %.3f ms from its bracket" % (i + 1, field, dev))
        worst = max(worst, dev)
    expect(skipped <= 1, "%d fields skipped as unknown" % skipped)
    for i in range(1, nreq):
        ttfb = entries[i]["responseStart"] - entries[i]["requestStart"]
        expect(ttfb >= 20, "request %d: TTFB %.3f ms under the server's 20 ms" % (i + 1, ttfb))
    return "worst deviation %.3f ms, tolerance %.1f ms" % (worst, TOL_MS)


def test_timing_only_curl(env):
    """curl, two requests on one connection: two entries with every timing
    field in order, the second reused; the second request's TTFB covers the
    server's 20 ms delay; only handshake probes fire (at most 4 hits)."""
    need("curl")
    env.require_server()
    out = env.path("timing_only.jsonl")
    urls = [env.url("/hello"), env.url("/delay/20")]
    rc, _, err = env.procs.run([env.tlstrace, "--timing-only", "--stats", "-f", "json", "-o",
                                out, "--", "curl", "-sk", "-o", "/dev/null", "-o", "/dev/null"]
                               + urls, 60, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    h = hits(err)
    expect(h.get("total", 99) <= 4, "%s uprobe hits, want at most 4: %r" % (h.get("total"), h))
    for k in ("read_enter", "read_exit", "write_enter", "write_exit", "set_fd", "free",
              "getaddrinfo_enter"):
        expect(h.get(k, 0) == 0, "hits.%s=%d in --timing-only" % (k, h.get(k, 0)))
    entries = read_entries(out)
    expect(len(entries) == 2, "%d entries, want 2" % len(entries))
    first, second = entries
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(x.get("timingOnly") is True, "entry %d: timingOnly %r" % (i, x.get("timingOnly")))
        expect({"responseStatus", "firstInterimResponseStart"} <= set(x.get("unknown", [])),
               "entry %d: unknown %r" % (i, x.get("unknown")))
        expect(e["name"] == "https://localhost:%d/" % env.port, "entry %d: name %r"
               % (i, e["name"]))
        seq = [e[k] for k in ("startTime", "connectStart", "secureConnectionStart",
                              "connectEnd", "requestStart", "responseStart", "responseEnd")]
        expect(all(a <= b for a, b in zip(seq, seq[1:])) and seq[-1] > 0,
               "entry %d: timings out of order %r" % (i, seq))
    expect(not first["tlstrace"]["reused"] and second["tlstrace"]["reused"],
           "reused: %r, %r" % (first["tlstrace"]["reused"], second["tlstrace"]["reused"]))
    expect(first["secureConnectionStart"] > first["connectStart"] and
           first["connectEnd"] > first["secureConnectionStart"],
           "first entry has no handshake: %r" % first)
    ttfb = second["responseStart"] - second["requestStart"]
    expect(20 <= ttfb < 200, "second request's TTFB %.3f ms, want the 20 ms delay" % ttfb)
    expect(first["tlstrace"]["connectionId"] == second["tlstrace"]["connectionId"],
           "two connections")
    return "hits %d, reused TTFB %.1f ms" % (h.get("total", 0), ttfb)
