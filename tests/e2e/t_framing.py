# SPDX-License-Identifier: MIT
"""How a response's end is found (HTTP/1.1 framing): chunked bodies,
Content-Encoding gzip, a 103 before the 200, no body for HEAD, 204 and 304,
a body delimited by the close; requests pipelined in one write (two, a
thousand), a response head of 100 KiB, and a 101 to WebSocket."""

import gzip
import os
import subprocess
import sys

from harness import (EPS_MS, Failure, Skip, check_new_connection, check_py_output,
                     check_response, check_responses, check_reused, check_shape, describe_exit,
                     expect, expect_count, expect_no_failure, need, read_entries, server_certs,
                     stderr_hint)
from server import CHUNK_GAP_S, EARLY_HINTS_MS, chunk_sizes


CURL_W = "%{http_code} %{size_download}\n"  # curl -w: what curl itself got


def curl_fetches(urls):
    """curl arguments fetching urls in order, bodies to /dev/null, -w CURL_W."""
    args = ["-w", CURL_W]
    for url in urls:
        args += ["-o", "/dev/null", url]
    return args


def check_curl_output(out, requests):
    want = ["%d %d" % (status, size) for _, status, size in requests]
    expect(out.splitlines() == want, "curl printed %r, want %r" % (out.splitlines(), want))


def check_one_connection(env, entries, requests):
    """requests [(path, status, body bytes)] were made in this order on one new
    connection: names, statuses and sizes; the first entry has the connection's
    timings, the others are reused; every response ended by its own framing,
    so before the next request was written."""
    check_responses(env, entries, requests, complete=True)
    check_new_connection(entries[0], 0, env.port)
    for i in range(1, len(entries)):
        check_reused(entries[i], i, entries[0])
        prev, e = entries[i - 1], entries[i]
        expect(prev["responseEnd"] <= e["requestStart"],
               "entry %d: responseEnd %.3f is after the next request's requestStart %.3f: "
               "the response did not end by its framing"
               % (i - 1, prev["responseEnd"], e["requestStart"]))


def test_framing_chunked(env):
    """Chunked bodies end at their last chunk, even one written in two parts;
    encodedBodySize does not count the chunk framing."""
    need("curl")
    env.require_server()
    requests = [("/chunked/5000", 200, 5000), ("/chunked-split/300", 200, 300)]
    cmd = ["curl", "-sk"] + curl_fetches([env.url(p) for p, _, _ in requests])
    rc, out, err, path = env.trace("framing_chunked", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    # The server sleeps CHUNK_GAP_S before each write after the head: the
    # entry cannot have ended at the head or at the first chunk.
    for i, (e, (p, _, size)) in enumerate(zip(entries, requests)):
        writes = len(chunk_sizes(size)) + (2 if "split" in p else 1)
        least = (writes - 1) * CHUNK_GAP_S * 1000
        took = e["responseEnd"] - e["responseStart"]
        expect(took >= least, "entry %d: responseEnd only %.3f ms after responseStart; the "
               "last chunk came at least %.0f ms after the head" % (i, took, least))


def test_framing_gzip(env):
    """Content-Encoding gzip: encodedBodySize is what came over the wire,
    decodedBodySize the size once decoded (curl itself does not decode it)."""
    need("curl")
    env.require_server()
    url, plain = env.url("/gzip/2000"), 2000
    body_file = env.path("framing_gzip.body")
    rc, out, err, path = env.trace("framing_gzip", ["curl", "-sk", "-o", body_file, url],
                                   timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    with open(body_file, "rb") as f:
        body = f.read()
    try:
        decoded = len(gzip.decompress(body))
    except (OSError, EOFError) as ex:
        raise Failure("the server's body is not gzip (%s): fix server.py" % ex)
    expect(decoded == plain, "the server's body decodes to %d bytes, want %d" % (decoded, plain))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0, content_encoded=True)
    check_response(e, 0, url, 200, len(body))
    expect_no_failure(e, 0)
    check_new_connection(e, 0, env.port)
    expect(e["decodedBodySize"] == plain, "decodedBodySize %r, want %d (encodedBodySize %r)"
           % (e["decodedBodySize"], plain, e["encodedBodySize"]))
    expect(not e["tlstrace"].get("decodedBodySizeUnknown"),
           "decodedBodySizeUnknown is set, though all %d bytes fit in one capture" % len(body))


def test_framing_early_hints(env):
    """A 103 before the 200: firstInterimResponseStart is the 103's read, which
    is also responseStart (the first response bytes); the entry is the 200's."""
    need("curl")
    env.require_server()
    url = env.url("/early-hints")
    rc, out, err, path = env.trace("framing_early_hints", ["curl", "-sk", url], timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.endswith("hinted\n"), "curl printed %r" % out[-60:])
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, url, 200, 7)
    expect_no_failure(e, 0)
    check_new_connection(e, 0, env.port)
    interim = e["firstInterimResponseStart"]
    expect(interim > 0, "firstInterimResponseStart is %r, want the 103's read" % interim)
    expect(e["requestStart"] <= interim <= e["responseStart"],
           "firstInterimResponseStart %.3f not within [requestStart %.3f, responseStart %.3f]"
           % (interim, e["requestStart"], e["responseStart"]))
    expect(abs(e["responseStart"] - interim) <= EPS_MS,
           "responseStart %.3f != firstInterimResponseStart %.3f: the 103 was the first "
           "response bytes read" % (e["responseStart"], interim))
    gap = e["responseEnd"] - interim
    expect(gap >= EARLY_HINTS_MS / 2,
           "responseEnd only %.3f ms after the 103; the 200 came %d ms after it"
           % (gap, EARLY_HINTS_MS))


def test_framing_head_204_304(env):
    """No body for HEAD (despite Content-Length: 6), 204 (no Content-Length)
    and 304 (Content-Length: 1000): each ends at its head."""
    need("curl")
    env.require_server()
    requests = [("/hello", 200, 0), ("/status/204?length=none", 204, 0),
                ("/status/304?length=1000", 304, 0)]
    urls = [env.url(p) for p, _, _ in requests]
    cmd = (["curl", "-sk", "-I"] + curl_fetches(urls[:1]) + ["--next", "-sk"]
           + curl_fetches(urls[1:]))
    rc, out, err, path = env.trace("framing_head_204_304", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    methods = [e["tlstrace"].get("method") for e in entries]
    expect(methods == ["HEAD", "GET", "GET"], "methods %r, want HEAD, GET, GET" % methods)


def test_framing_close_delimited(env):
    """No Content-Length, no chunking, Connection: close: the body ends at the
    close, and that is a complete response, not a failure."""
    need("curl")
    env.require_server()
    requests = [("/close-delimited/3000", 200, 3000)]
    url = env.url(requests[0][0])
    rc, out, err, path = env.trace("framing_close_delimited",
                                   ["curl", "-sk"] + curl_fetches([url]), timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    e = entries[0]
    expect(e["responseEnd"] >= e["responseStart"] > 0,
           "responseStart %r, responseEnd %r" % (e["responseStart"], e["responseEnd"]))


# Writes the GET requests for PATH... in one sendall on one TLS connection, then
# reads the responses, framed by Content-Length. Prints "PATH STATUS BODYLEN".
PY_PIPELINED = r"""
import socket, ssl, sys
port, paths = int(sys.argv[1]), sys.argv[2:]
ctx = ssl._create_unverified_context()
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % (p.encode(), port)
                   for p in paths))
buf = b""
def more():
    global buf
    data = s.recv(65536)
    if not data:
        sys.exit("connection closed with %d bytes unparsed" % len(buf))
    buf += data
for p in paths:
    while b"\r\n\r\n" not in buf:
        more()
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = [int(l.split(b":", 1)[1]) for l in lines[1:]
              if l.lower().startswith(b"content-length:")]
    if len(length) != 1:
        sys.exit("response to %s has no Content-Length" % p)
    while len(buf) < length[0]:
        more()
    print(p, int(lines[0].split()[1]), length[0], flush=True)
    buf = buf[length[0]:]
s.close()
"""


def test_pipelined(env):
    """Two requests in one write, before any response: two entries in order,
    the second reused, both requestStarts that one write."""
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/100", 200, 100)]
    cmd = [sys.executable, "-c", PY_PIPELINED, str(env.port)] + [p for p, _, _ in requests]
    rc, out, err, path = env.trace("pipelined", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_py_output(out, requests)
    entries = read_entries(path)
    check_responses(env, entries, requests, complete=True)
    first, second = entries
    check_new_connection(first, 0, env.port)
    check_reused(second, 1, first)
    expect(abs(second["requestStart"] - first["requestStart"]) <= EPS_MS,
           "requestStart %.3f != %.3f: both requests were in one write"
           % (second["requestStart"], first["requestStart"]))
    expect(first["responseEnd"] <= second["responseStart"],
           "entry 0: responseEnd %.3f after entry 1's responseStart %.3f"
           % (first["responseEnd"], second["responseStart"]))


def pipelined_many(env, test, n):
    """n GETs written at once on one connection by PY_PIPELINED: n entries, in
    order, each answered."""
    env.require_server()
    requests = [("/size/%d" % (i % 7), 200, i % 7) for i in range(n)]
    cmd = [sys.executable, "-c", PY_PIPELINED, str(env.port)] + [p for p, _, _ in requests]
    rc, out, err, path = env.trace(test, cmd, timeout=120)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_py_output(out, requests)
    entries = read_entries(path)
    check_responses(env, entries, requests, complete=True)
    for i, e in enumerate(entries):
        t = e["tlstrace"]
        expect(not t.get("incomplete"), "entry %d: incomplete: %r" % (i, t.get("incomplete")))
    check_new_connection(entries[0], 0, env.port)
    for i in range(1, n):
        check_reused(entries[i], i, entries[0])


def test_pipelined_300(env):
    """300 GETs in one write of under 16 KiB: 300 entries in order, though
    the requests are found past the first and the responses come in any
    number of reads."""
    pipelined_many(env, "pipelined_300", 300)


def test_pipelined_1000(env):
    """1000 GETs in one write (about 40 KB, one SSL_write): 1000 entries in
    order. The requests past the first 16 KiB of the call are seen only once
    the whole of a large call is captured."""
    pipelined_many(env, "pipelined_1000", 1000)


def test_big_response_head(env):
    """curl fetches a response whose head is 290 KiB of Set-Cookie fields
    (curl takes up to 300 KiB): status 200, not failed, not incomplete, its
    size; then a request after it on the connection, found past it."""
    need("curl")
    env.require_server()
    requests = [("/set-cookie/296960", 200, 6), ("/hello", 200, 6)]
    cmd = ["curl", "-sk"] + curl_fetches([env.url(p) for p, _, _ in requests])
    rc, out, err, path = env.trace("big_response_head", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_curl_output(out, requests)
    entries = read_entries(path)
    check_one_connection(env, entries, requests)
    for i, e in enumerate(entries):
        t = e["tlstrace"]
        expect(not t.get("incomplete"), "entry %d: incomplete: %r" % (i, t.get("incomplete")))
        expect(not t.get("unknown"), "entry %d: unknown: %r" % (i, t.get("unknown")))


# A WebSocket server and client of python3-websockets (a library, both ends),
# over TLS on a free port: the client sends five messages, each echoed back.
#   argv: CERT KEY
WEBSOCKET_ECHO = r"""
import asyncio, socket, ssl, sys
import websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(sys.argv[1], sys.argv[2])
    cctx = ssl._create_unverified_context()
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=sctx) as srv:
        port = srv.sockets[0].getsockname()[1]
        async with websockets.connect("wss://localhost:%d/chat" % port, ssl=cctx) as ws:
            for i in range(5):
                await ws.send("x" * (10 + i))
                await ws.recv()
    print(port)
asyncio.run(main())
"""


def test_websocket(env):
    """An HTTP/1.1 Upgrade to WebSocket over TLS (python3-websockets, client
    and server in one traced process): one entry each side, the 101 ending
    with its head (no body: the WebSocket frames after it are the new
    protocol, neither its body nor responses without a request)."""
    # Debian's python3, which python3-websockets is for
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    if subprocess.run([py, "-c", "import websockets"], capture_output=True).returncode:
        raise Skip("python3-websockets not installed")
    cert, key = server_certs(env)
    rc, out, err, path = env.trace("websocket", [py, "-c", WEBSOCKET_ECHO, cert, key],
                                   timeout=60, opts=["--stats"])
    expect(rc == 0 and out.strip().isdigit(), "tlstrace %s, the script printed %r%s"
           % (describe_exit(rc), out[-200:], stderr_hint(err)))
    url = "https://localhost:%s/chat" % out.strip()
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(e["name"] == url and x["method"] == "GET" and e["responseStatus"] == 101,
               "entry %d: %r %r %r" % (i, e["name"], x["method"], e["responseStatus"]))
        expect(e["encodedBodySize"] == 0, "entry %d (%s): encodedBodySize %r, want 0: the "
               "WebSocket frames are no body" % (i, x["role"], e["encodedBodySize"]))
        expect_no_failure(e, i)
        expect("incomplete" not in x, "entry %d: incomplete %r" % (i, x.get("incomplete")))
    expect(sorted(e["tlstrace"]["role"] for e in entries) == ["client", "server"],
           "roles %r" % [e["tlstrace"]["role"] for e in entries])
    expect(" unmatched=0 " in err, "the WebSocket frames counted as responses without a "
           "request: %r" % [w for w in err.split() if w.startswith("unmatched=")])
