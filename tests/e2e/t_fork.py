# SPDX-License-Identifier: MIT
"""A TLS connection across fork(): a Python forking HTTPS server whose
children serve connections accepted and handshaken by the parent; a Python client connects and handshakes,
forks, and its child sends the first request on the inherited connection
(`tlstrace -- python3 ...`, which follows children). The child's entry is a
new request on a known connection, with the parent's lookup, connect and
handshake, timed from the child's own origin. The same under
--timing-only; and on plain HTTP, where the parent can ask after the child
(a TLS session's state is each process's own: it cannot), whose request is
reused."""

import os
import subprocess
import sys
import time

from harness import (check_order, check_shape, curl_server, describe_exit, expect, expect_count,
                     read_entries, server_certs, server_fetches, start_traced_server,
                     stderr_hint, stop_traced_server)

# argv: port, path, then "plain" for plain HTTP, where the parent asks too once the child is
# done, or "spawn": no fork, the parent runs a command (fork and exec) and then asks itself.
PY_FORK = r"""
import os, socket, ssl, subprocess, sys
port, path = int(sys.argv[1]), sys.argv[2]
plain = sys.argv[3:] == ["plain"]
spawn = sys.argv[3:] == ["spawn"]
s = socket.create_connection(("localhost", port), timeout=10)
if not plain:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s, server_hostname="localhost")

def fetch(close):
    hdr = "Connection: close\r\n" if close else ""
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost:%d\r\n%s\r\n" % (path, port, hdr)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < n:
        body += s.recv(65536)
    return head.split(b" ")[1].decode(), len(body)

if spawn:
    subprocess.run(["sh", "-c", "exec true"], check=True)
    status, n = fetch(True)
    print("parent", os.getpid(), status, n, flush=True)
    sys.exit(0)
pid = os.fork()
if pid == 0:
    try:
        status, n = fetch(False)
        print("child", os.getpid(), status, n, flush=True)
        os._exit(0)
    except BaseException as ex:
        print("child failed:", ex, flush=True)
        os._exit(1)
_, st = os.waitpid(pid, 0)
if plain:
    status, n = fetch(True)
    print("parent", os.getpid(), status, n, flush=True)
s.close()
sys.exit(os.waitstatus_to_exitcode(st))
"""


def run_fork(env, test, opts=(), plain=False):
    """Trace PY_FORK; return (entries, child pid, parent pid or None)."""
    env.require_server()
    port = env.plain_port() if plain else env.port
    cmd = [sys.executable, "-c", PY_FORK, str(port), "/hello"] + (["plain"] if plain else [])
    rc, out, err, path = env.trace(test, cmd, timeout=30, opts=opts)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    lines = [l.split() for l in out.splitlines()]
    expect(len(lines) >= 1 and lines[0][0] == "child" and lines[0][2:] == ["200", "6"],
           "the script printed %r" % out[:200])
    parent = None
    if plain:
        expect(len(lines) == 2 and lines[1][0] == "parent" and lines[1][2:] == ["200", "6"],
               "the script printed %r" % out[:200])
        parent = int(lines[1][1])
    return read_entries(path), int(lines[0][1]), parent


def check_inherited(e, i, child_pid, port, tls=True):
    """A new request of the child on the parent's connection: the parent's
    connect and handshake, before the child's requestStart."""
    ext = e["tlstrace"]
    expect(ext["pid"] == child_pid, "entry %d: pid %r, the child's was %d" % (i, ext["pid"], child_pid))
    expect(ext["reused"] is False, "entry %d: reused should be false" % i)
    expect(ext["connectionObserved"] is True, "entry %d: connectionObserved should be true" % i)
    for k in ("connectStart", "connectEnd", "requestStart"):
        expect(e[k] != 0, "entry %d: %s is 0" % (i, k))
    check_order(e, i)
    remote = "127.0.0.1:%d" % port
    expect(ext["remoteAddress"] == remote,
           "entry %d: remoteAddress %r, want %r" % (i, ext["remoteAddress"], remote))
    if not tls:
        expect(e["secureConnectionStart"] == 0 and "tls" not in ext,
               "entry %d: TLS fields on plain HTTP" % i)
        expect(e["connectStart"] < e["connectEnd"] == ext["tcpConnectEnd"] < e["requestStart"],
               "entry %d: connectStart %.3f, connectEnd %.3f, tcpConnectEnd %.3f, requestStart %.3f"
               % (i, e["connectStart"], e["connectEnd"], ext["tcpConnectEnd"], e["requestStart"]))
        return
    expect(e["connectStart"] < e["secureConnectionStart"] < e["connectEnd"] < e["requestStart"],
           "entry %d: connectStart %.3f, secureConnectionStart %.3f, connectEnd %.3f, "
           "requestStart %.3f not in order" % (i, e["connectStart"], e["secureConnectionStart"],
                                               e["connectEnd"], e["requestStart"]))
    expect(e["connectStart"] <= ext["tcpConnectEnd"] <= e["secureConnectionStart"],
           "entry %d: tcpConnectEnd %.3f not within [connectStart, secureConnectionStart]"
           % (i, ext["tcpConnectEnd"]))
    expect(ext["tls"]["serverName"] == "localhost",
           "entry %d: tls.serverName %r, want 'localhost'" % (i, ext["tls"]["serverName"]))


def test_fork_after_connect(env):
    entries, child, _ = run_fork(env, "fork_after_connect")
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    expect(e["name"] == env.url("/hello") and e["responseStatus"] == 200,
           "entry 0: %r %r, want %r 200" % (e["name"], e["responseStatus"], env.url("/hello")))
    check_inherited(e, 0, child, env.port)
    expect(e["tlstrace"]["tls"]["version"] != "", "entry 0: tls.version unknown")
    # The connect was the parent's, before the child existed: before its origin.
    expect(e["connectStart"] < 0, "entry 0: connectStart %.3f, want < 0 (before the child's start)"
           % e["connectStart"])


def test_fork_after_connect_plain(env):
    entries, child, parent = run_fork(env, "fork_after_connect_plain", plain=True)
    expect_count(entries, 2)
    check_inherited(entries[0], 0, child, env.plain_port(), tls=False)
    e, ext = entries[1], entries[1]["tlstrace"]
    expect(ext["pid"] == parent, "entry 1: pid %r, the parent's was %d" % (ext["pid"], parent))
    expect(ext["reused"] is True, "entry 1: the parent's request after the child's is not reused")
    expect(ext["connectionId"] == entries[0]["tlstrace"]["connectionId"],
           "entry 1: connectionId %r, the child's was %r"
           % (ext["connectionId"], entries[0]["tlstrace"]["connectionId"]))
    expect(e["startTime"] == e["connectStart"] == e["connectEnd"] == e["requestStart"] > 0,
           "entry 1 (reused): connection fields not at requestStart")
    check_order(e, 1)


def test_fork_exec_after_connect(env):
    """A command run between the handshake and the first request (fork,
    exec): its copies of the connection go at its exec, and the request is
    the parent's new one."""
    env.require_server()
    cmd = [sys.executable, "-c", PY_FORK, str(env.port), "/hello", "spawn"]
    rc, out, err, path = env.trace("fork_exec_after_connect", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    words = out.split()
    expect(len(words) == 4 and words[0] == "parent" and words[2:] == ["200", "6"],
           "the script printed %r" % out[:200])
    entries = read_entries(path)
    expect_count(entries, 1)
    check_shape(entries[0], 0)
    check_inherited(entries[0], 0, int(words[1]), env.port)


def test_fork_after_connect_timing_only(env):
    entries, child, _ = run_fork(env, "fork_after_connect_timing_only", opts=["--timing-only"])
    expect_count(entries, 1)
    check_inherited(entries[0], 0, child, env.port)


# A forking HTTPS server: the parent accepts and handshakes (an SSL-wrapped
# listening socket), a child per connection serves it. argv: cert, key, ready file.
PY_FORKING_SERVER = r"""
import http.server, os, socketserver, ssl, sys
cert, key, ready = sys.argv[1:4]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

class Server(socketserver.ForkingMixIn, http.server.HTTPServer):
    pass

srv = Server(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(ready + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(ready + ".tmp", ready)
srv.serve_forever()
"""


def test_fork_server_python(env):
    """socketserver.ForkingMixIn over TLS: each connection accepted and
    handshaken by the server, served by a child. Each child's entry is the
    first on its connection: the accept and handshake, by the parent."""
    cert, key = server_certs(env)
    ready = env.path("fork_server_python.port")
    srv = start_traced_server(env, "fork_server_python",
                              [sys.executable, "-c", PY_FORKING_SERVER, cert, key, ready],
                              ready_file=ready, what="the forking server")
    base = "https://localhost:%d" % srv.port
    _, got1 = curl_server(env, srv, server_fetches([base + "/hello"]))
    _, got2 = curl_server(env, srv, server_fetches([base + "/hello"]))
    stop_traced_server(env, srv)
    expect([g[:2] for g in got1 + got2] == [(200, 6), (200, 6)], "curl got %r" % (got1 + got2))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 2)
    pids = set()
    for i, (e, (_, _, cport)) in enumerate(zip(entries, got1 + got2)):
        check_shape(e, i, role="server")
        x = e["tlstrace"]
        expect(e["name"] == base + "/hello" and e["responseStatus"] == 200,
               "entry %d: %r %r" % (i, e["name"], e["responseStatus"]))
        expect(x["pid"] != srv.pid, "entry %d: the server's own pid, not a child's" % i)
        pids.add(x["pid"])
        expect(x["remoteAddress"] == "127.0.0.1:%d" % cport,
               "entry %d: remoteAddress %r, curl's port was %d" % (i, x["remoteAddress"], cport))
        expect(x["reused"] is False, "entry %d: reused should be false" % i)
        expect(x["tls"].get("version"), "entry %d: tls.version unknown" % i)
        check_order(e, i)
        expect(e["connectStart"] < e["secureConnectionStart"] < e["connectEnd"] <= e["requestStart"],
               "entry %d: connectStart %.3f, secureConnectionStart %.3f, connectEnd %.3f, "
               "requestStart %.3f" % (i, e["connectStart"], e["secureConnectionStart"],
                                      e["connectEnd"], e["requestStart"]))
        # accepted and handshaken before the child was forked: before its origin
        expect(e["connectEnd"] < 0, "entry %d: connectEnd %.3f, want < 0 (before the child's start)"
               % (i, e["connectEnd"]))
    expect(len(pids) == 2, "one child per connection, got pids %r" % sorted(pids))


# Plain HTTP over copied descriptors. argv: port A, port B. Prints "done".
PY_DUP = r"""
import os, socket, sys
A, B = int(sys.argv[1]), int(sys.argv[2])


def get(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
    d = b""
    while b"\r\n\r\n" not in d:
        r = s.recv(65536)
        assert r, path
        d += r
    head, _, body = d.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
            .split(b":")[1])
    while len(body) < n:
        body += s.recv(65536)


a = socket.create_connection(("127.0.0.1", A))
get(a, "/hello?a")
b = socket.create_connection(("127.0.0.1", B))
get(b, "/hello?b")
os.dup2(b.fileno(), a.fileno())  # a's descriptor is b's socket now
get(a, "/hello?b-through-a")
c = socket.create_connection(("127.0.0.1", A))
get(c, "/hello?c")
d = socket.socket(fileno=os.dup(c.fileno()))  # a copy, the original still open
get(d, "/hello?c-through-copy")
print("done", flush=True)
"""


def test_dup_sockets(env):
    """A plain HTTP client replaces a connected socket's descriptor with
    another socket's (dup2), and talks through a copy of one (dup): each
    request is on the connection it went over (its server's port), none on
    a connection it did not use, none lost."""
    a = env.plain_port()
    ready = env.path("dup_sockets.port")
    if os.path.exists(ready):
        os.unlink(ready)
    srv = env.procs.spawn([sys.executable, os.path.join(os.path.dirname(__file__), "server.py"),
                           "--plain", "--port", "0", "--ready-file", ready],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (os.path.exists(ready) and open(ready).read().strip()):
            expect(time.monotonic() < deadline and srv.poll() is None, "server.py did not start")
            time.sleep(0.05)
        b = int(open(ready).read())
        rc, out, err, path = env.trace("dup_sockets", [sys.executable, "-c", PY_DUP, str(a),
                                                        str(b)], timeout=30)
    finally:
        env.procs.stop(srv)
    expect(rc == 0 and "done" in out, "tlstrace %s, %r%s" % (describe_exit(rc), out,
                                                            stderr_hint(err)))
    got = {e["name"].rsplit("?", 1)[-1]: int(e["tlstrace"]["remoteAddress"].rsplit(":", 1)[1])
           for e in read_entries(path)}
    want = {"a": a, "b": b, "b-through-a": b, "c": a, "c-through-copy": a}
    expect(got == want, "requests by server port %r, want %r" % (got, want))
