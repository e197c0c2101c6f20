# SPDX-License-Identifier: MIT
"""Servers: entries of role "server".

Each test runs a real HTTPS server under `tlstrace -- SERVER`, fetches from it
with curl, then stops tlstrace with SIGINT (which leaves the server running)
and stops the server itself. The entries are the server's view (docs/semantics.md,
"Server side"): connectStart = accept, secureConnectionStart = the server's
handshake start, requestStart = the request read, responseStart/End = the
response written; later requests on a connection are reused."""

import os
import shutil
import signal
import subprocess
import time

from harness import (EPS_MS, ORDER, check_order, check_reused, check_shape, curl_server,
                     describe_exit, expect, expect_count, expect_no_failure, free_port, need,
                     read_entries, server_certs, server_fetches, start_traced_server,
                     start_traced_server_py, stop_traced_server, wall_ms)


WALL_SLACK_MS = 1.0  # "just before / just after" a client's run


def check_server_entry(e, i, url, status, size, pid, remote, library, proto, method="GET"):
    """One complete server entry: shape, what was served, to whom, by whom."""
    check_shape(e, i, role="server")
    expect_no_failure(e, i)
    x = e["tlstrace"]
    expect(e["name"] == url, "entry %d: name %r, want %r" % (i, e["name"], url))
    expect(x.get("method") == method, "entry %d: method %r, want %r" % (i, x.get("method"), method))
    expect(e["responseStatus"] == status,
           "entry %d: responseStatus %r, want %d" % (i, e["responseStatus"], status))
    expect(e["encodedBodySize"] == size,
           "entry %d: encodedBodySize %r, want %d" % (i, e["encodedBodySize"], size))
    expect(e["nextHopProtocol"] == proto,
           "entry %d: nextHopProtocol %r, want %r" % (i, e["nextHopProtocol"], proto))
    expect(x["pid"] == pid, "entry %d: pid %r, the server's is %d" % (i, x["pid"], pid))
    expect(x["remoteAddress"] == remote,
           "entry %d: remoteAddress %r, want the client's %r" % (i, x["remoteAddress"], remote))
    expect(x["tls"]["library"] == library,
           "entry %d: tls.library %r, want %r" % (i, x["tls"]["library"], library))
    expect(0 < e["responseStart"] <= e["responseEnd"],
           "entry %d: responseStart %r, responseEnd %r" % (i, e["responseStart"], e["responseEnd"]))


def check_server_new(e, i):
    """The first entry of an accepted connection: the connection's own timings,
    connectStart (accept) <= secureConnectionStart < connectEnd <= requestStart
    <= responseStart <= responseEnd, no name lookup."""
    expect(e["tlstrace"]["reused"] is False, "entry %d: reused should be false" % i)
    for k in ORDER + ["fetchStart"]:
        expect(e[k] > 0, "entry %d: %s is %r, want > 0" % (i, k, e[k]))
    check_order(e, i)
    expect(e["secureConnectionStart"] < e["connectEnd"],
           "entry %d: the handshake has no duration: secureConnectionStart %.3f, connectEnd %.3f"
           % (i, e["secureConnectionStart"], e["connectEnd"]))
    for k in ("domainLookupStart", "domainLookupEnd", "connectStart"):
        expect(abs(e[k] - e["startTime"]) <= EPS_MS,
               "entry %d: %s %.6f != startTime %.6f (an accepted connection starts at the "
               "accept, with no lookup)" % (i, k, e[k], e["startTime"]))


def check_server_wallclock(e, i, window):
    """The response was written while the client ran."""
    lo, hi = window
    end = e["tlstrace"]["timeOrigin"] + e["responseEnd"]
    expect(end >= lo - WALL_SLACK_MS,
           "entry %d: responseEnd is %.3f ms before the client started" % (i, lo - end))
    expect(end <= hi + WALL_SLACK_MS,
           "entry %d: responseEnd is %.3f ms after the client ended" % (i, end - hi))


def server_ext_problems(entries, local, version, alpn):
    """What the extension object gets wrong about the server's side of the
    connection (docs/semantics.md: local and remote address, tls version, cipher,
    serverName, alpn, resumed); one message per field, naming the entries."""
    bad = {}
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        tls = x["tls"]
        got = [("localAddress", x.get("localAddress"), local),
               ("tls.serverName", tls.get("serverName"), "localhost"),
               ("tls.version", tls.get("version"), version),
               ("tls.alpn", tls.get("alpn"), alpn),
               ("tls.resumed", tls.get("resumed"), False)]
        for k, have, want in got:
            if have != want:
                bad.setdefault((k, repr(have), repr(want)), []).append(str(i))
        cipher = tls.get("cipher")
        if not (isinstance(cipher, str) and cipher.startswith("TLS_")):
            bad.setdefault(("tls.cipher", repr(cipher), "a TLS_... name"), []).append(str(i))
    return ["%s %s, want %s (entries %s)" % (k, have, want, ",".join(ids))
            for (k, have, want), ids in bad.items()]


def expect_no_problems(problems):
    expect(not problems, "; ".join(problems))


def test_server_python(env):
    """server.py (Python's ssl, threads) traced as a server: two requests on one
    keep-alive connection, a POST on a second one."""
    need("curl")
    srv = start_traced_server_py(env, "server_python")
    base = "https://localhost:%d" % srv.port
    requests = [("GET", "/hello", 200, 6), ("GET", "/size/20000", 200, 20000),
                ("POST", "/hello", 200, 6)]
    win1, got1 = curl_server(env, srv, server_fetches([base + "/hello", base + "/size/20000"]))
    win2, got2 = curl_server(env, srv, ["-d", "small=body"] + server_fetches([base + "/hello"]),
                             "curl -d")
    rc, alive = stop_traced_server(env, srv)
    got = got1 + got2
    expect([(s, n) for s, n, _ in got] == [(s, n) for _, _, s, n in requests],
           "curl got %r" % got)
    expect(got1[0][2] == got1[1][2], "curl used two connections: local ports %d, %d"
           % (got1[0][2], got1[1][2]))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 3)
    windows = [win1, win1, win2]
    for i, (e, (method, p, status, size), (_, _, cport)) in enumerate(
            zip(entries, requests, got)):
        check_server_entry(e, i, base + p, status, size, srv.pid, "127.0.0.1:%d" % cport,
                           "openssl", "http/1.1", method)
        check_server_wallclock(e, i, windows[i])
    check_server_new(entries[0], 0)
    check_reused(entries[1], 1, entries[0])
    check_server_new(entries[2], 2)
    ids = [e["tlstrace"]["connectionId"] for e in entries]
    expect(ids[2] != ids[0], "two connections share connectionId %r" % ids[0])
    # With a command, a signal that stops tlstrace first gives 128 + signal
    # (the command is left running).
    problems = []
    if rc != 128 + signal.SIGINT:
        problems.append("tlstrace %s after SIGINT with the server still running, want %d"
                        % (describe_exit(rc), 128 + signal.SIGINT))
    if not alive:
        problems.append("the server did not outlive tlstrace")
    expect_no_problems(problems + server_ext_problems(
        entries, "127.0.0.1:%d" % srv.port, "TLSv1.3", ""))


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{
    worker_connections 64;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} ssl{listen};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2;
        root {dir}/www;
    }}
}}
"""


def nginx_site(env, test, files=()):
    """A fresh directory for test's nginx, its www/ serving /hello (6 bytes)
    and each (name, bytes) of files: (directory, certificate, key, a free port)."""
    need("nginx")
    cert, key = server_certs(env)
    d = env.path(test)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "tmp"))
    for name, data in (("hello", b"hello\n"),) + tuple(files):
        with open(os.path.join(d, "www", name), "wb") as f:
            f.write(data)
    return d, cert, key, free_port()


def start_traced_nginx(env, test, listen="", opts=(), files=()):
    """nginx under tlstrace (with the options opts), serving /hello (6 bytes)
    and /big (30000), and each (name, bytes) of files, on a free port of
    127.0.0.1, with the listen parameters listen (" http2")."""
    d, cert, key, port = nginx_site(env, test, (("big", b"b" * 30000),) + tuple(files))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, port=port, cert=cert, key=key, listen=listen))
    return start_traced_server(env, test,
                               ["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")],
                               port=port, opts=opts)


def nginx_three_fetches(env, name, listen, curl_opts):
    """nginx traced as the server (its listen directive's extra words), curl
    fetching /hello, /big and /missing on one connection: what curl got is
    checked, and (srv, base, paths, window, got, entries) returned, the 3
    entries read once tlstrace has stopped well."""
    need("curl")
    srv = start_traced_nginx(env, name, listen)
    base = "https://localhost:%d" % srv.port
    paths = ["/hello", "/big", "/missing"]
    window, got = curl_server(env, srv, curl_opts + server_fetches([base + p for p in paths]))
    rc, _ = stop_traced_server(env, srv)
    expect([(s, n) for s, n, _ in got[:2]] == [(200, 6), (200, 30000)] and got[2][0] == 404,
           "curl got %r" % got)
    expect(len({p for _, _, p in got}) == 1, "curl used several connections: %r" % got)
    expect(rc >= 0 and rc not in (1, 2), "tlstrace %s%s" % (describe_exit(rc),
                                                            env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 3)
    return srv, base, paths, window, got, entries


def test_server_nginx(env):
    """nginx (one process, event loop, TLS 1.2 with ALPN): three requests on
    one keep-alive connection, the last a 404."""
    srv, base, paths, window, got, entries = nginx_three_fetches(env, "server_nginx", "", [])
    port = srv.port
    expect(got[2][1] > 0, "curl got %r" % got)
    remote = "127.0.0.1:%d" % got[0][2]
    for i, (e, p, (status, size, _)) in enumerate(zip(entries, paths, got)):
        check_server_entry(e, i, base + p, status, size, srv.pid, remote, "openssl", "http/1.1")
        expect(e["tlstrace"]["comm"] == "nginx",
               "entry %d: comm %r, want 'nginx'" % (i, e["tlstrace"]["comm"]))
        check_server_wallclock(e, i, window)
    check_server_new(entries[0], 0)
    for i in (1, 2):
        check_reused(entries[i], i, entries[0])
        expect(entries[i - 1]["responseEnd"] <= entries[i]["requestStart"],
               "entry %d: responseEnd %.3f after the next request was read (%.3f)"
               % (i - 1, entries[i - 1]["responseEnd"], entries[i]["requestStart"]))
    expect_no_problems(server_ext_problems(entries, "127.0.0.1:%d" % port, "TLSv1.2",
                                           "http/1.1"))


def test_server_nginx_h2(env):
    """nginx with `listen ... ssl http2`, traced as the server, curl --http2
    fetching three paths on one connection: the client's frames are read,
    the responses written; one entry per stream, the first carrying the
    connection's accept and handshake."""
    srv, base, paths, window, got, entries = nginx_three_fetches(
        env, "server_nginx_h2", " http2", ["--http2"])
    remote = "127.0.0.1:%d" % got[0][2]
    for i, (e, p, (status, size, _)) in enumerate(zip(entries, paths, got)):
        check_server_entry(e, i, base + p, status, size, srv.pid, remote, "openssl", "h2")
        expect("incomplete" not in e["tlstrace"], "entry %d: incomplete %r"
               % (i, e["tlstrace"].get("incomplete")))
        check_server_wallclock(e, i, window)
    check_server_new(entries[0], 0)
    for i in (1, 2):
        check_reused(entries[i], i, entries[0])
        # curl asks for one path after the other: each stream after the last ended
        expect(entries[i - 1]["responseEnd"] <= entries[i]["requestStart"],
               "entry %d: responseEnd %.3f after the next request was read (%.3f)"
               % (i - 1, entries[i - 1]["responseEnd"], entries[i]["requestStart"]))
    expect_no_problems(server_ext_problems(entries, "127.0.0.1:%d" % srv.port, "TLSv1.2", "h2"))


def test_server_nginx_h2load(env):
    """nginx serving HTTP/2 to h2load: 20 requests over 2 connections, 4
    streams at once on each; one entry per request, on its connection."""
    need("h2load")
    srv = start_traced_nginx(env, "server_nginx_h2load", " http2")
    url = "https://localhost:%d/hello" % srv.port
    rc, out, err = env.procs.run(srv.client(["h2load", "-n", "20", "-c", "2", "-m", "4", url]),
                                 60, "h2load")
    trc, _ = stop_traced_server(env, srv)
    expect(rc == 0 and "20 succeeded" in out and "20 2xx" in out,
           "h2load exited %d: %s" % (rc, out[-400:]))
    expect(trc >= 0 and trc not in (1, 2), "tlstrace %s%s" % (describe_exit(trc),
                                                              env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 20)
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        expect(e["name"] == url and e["responseStatus"] == 200 and e["encodedBodySize"] == 6
               and x.get("method") == "GET" and e["nextHopProtocol"] == "h2"
               and x["role"] == "server" and x["pid"] == srv.pid,
               "entry %d: %r %r %r %r %r %r" % (i, e["name"], e["responseStatus"],
                                                 e["encodedBodySize"], x.get("method"),
                                                 e["nextHopProtocol"], x["role"]))
        expect_no_failure(e, i)
        expect("incomplete" not in x, "entry %d: incomplete %r" % (i, x.get("incomplete")))
        check_order(e, i)
    by_conn = {}
    for e in entries:
        by_conn.setdefault(e["tlstrace"]["connectionId"], []).append(e)
    expect(sorted(len(v) for v in by_conn.values()) == [10, 10],
           "entries per connection: %r" % {k: len(v) for k, v in by_conn.items()})
    for v in by_conn.values():
        expect([e["tlstrace"]["reused"] for e in v].count(False) == 1,
               "one entry of each connection carries its accept and handshake")


def test_server_nginx_h2_drops(env):
    """nginx serving 1 MiB bodies over HTTP/2 to h2load (10 connections, 10
    streams at once on each) with a 1 MiB ring buffer, which overflows: an
    entry may be missing (its request's records lost, counted) or
    incomplete, but never false: no failure (h2load got every 200), and a
    status, size or path written is the true one unless listed unknown.
    Records lost both ways at once leave each direction to resynchronise:
    no connection is given up."""
    need("h2load")
    size = 1 << 20
    body = os.urandom(size)  # random bytes: a DATA payload that looks like frames
    srv = start_traced_nginx(env, "server_nginx_h2_drops", " http2",
                             opts=["--ringbuf-size", "1", "--stats"], files=[("m1", body)])
    url = "https://localhost:%d/m1" % srv.port
    n = 600
    rc, out, err = env.procs.run(srv.client(["h2load", "-n", str(n), "-c", "10", "-m", "10",
                                             url]), 120, "h2load")
    trc, _ = stop_traced_server(env, srv)
    expect(rc == 0 and "%d succeeded" % n in out and "%d 2xx" % n in out,
           "h2load exited %d: %s" % (rc, out[-400:]))
    expect(trc >= 0 and trc not in (1, 2), "tlstrace %s%s" % (describe_exit(trc),
                                                              env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect(0 < len(entries) <= n, "%d entries for %d requests" % (len(entries), n))
    incomplete = 0
    for i, e in enumerate(entries):
        x = e["tlstrace"]
        unknown = x.get("unknown", [])
        expect_no_failure(e, i)
        expect(("incomplete" in x) == bool(unknown),
               "entry %d: incomplete %r, unknown %r" % (i, x.get("incomplete"), unknown))
        incomplete += "incomplete" in x
        want_name = url if "name.path" not in unknown else "https://localhost:%d/" % srv.port
        expect(e["name"] == want_name, "entry %d: name %r, unknown %r" % (i, e["name"], unknown))
        for k, want in (("responseStatus", 200), ("encodedBodySize", size)):
            got = e[k]
            expect(got == (0 if k in unknown else want),
                   "entry %d: %s %r, unknown %r (%s)" % (i, k, got, unknown, x.get("incomplete")))
        check_order(e, i)
    with open(srv.tracer.err_file, errors="replace") as f:
        stats = f.read()
    # each direction of HTTP/2 resynchronises on its own: no connection is given up
    expect(" conns_given_up=0 " in stats, "connections given up: %r"
           % [w for w in stats.split() if w.startswith("conns_given_up=")])
    lost = [w for w in stats.split() if w.startswith("records_lost=")]
    return "%d entries of %d requests, %d incomplete, %s" % (
        len(entries), n, incomplete, lost[0] if lost else "records_lost not said")


# Header tables of 64 KiB both ways (SETTINGS_HEADER_TABLE_SIZE, and encoders
# allowed to use it), and request fields that fill them past 4 KiB: each
# encoder starts with a dynamic table size update to 64 KiB, which a decoder
# kept at 4096 refuses.
NGHTTP_TABLE = ["-c", "65536", "--encoder-header-table-size=65536"]
NGHTTP_FIELDS = ["-H", "x-a: " + "a" * 3000, "-H", "x-b: " + "b" * 3000]


def test_server_nghttpd_large_table(env):
    """nghttpd traced as the server, nghttp fetching three paths at once,
    both with 64 KiB header tables filled past 4 KiB: every request decoded."""
    need("nghttpd")
    need("nghttp")
    cert, key = server_certs(env)
    www = env.path("nghttpd_www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "hello"), "wb") as f:
        f.write(b"hello\n")
    port = free_port()
    srv = start_traced_server(env, "server_nghttpd_large_table",
                              ["nghttpd", "-a", "127.0.0.1", "-d", www] + NGHTTP_TABLE
                              + [str(port), key, cert], port=port)
    paths = ["/hello", "/hello?2", "/missing"]
    urls = ["https://localhost:%d%s" % (port, p) for p in paths]
    rc, out, err = env.procs.run(srv.client(["nghttp", "-n", "-s"] + NGHTTP_TABLE + NGHTTP_FIELDS
                                            + urls), 30, "nghttp")
    trc, _ = stop_traced_server(env, srv)
    expect(rc == 0, "nghttp exited %d: %s" % (rc, (out + err)[-300:]))
    expect(trc >= 0 and trc not in (1, 2), "tlstrace %s%s" % (describe_exit(trc),
                                                              env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 3)
    by_name = {e["name"]: e for e in entries}
    expect(sorted(by_name) == sorted(urls), "names %r, want %r" % (sorted(by_name), sorted(urls)))
    for i, url in enumerate(urls):
        e = by_name.get(url, {})
        x = e.get("tlstrace", {})
        want = 404 if url.endswith("/missing") else 200
        expect(e.get("responseStatus") == want and x.get("role") == "server"
               and x.get("method") == "GET" and "incomplete" not in x,
               "%s: status %r, role %r, method %r, incomplete %r"
               % (url, e.get("responseStatus"), x.get("role"), x.get("method"),
                  x.get("incomplete")))
        expect_no_failure(e, i)
        if want == 200:
            expect(e["encodedBodySize"] == 6, "%s: encodedBodySize %r" % (url, e["encodedBodySize"]))


def test_server_s_server(env):
    """openssl s_server in its plain mode: it reads the request with SSL_read
    and writes what arrives on its stdin (here, a response, once the request
    is in) with SSL_write. Its -WWW/-www modes do their I/O through OpenSSL's
    SSL BIO, whose calls are internal to libssl and not traced (README)."""
    need("curl")
    need("openssl")
    cert, key = server_certs(env)
    fifo = env.path("s_server.stdin")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    port = free_port()
    # opened read-write: s_server neither blocks on the open nor sees an EOF
    srv = start_traced_server(env, "server_s_server",
                              ["sh", "-c", 'exec 3<>"$0"; exec "$@" <&3', fifo,
                               "openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
                               "-cert", cert, "-key", key, "-quiet", "-naccept", "1"],
                              port=port, what="s_server")
    url = "https://localhost:%d/hello" % port
    t0 = wall_ms()
    client = env.procs.spawn(srv.client(["curl", "-sk"] + server_fetches([url])),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    time.sleep(0.7)  # the request has arrived: answer it
    with open(fifo, "w") as f:
        f.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
    crc = env.procs.wait(client, 15, "curl")
    t1 = wall_ms()
    out = client.stdout.read().decode(errors="replace").split()
    rc, _ = stop_traced_server(env, srv)
    expect(crc == 0 and len(out) == 3, "curl %s, printed %r" % (describe_exit(crc), out))
    expect(rc >= 0 and rc not in (1, 2), "tlstrace %s%s" % (describe_exit(rc),
                                                            env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 1)
    e = entries[0]
    check_server_entry(e, 0, url, 200, 6, srv.pid, "127.0.0.1:%s" % out[2], "openssl",
                       "http/1.1")
    check_server_new(e, 0)
    check_server_wallclock(e, 0, (t0, t1))
    expect(e["responseStart"] - e["requestStart"] >= 500,
           "responseStart %.1f ms after requestStart: the answer was held 700 ms"
           % (e["responseStart"] - e["requestStart"]))


def test_server_gnutls(env):
    """gnutls-serv --http: a GnuTLS server answering any path with an HTML page,
    as HTTP/1.0 without Content-Length, closing after it. It listens on every
    address, so it runs in a network namespace of its own."""
    need("curl")
    need("gnutls-serv")
    cert, key = server_certs(env)
    port = free_port()
    srv = start_traced_server(env, "server_gnutls",
                              ["gnutls-serv", "--http", "--x509certfile", cert,
                               "--x509keyfile", key, "-p", str(port)],
                              port=port, netns=True, what="gnutls-serv")
    url = "https://localhost:%d/status" % port
    window, got = curl_server(env, srv, ["-4"] + server_fetches([url]))
    rc, _ = stop_traced_server(env, srv)
    expect(len(got) == 1 and got[0][0] == 200 and got[0][1] > 0, "curl got %r" % got)
    expect(rc >= 0 and rc not in (1, 2), "tlstrace %s%s" % (describe_exit(rc),
                                                            env.err_hint(srv.tracer)))
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 1)
    e = entries[0]
    # The body is close-delimited: its size is what curl read until the close.
    check_server_entry(e, 0, url, 200, got[0][1], srv.pid, "127.0.0.1:%d" % got[0][2],
                       "gnutls", "http/1.0")
    check_server_new(e, 0)
    check_server_wallclock(e, 0, window)
    expect_no_problems(server_ext_problems(entries, "127.0.0.1:%d" % port, "TLSv1.3", ""))


NODE_SERVER = r"""
const fs = require('fs');
const [key, cert, port] = process.argv.slice(1);
require('https').createServer({key: fs.readFileSync(key), cert: fs.readFileSync(cert)},
  (q, s) => { s.setHeader('Content-Length', 6); s.end('hello\n'); }).listen(+port, '127.0.0.1');
"""


def test_server_node(env):
    """A Node.js https server (OpenSSL inside, memory BIOs): server entries, the
    session bound to its socket by the ServerHello's ciphertext."""
    need("node")
    cert, key = server_certs(env)
    port = free_port()
    srv = start_traced_server(env, "server_node", ["node", "-e", NODE_SERVER, key, cert, str(port)],
                              port=port, what="node")
    urls = ["https://localhost:%d/a" % port, "https://localhost:%d/b" % port]
    window, got = curl_server(env, srv, server_fetches(urls))
    rc, _ = stop_traced_server(env, srv)
    expect([(st, n) for st, n, _ in got] == [(200, 6), (200, 6)], "curl got %r" % got)
    entries = read_entries(srv.out_file, env.err_hint(srv.tracer))
    expect_count(entries, 2)
    for i, (e, url) in enumerate(zip(entries, urls)):
        check_server_entry(e, i, url, 200, 6, srv.pid, "127.0.0.1:%d" % got[0][2], "openssl",
                           "http/1.1")
        check_server_wallclock(e, i, window)
        expect(e["tlstrace"]["connectionObserved"] is True, "entry %d: not bound" % i)
    check_server_new(entries[0], 0)
    check_reused(entries[1], 1, entries[0])
