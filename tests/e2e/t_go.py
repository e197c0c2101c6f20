# SPDX-License-Identifier: MIT
"""Go's crypto/tls: programs built by the test with Debian's Go (1.19) and
bookworm-backports' (1.23), plain and stripped; a bracketing Go client
judged against its own clock; net/http clients and servers over HTTP/1.1
and HTTP/2; --timing-only; a stress run; and Debian's own stripped
Prometheus scraping an HTTPS target."""

import json
import os
import signal
import subprocess
import time

from gobuild import go_build
from harness import (EPS_MS, TEST_NAME, TOL_MS, check_order, check_shape, describe_exit, expect, expect_no_failure,
                     free_port, need, read_entries, server_certs, start_traced_server, stderr_hint,
                     stop_traced_server)
from t_clients import accuracy
from t_timing import predating_both_ends, timing_only_accuracy


def test_go_accuracy(env):
    """A Go client of our own (crypto/tls directly, Debian's Go 1.19) that
    brackets each call with its own clock: the lookup (Go's own resolver,
    from a private /etc/hosts), connect, handshake, and three requests on
    one connection, each field within 0.3 ms of the call it stands for."""
    return accuracy(env, "go_accuracy", TEST_NAME, go_build(env, "bracket"), "go")


def test_go_accuracy_stripped_123(env):
    """As go_accuracy, built by Go 1.23 and stripped (-s -w): no symbols,
    only Go's function table."""
    return accuracy(env, "go_accuracy_stripped_123", TEST_NAME,
                    go_build(env, "bracket", "1.23", strip=True), "go")


def test_go_accuracy_timing_only(env):
    """The bracketing Go client under --timing-only: the handshake probed,
    the exchanges timed from the socket, each within 0.3 ms."""
    return timing_only_accuracy(env, "go_accuracy_timing_only", go_build(env, "bracket"))


def start_go_server(env, test, version="1.19", strip=False, h1=False):
    """goserver.go, untraced: (its process, its port)."""
    cert, key = server_certs(env)
    ready = env.path(test + ".goserver.port")
    if os.path.exists(ready):
        os.unlink(ready)
    cmd = [go_build(env, "goserver", version, strip), "-cert", cert, "-key", key,
           "-ready-file", ready] + (["-http1"] if h1 else [])
    with open(env.path(test + ".goserver.stderr"), "wb") as err:
        p = env.procs.spawn(cmd, stdout=err, stderr=err)
    deadline = time.monotonic() + 30
    while not os.path.exists(ready):
        expect(p.poll() is None, "goserver %s" % describe_exit(p.returncode))
        expect(time.monotonic() < deadline, "goserver did not listen within 30 s")
        time.sleep(0.05)
    with open(ready) as f:
        return p, int(f.read())


# (path, status, body bytes) fetched by the client tests: new and reused
# connections, a delay, a large body, a 404
FETCHES = [("/hello", 200, 6), ("/delay/30", 200, 8), ("/size/300000", 200, 300000),
           ("/nope", 404, 10), ("/hello", 200, 6)]


def client_fetches(env, test, client_args, port, proto, opts=()):
    """goclient (Go 1.19, stripped) fetching FETCHES from 127.0.0.1:port under
    tlstrace with client_args: one entry for each, as goclient saw it."""
    urls = ["https://localhost:%d%s" % (port, p) for p, _, _ in FETCHES]
    cmd = [go_build(env, "goclient", strip=True), "-insecure"] + client_args + urls
    rc, out, err, path = env.trace(test, cmd, timeout=60, opts=list(opts))
    expect(rc == 0, "tlstrace %s (goclient's status)%s" % (describe_exit(rc), stderr_hint(err)))
    seen = sorted(tuple(l.split()[:3]) for l in out.splitlines())
    want = sorted((u, str(st), str(n)) for u, (_, st, n) in zip(urls, FETCHES))
    expect(seen == want, "goclient fetched %r" % seen)
    entries = read_entries(path)
    got = sorted((e["name"], e["responseStatus"], e["encodedBodySize"]) for e in entries)
    want = sorted((u, st, n) for u, (_, st, n) in zip(urls, FETCHES))
    expect(got == want, "entries %r, want %r" % (got, want))
    for i, e in enumerate(entries):
        check_shape(e, i)
        expect_no_failure(e, i)
        expect(e["nextHopProtocol"] == proto, "entry %d: nextHopProtocol %r, want %r"
               % (i, e["nextHopProtocol"], proto))
        expect(e["tlstrace"]["tls"]["library"] == "go", "entry %d: tls.library %r"
               % (i, e["tlstrace"]["tls"]["library"]))
        expect(e["tlstrace"]["remoteAddress"] == "127.0.0.1:%d" % port,
               "entry %d: remoteAddress %r" % (i, e["tlstrace"]["remoteAddress"]))
    return entries


def test_go_client_h2(env):
    """net/http over HTTP/2 to a Go server, four fetches at once (Go dials a
    connection for each before it knows h2 is spoken, and keeps one): an
    entry per fetch, with its status and size, on the connection it used;
    the connections Go dialed and dropped make none."""
    srv, port = start_go_server(env, "go_client_h2")
    try:
        entries = client_fetches(env, "go_client_h2", ["-parallel", "4"], port, "h2")
    finally:
        env.procs.stop(srv)
    new = [e for e in entries if not e["tlstrace"]["reused"]]
    expect(len(new) >= 1, "no entry on a new connection")
    for e in new:
        expect(e["secureConnectionStart"] > e["connectStart"] > 0, "new connection untimed: %r"
               % {k: e[k] for k in ("connectStart", "secureConnectionStart", "connectEnd")})
        expect(e["tlstrace"]["tls"]["alpn"] == "h2", "alpn %r" % e["tlstrace"]["tls"]["alpn"])
    return "%d entries, %d on new connections" % (len(entries), len(new))


def test_go_client_h1(env):
    """net/http over HTTP/1.1 (no h2 offered) to a Go server, one fetch at a
    time on a kept-alive connection: the delayed fetch's wait is its TTFB."""
    srv, port = start_go_server(env, "go_client_h1", h1=True)
    try:
        entries = client_fetches(env, "go_client_h1", ["-http1"], port, "http/1.1")
    finally:
        env.procs.stop(srv)
    reused = [e["tlstrace"]["reused"] for e in entries]
    expect(reused == [False, True, True, True, True], "reused %r" % reused)
    delayed = [e for e in entries if e["name"].endswith("/delay/30")][0]
    ttfb = delayed["responseStart"] - delayed["requestStart"]
    expect(30 <= ttfb < 1000, "the 30 ms delay's TTFB is %.3f ms" % ttfb)
    for i, e in enumerate(entries):
        check_order(e, i)
    return "TTFB of /delay/30: %.3f ms" % ttfb


def test_go_server(env):
    """goserver (Go 1.23, stripped) traced: curl over HTTP/2 (two requests on
    one connection) and HTTP/1.1, then a Go client dialing four connections
    at once of which it keeps one: a server entry for each request, none
    for the connections that carried none."""
    need("curl")
    cert, key = server_certs(env)
    test = "go_server"
    ready = env.path(test + ".port")
    srv = start_traced_server(env, test, [go_build(env, "goserver", "1.23", strip=True),
                                          "-cert", cert, "-key", key, "-ready-file", ready],
                              ready_file=ready, what="goserver")
    try:
        base = "https://localhost:%d" % srv.port
        rc, out, err = env.procs.run(["curl", "-sk", "--http2", base + "/hello", base + "/delay/20",
                                      "-o", "/dev/null", "-o", "/dev/null",
                                      "-w", "%{http_version} %{http_code}\n"], 30, "curl")
        expect(rc == 0 and out.split() == ["2", "200", "2", "200"], "curl h2: %r" % out)
        rc, out, err = env.procs.run(["curl", "-sk", "--http1.1", base + "/size/100000",
                                      "-o", "/dev/null", "-w", "%{http_code}"], 30, "curl")
        expect(rc == 0 and out == "200", "curl http/1.1: %r" % out)
        client = go_build(env, "goclient", strip=True)
        rc, out, err = env.procs.run([client, "-insecure", "-parallel", "4"]
                                     + [base + p for p, _, _ in FETCHES], 30, "goclient")
        expect(rc == 0, "goclient exited %d%s" % (rc, stderr_hint(err)))
    finally:
        stop_traced_server(env, srv)
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    got = sorted((e["name"].replace(base, ""), e["responseStatus"], e["nextHopProtocol"])
                 for e in entries)
    want = sorted([("/hello", 200, "h2"), ("/delay/20", 200, "h2"), ("/size/100000", 200, "http/1.1")]
                  + [(p, st, "h2") for p, st, _ in FETCHES])
    expect(got == want, "server entries %r, want %r" % (got, want))
    for i, e in enumerate(entries):
        check_shape(e, i, role="server")
        expect_no_failure(e, i)
        expect(e["tlstrace"]["tls"]["library"] == "go", "entry %d: library %r"
               % (i, e["tlstrace"]["tls"]["library"]))
    return "%d server entries" % len(entries)


def test_go_stress(env):
    """10,000 HTTP/2 fetches by 8 goroutines at once, each fetch made from
    deep down a goroutine whose stack grows (and so moves) under it, reading
    its body into a buffer on that stack, with the garbage collector running
    all along (GOGC 10): the same results traced as not, and an entry for
    every fetch with the size Go read."""
    srv, port = start_go_server(env, "go_stress", "1.23")
    base = "https://localhost:%d" % port
    paths = [("/hello", 200, 6), ("/size/20000", 200, 20000), ("/nope", 404, 10),
             ("/size/1000", 200, 1000), ("/delay/1", 200, 8)]
    repeat = 2000
    cmd = [go_build(env, "goclient"), "-insecure", "-quiet", "-stress", "-parallel", "8",
           "-repeat", str(repeat)] + [base + p for p, _, _ in paths]
    try:
        t0 = time.monotonic()
        rc, plain, err = env.procs.run(cmd, 120, "goclient")
        t1 = time.monotonic()
        expect(rc == 0, "goclient untraced exited %d%s" % (rc, stderr_hint(err)))
        rc, out, err, path = env.trace("go_stress", cmd, timeout=300)
        t2 = time.monotonic()
    finally:
        env.procs.stop(srv)
    expect(rc == 0, "tlstrace %s (goclient's status)%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out == plain == "%d done, 0 failed\n" % (repeat * len(paths)),
           "goclient printed %r traced, %r untraced" % (out, plain))
    entries = read_entries(path)
    counts = {}
    for i, e in enumerate(entries):
        expect_no_failure(e, i)
        key = (e["name"].replace(base, ""), e["responseStatus"], e["encodedBodySize"])
        counts[key] = counts.get(key, 0) + 1
    want = {p: repeat for p in paths}
    expect(counts == want, "entries by (path, status, size): %r" % counts)
    return "%d entries; %.1f s traced (with tlstrace's start and end), %.1f s untraced" % (
        len(entries), t2 - t1, t1 - t0)


def test_go_prometheus(env):
    """Debian's own Prometheus (Go 1.19, stripped), traced by name (-c) from
    before it starts: it scrapes a Go server's /metrics over HTTPS every
    200 ms, and serves its own web UI over TLS (a web config), which curl
    asks for. Client entries for its scrapes, a server entry for curl's
    request, both through Go's crypto/tls."""
    need("prometheus")
    need("curl")
    cert, key = server_certs(env)
    srv, target = start_go_server(env, "go_prometheus")
    web_port = free_port()
    conf, web = env.path("prometheus.yml"), env.path("prometheus-web.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\n"
                "scrape_configs:\n  - job_name: tlstrace\n    scheme: https\n"
                "    tls_config:\n      insecure_skip_verify: true\n"
                "    static_configs:\n      - targets: ['localhost:%d']\n" % target)
    with open(web, "w") as f:
        f.write("tls_server_config:\n  cert_file: %s\n  key_file: %s\n" % (cert, key))
    tracer = env.start_tlstrace("go_prometheus", ["-c", "prometheus"])
    prom = None
    try:
        with open(env.path("go_prometheus.prometheus.log"), "wb") as log:
            prom = env.procs.spawn(["prometheus", "--config.file", conf, "--web.config.file", web,
                                    "--web.listen-address", "127.0.0.1:%d" % web_port,
                                    "--storage.tsdb.path", env.path("prometheus-data")],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline, out = time.monotonic() + 30, ""
        while time.monotonic() < deadline and out != "200":
            expect(prom.poll() is None, "prometheus %s" % describe_exit(prom.returncode))
            time.sleep(0.3)
            rc, out, _ = env.procs.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                        "https://localhost:%d/-/ready" % web_port], 10, "curl")
        expect(out == "200", "prometheus's web UI over TLS never answered 200 (last %r)" % out)
        # its discovery hands the target to the scraper some 5 s after the start
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and health != "up":
            time.sleep(0.5)
            rc, out, _ = env.procs.run(["curl", "-sk", "https://localhost:%d/api/v1/targets"
                                        % web_port], 10, "curl")
            try:
                health = json.loads(out)["data"]["activeTargets"][0]["health"]
            except (ValueError, KeyError, IndexError, TypeError):
                health = None
        expect(health == "up", "prometheus never scraped its target (health %r)" % health)
        time.sleep(1.5)  # several scrapes
    finally:
        stopped_ms = time.time() * 1000
        if prom:
            env.procs.stop(prom)
        env.procs.stop(srv)
        tracer.send_signal(signal.SIGINT)
        env.procs.wait(tracer, 15, "tlstrace after SIGINT")
    entries = [e for e in read_entries(tracer.out_file, env.err_hint(tracer))
               if e["tlstrace"]["pid"] == prom.pid]
    # (a scrape under way as Prometheus stops is cancelled by it: HTTP/2 CANCEL)
    scrapes = [e for e in entries if e["name"] == "https://localhost:%d/metrics" % target
               and e["tlstrace"]["timeOrigin"] + e["startTime"] < stopped_ms - 250]
    ui = [e for e in entries if e["name"] in ("https://localhost:%d/-/ready" % web_port,
                                              "https://localhost:%d/api/v1/targets" % web_port)
          and e["responseStatus"] == 200]
    expect(len(scrapes) >= 3, "%d scrape entries of %d entries: %r"
           % (len(scrapes), len(entries), sorted({e["name"] for e in entries})))
    expect(ui, "no server entry for curl's /-/ready among %r" % sorted({e["name"] for e in entries}))
    for i, e in enumerate(scrapes):
        check_shape(e, i)
        expect_no_failure(e, i)
        expect(e["responseStatus"] == 200 and e["encodedBodySize"] == 19,
               "scrape %d: status %r, %r bytes" % (i, e["responseStatus"], e["encodedBodySize"]))
        expect(e["tlstrace"]["tls"]["library"] == "go", "scrape %d: library %r"
               % (i, e["tlstrace"]["tls"]["library"]))
    check_shape(ui[0], 0, role="server")
    expect(ui[0]["tlstrace"]["tls"]["library"] == "go", "UI entry: library %r"
           % ui[0]["tlstrace"]["tls"]["library"])
    new = [e for e in scrapes if not e["tlstrace"]["reused"]]
    return "%d scrapes (%d on a new connection), %d UI requests over TLS" % (
        len(scrapes), len(new), len(ui))


def test_go_predates_trace(env):
    """A Go server (Go 1.23) and a Python client with a keep-alive
    connection between them, its first round made before `tlstrace -p
    CLIENT -p SERVER` starts: the Go server's end is adopted at the first
    syscall of a crypto/tls call on it (its handshake was never seen), as a
    server's; it gets an entry for each request it read under the trace
    (not the one it was already waiting for, whose Read began before), the
    client one for each of its three."""
    def goserver(env, ready):
        cert, key = server_certs(env)
        return [go_build(env, "goserver", "1.23"), "-cert", cert, "-key", key,
                "-ready-file", ready, "-http1"]
    by_role, _ = predating_both_ends(env, "go_predates", [], goserver)
    got = {r: [e["name"].split("/", 3)[-1] for e in v] for r, v in by_role.items()}
    want = {"client": ["hello", "delay/20", "hello"], "server": ["delay/20", "hello"]}
    expect(got == want, "entries by role %r, want %r" % (got, want))
    for i, e in enumerate(by_role["server"]):
        x = e["tlstrace"]
        expect(x["connectionObserved"] is False and e["responseStatus"] == 200 and
               "failedPhase" not in x and x["tls"]["library"] == "go",
               "server entry %d: %r" % (i, x))
    wait = by_role["server"][0]["responseStart"] - by_role["server"][0]["requestStart"]
    expect(20 <= wait < 500, "the delayed request answered in %.3f ms" % wait)
    return "the server's delayed request: %.3f ms" % wait


def test_go_host_wide(env):
    """tlstrace with no filter (the host): a Go server already running when
    it starts is found by the start-up scan, a Go client started while it
    traces at its exec; both get their entries (checked by their pids:
    anything else on the host is traced too). The client waits 0.5 s before
    its first fetch: a program started while tracing host-wide is attached
    at its exec without being held (docs/semantics.md, Not yet done)."""
    srv, port = start_go_server(env, "go_host_wide", "1.23", strip=True)
    tracer = env.start_tlstrace("go_host_wide", [])
    try:
        client = go_build(env, "goclient")
        urls = ["https://localhost:%d%s" % (port, p) for p in ("/hello", "/size/1000")]
        p = env.procs.spawn([client, "-insecure", "-sleep", "500"] + urls,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=60)
        expect(p.returncode == 0, "goclient exited %d%s"
               % (p.returncode, stderr_hint(err.decode(errors="replace"))))
        time.sleep(0.5)
    finally:
        tracer.send_signal(signal.SIGINT)
        env.procs.wait(tracer, 30, "tlstrace after SIGINT")
        env.procs.stop(srv)
    entries = read_entries(tracer.out_file, env.err_hint(tracer))
    by_pid = {pid: sorted((e["name"], e["responseStatus"], e["tlstrace"]["role"])
                          for e in entries if e["tlstrace"]["pid"] == pid)
              for pid in (p.pid, srv.pid)}
    want = sorted((u, 200, "client") for u in urls)
    expect(by_pid[p.pid] == want, "the client's entries %r, want %r" % (by_pid[p.pid], want))
    want = sorted((u, 200, "server") for u in urls)
    expect(by_pid[srv.pid] == want, "the server's entries %r, want %r" % (by_pid[srv.pid], want))
    return "client and server entries, by pid"


def test_go_implicit_handshake(env):
    """The bracketing Go client without a Handshake call: its first Write
    drives the handshake (clientHandshake inside Write). The connection is
    new, not reused: secureConnectionStart is the handshake's start inside
    that Write (within 0.3 ms of its entry), connectEnd its end, and the
    request is handed over from then on (requestStart = connectEnd), all
    inside the Write's bracket."""
    env.require_server()
    client = go_build(env, "bracket")
    rc, out, err, path = env.trace("go_implicit_handshake",
                                   [client, "127.0.0.1", str(env.port), "/delay/20", "2"],
                                   timeout=30, env=dict(os.environ, BRACKET_IMPLICIT="1"))
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    br = json.loads(out)
    entries = read_entries(path)
    expect(len(entries) == 2, "%d entries, want 2" % len(entries))
    e, write = entries[0], br["requests"][0]["write"]
    expect(e["tlstrace"]["reused"] is False, "the first entry is on a reused connection")
    at = {k: e["tlstrace"]["timeOrigin"] + e[k]
          for k in ("secureConnectionStart", "connectEnd", "requestStart")}
    expect(abs(at["secureConnectionStart"] - write[0]) <= TOL_MS,
           "secureConnectionStart %.3f ms from the Write's entry"
           % (at["secureConnectionStart"] - write[0]))
    expect(write[0] - TOL_MS <= at["secureConnectionStart"] < at["connectEnd"] <= write[1] + TOL_MS,
           "the handshake [%.3f, %.3f] not inside the Write [%.3f, %.3f]"
           % (at["secureConnectionStart"], at["connectEnd"], write[0], write[1]))
    expect(abs(at["requestStart"] - at["connectEnd"]) <= EPS_MS,
           "requestStart %.3f, connectEnd %.3f" % (at["requestStart"], at["connectEnd"]))
    check_order(e, 0)
    expect(entries[1]["tlstrace"]["reused"] is True, "the second entry is not on a reused one")
    return "handshake %.3f ms inside the Write's %.3f ms" % (
        at["connectEnd"] - at["secureConnectionStart"], write[1] - write[0])


def test_go_server_timing_only(env):
    """goserver (Go 1.19) traced with --timing-only, curl over HTTP/1.1: three
    connections one after another, then two requests on one. Go reads the
    client's Finished and the request after it in one read inside
    serverHandshake; the server's handshake is followed from its records,
    so that request is an exchange too: one entry per request, the 20 ms
    delay inside requestStart..responseStart of each."""
    need("curl")
    cert, key = server_certs(env)
    test = "go_server_timing_only"
    ready = env.path(test + ".port")
    srv = start_traced_server(env, test, [go_build(env, "goserver"), "-http1", "-cert", cert,
                                          "-key", key, "-ready-file", ready],
                              ready_file=ready, what="goserver", opts=["--timing-only"])
    try:
        url = "https://localhost:%d/delay/20" % srv.port
        for args in ([url], [url], [url], [url, url]):
            rc, out, err = env.procs.run(["curl", "-sk", "--http1.1", "-w", "%{http_code}\n"]
                                         + sum((["-o", "/dev/null", u] for u in args), []),
                                         30, "curl")
            expect(rc == 0 and out.split() == ["200"] * len(args), "curl: %r" % out)
            time.sleep(0.1)
    finally:
        stop_traced_server(env, srv)
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect(len(entries) == 5, "%d server entries, want 5" % len(entries))
    waits = []
    for i, e in enumerate(entries):
        check_shape(e, i, role="server")
        expect_no_failure(e, i)
        waits.append(e["responseStart"] - e["requestStart"])
        expect(20 <= waits[-1] < 1000, "entry %d: %.3f ms from request to response"
               % (i, waits[-1]))
    return "waits %s ms" % ", ".join("%.1f" % w for w in waits)
