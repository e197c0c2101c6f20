# SPDX-License-Identifier: MIT
"""Sessions whose TLS library never touches the socket (memory BIOs: Python's
asyncio, Node.js), bound to their sockets by the ciphertext they produce:
asyncio clients and servers in the default mode, Node.js in both modes under
load; with --timing-only, asyncio's handshakes followed from their records."""

import sys

from harness import (NODE_FETCH, TOL_MS, Failure, check_new_connection, check_reused,
                     curl_server, describe_exit, expect, expect_count, need, read_entries,
                     server_certs, server_fetches, start_traced_server, stderr_hint,
                     stop_traced_server)

# asyncio's own TLS (ssl.SSLObject over memory BIOs, as aiohttp and httpx
# use it): two GETs on one connection, one on a second.
AIO_CLIENT = r"""
import asyncio, ssl, sys, time
port, paths = int(sys.argv[1]), sys.argv[2:]
async def get(r, w, path):
    w.write(("GET %s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % (path, port)).encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    body = await r.readexactly(n)
    print(path, head.split(b" ")[1].decode(), len(body), flush=True)
async def connection(ctx, paths):
    r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    for p in paths:
        await get(r, w, p)
    w.close()
    await w.wait_closed()
# asyncio's own handshake: its first do_handshake() call and the return of
# the one that completed it, CLOCK_REALTIME in ms, to stderr
class Timed(ssl.SSLObject):
    def do_handshake(self):
        if not hasattr(self, "t0"):
            self.t0 = time.time() * 1e3
        super().do_handshake()
        print("handshake %.3f %.3f" % (self.t0, time.time() * 1e3), file=sys.stderr, flush=True)
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.sslobject_class = Timed
    await connection(ctx, paths[:2])
    await connection(ctx, paths[2:])
asyncio.run(main())
"""

AIO_REQUESTS = [("/hello", 200, 6), ("/size/2000", 200, 2000), ("/hello", 200, 6)]


def asyncio_client(env, test, opts):
    """Run AIO_CLIENT under tlstrace OPTS; its 3 entries, in the order asked,
    and its two handshakes' [first call, completion] in CLOCK_REALTIME ms."""
    env.require_server()
    cmd = [sys.executable, "-c", AIO_CLIENT, str(env.port)] + [p for p, _, _ in AIO_REQUESTS]
    rc, out, err, path = env.trace(test, cmd, timeout=60, opts=opts)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    want = "".join("%s %d %d\n" % r for r in AIO_REQUESTS)
    expect(out == want, "the client printed %r, want %r" % (out[:200], want))
    handshakes = [tuple(float(x) for x in line.split()[1:3])
                  for line in err.splitlines() if line.startswith("handshake ")]
    expect(len(handshakes) == 2, "the client timed %d handshakes, want 2" % len(handshakes))
    entries = read_entries(path)
    expect_count(entries, 3)
    entries.sort(key=lambda e: e["requestStart"])
    return entries, handshakes


def check_connections(env, entries, library="openssl"):
    """Two requests on a first connection, one on a second: each connection's
    first entry new (connect, handshake, address and SNI), the other reused."""
    first, second, third = entries
    check_new_connection(first, 0, env.port, library)
    check_reused(second, 1, first)
    check_new_connection(third, 2, env.port, library)
    expect(third["tlstrace"]["connectionId"] != first["tlstrace"]["connectionId"],
           "entry 2: on the first entry's connection")
    for i, e in enumerate(entries):
        expect(e["tlstrace"]["connectionObserved"] is True, "entry %d: not bound" % i)


def test_asyncio_client(env):
    """Python asyncio over ssl (memory BIOs), default mode: each connection's
    first request new, with connect, handshake, address and SNI; the second
    request on the first connection reused; URLs and statuses as fetched;
    the TLS version and cipher from the ServerHello its program read."""
    entries, _ = asyncio_client(env, "asyncio_client", [])
    for i, (e, (p, status, size)) in enumerate(zip(entries, AIO_REQUESTS)):
        expect(e["name"] == env.url(p), "entry %d: name %r, want %r" % (i, e["name"], env.url(p)))
        expect(e["responseStatus"] == status and e["encodedBodySize"] == size,
               "entry %d: status %r, size %r" % (i, e["responseStatus"], e["encodedBodySize"]))
    check_connections(env, entries)
    for i, e in enumerate(entries):
        tls = e["tlstrace"]["tls"]
        expect(tls.get("version") == "TLSv1.3" and tls.get("cipher"),
               "entry %d: the ServerHello its program read was not seen: %r" % (i, tls))


# the most an instant on the socket may follow the program's own call it
# stands for: the Python event loop moving the library's bytes to the socket
AIO_SOCKET_LAG_MS = 5.0


def test_asyncio_client_timing_only(env):
    """The same asyncio client with --timing-only, which probes no read or
    write: each connection's handshake is followed from its TLS records on
    the socket (no probed call drove it). Each connection's first entry new,
    with connect, handshake, address and SNI (library "wire"); the TLS
    version and cipher from the ServerHello on the wire; secureConnectionStart
    (the ClientHello's write) within the program's first do_handshake() call
    and its completion, connectEnd (its Finished's write) after that
    completion, by at most AIO_SOCKET_LAG_MS."""
    entries, handshakes = asyncio_client(env, "asyncio_client_timing_only", ["--timing-only"])
    check_connections(env, entries, "wire")
    worst = 0.0
    for i, (t0, t1) in zip((0, 2), handshakes):
        e = entries[i]
        x = e["tlstrace"]
        expect(x.get("timingOnly") is True, "entry %d: not timing-only" % i)
        tls = x["tls"]
        expect(tls.get("version") == "TLSv1.3" and tls.get("cipher"),
               "entry %d: no ServerHello from the wire: %r" % (i, tls))
        start = x["timeOrigin"] + e["secureConnectionStart"]
        end = x["timeOrigin"] + e["connectEnd"]
        expect(t0 - TOL_MS <= start <= t1 + TOL_MS,
               "entry %d: secureConnectionStart %.3f ms off the program's handshake [%.3f, %.3f]"
               % (i, start - t0, 0, t1 - t0))
        lag = end - t1
        expect(-TOL_MS <= lag <= AIO_SOCKET_LAG_MS,
               "entry %d: connectEnd %.3f ms after the program's handshake ended" % (i, lag))
        worst = max(worst, abs(lag), start - t0)
    return "worst %.3f ms from the program's own handshake" % worst


# asyncio's own TLS server (ssl.SSLObject over memory BIOs): keep-alive
# HTTP/1.1, each response after 20 ms, the port written to argv[3] once it
# listens
AIO_SERVER = r"""
import asyncio, ssl, sys
cert, key, ready = sys.argv[1:4]
async def handle(r, w):
    while True:
        try:
            await r.readuntil(b"\r\n\r\n")
        except Exception:
            break
        await asyncio.sleep(0.02)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await w.drain()
    w.close()
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    with open(ready + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    os.rename(ready + ".tmp", ready)
    await asyncio.Event().wait()
import os
asyncio.run(main())
"""


def asyncio_server(env, test, opts):
    """AIO_SERVER under tlstrace OPTS, fetched by curl twice on one connection
    and once on another: its entries, in order, and its port."""
    cert, key = server_certs(env)
    ready = env.path(test + ".port")
    srv = start_traced_server(env, test, [sys.executable, "-c", AIO_SERVER, cert, key, ready],
                              ready_file=ready, what="asyncio server", opts=opts)
    base = "https://localhost:%d" % srv.port
    _, got1 = curl_server(env, srv, server_fetches([base + "/a", base + "/b"]))
    _, got2 = curl_server(env, srv, server_fetches([base + "/c"]))
    stop_traced_server(env, srv)
    expect([s for s, _, _ in got1 + got2] == [200, 200, 200], "curl got %r" % (got1 + got2))
    entries = read_entries(srv.out_file)
    expect_count(entries, 3)
    entries.sort(key=lambda e: e["requestStart"])
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(x["role"] == "server" and "failedPhase" not in x, "entry %d: %r" % (i, x))
        expect(x["tls"]["serverName"] == "localhost",
               "entry %d: serverName %r, want the SNI curl sent" % (i, x["tls"]["serverName"]))
        wait = e["responseStart"] - e["requestStart"]
        if "responseStart" not in x.get("unknown", []):
            expect(20 <= wait < 500, "entry %d: %.3f ms from request to response, want the "
                   "server's 20 ms" % (i, wait))
    first, second, third = entries
    for i, e in ((0, first), (2, third)):
        expect(not e["tlstrace"]["reused"] and e["connectStart"] > 0 and
               e["connectStart"] <= e["secureConnectionStart"] < e["connectEnd"] <=
               e["requestStart"], "entry %d: no whole connection: %r" % (i, e))
    expect(second["tlstrace"]["reused"] and
           second["tlstrace"]["connectionId"] == first["tlstrace"]["connectionId"] !=
           third["tlstrace"]["connectionId"], "connections: %r" %
           [(e["tlstrace"]["connectionId"], e["tlstrace"]["reused"]) for e in entries])
    return entries, srv.port


def test_asyncio_server(env):
    """An asyncio HTTPS server (memory BIOs), default mode: three requests
    on two connections, each connection's first with its accept and
    handshake, the SNI the client sent (read by the program itself, before
    its session was bound), URLs as asked."""
    entries, port = asyncio_server(env, "asyncio_server", [])
    names = [e["name"] for e in entries]
    want = ["https://localhost:%d/%s" % (port, p) for p in "abc"]
    expect(names == want, "names %r, want %r" % (names, want))


def test_asyncio_server_timing_only(env):
    """The same with --timing-only: the server's handshakes followed from
    their records (it read the ClientHello outside any TLS call), three
    exchanges on two connections with accept, handshake and SNI, library
    "wire"."""
    entries, port = asyncio_server(env, "asyncio_server_timing_only", ["--timing-only"])
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(x.get("timingOnly") is True and x["tls"]["library"] == "wire",
               "entry %d: %r" % (i, x))
        expect(x["tls"].get("version") == "TLSv1.3", "entry %d: no ServerHello: %r" % (i, x))


NODE_RUNS = 10


def busy_loops(env, n=2):
    """n processes spinning on a CPU each, for a loaded machine."""
    return [env.procs.spawn([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def test_node_fetch_loaded(env):
    """Node.js fetch() run NODE_RUNS times while both CPUs are kept busy,
    alternately in the default mode and --timing-only: every run gives one
    complete entry, its session bound to its socket by its ciphertext
    (connect, handshake, remoteAddress)."""
    need("node")
    env.require_server()
    url = env.url("/hello")
    loops = busy_loops(env)
    bad = []
    try:
        for run in range(NODE_RUNS):
            opts = ["--timing-only"] if run % 2 else []
            rc, out, err, path = env.trace("node_fetch_loaded_%d" % run,
                                           ["node", "-e", NODE_FETCH, url], timeout=120,
                                           opts=opts)
            expect(rc == 0, "run %d: tlstrace %s%s" % (run, describe_exit(rc), stderr_hint(err)))
            entries = read_entries(path)
            try:
                expect_count(entries, 1)
                check_new_connection(entries[0], 0, env.port)
            except Failure as f:
                bad.append("run %d%s: %s" % (run, " (timing-only)" if opts else "", f))
    finally:
        for p in loops:
            env.procs.stop(p)
    expect(not bad, "%d of %d runs incomplete: %s" % (len(bad), NODE_RUNS, "; ".join(bad)))
    return "%d of %d runs complete under load" % (NODE_RUNS, NODE_RUNS)
