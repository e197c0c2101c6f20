# SPDX-License-Identifier: MIT
"""NSS and NSPR outside the browser: NSS's own client (tstclnt) and server
(selfserv), from Debian's libnss3-tools, on the system's libssl3 and
libnspr4; and a private copy of the pair, found by its file names."""

import os
import shutil
import subprocess

from harness import (check_new_connection, check_order, check_response, check_shape, curl_server,
                     describe_exit, expect, expect_count, free_port, need, read_entries, server_fetches,
                     server_certs, start_traced_server, stderr_hint, stop_traced_server)

NSS_LIBDIR = "/usr/lib/x86_64-linux-gnu"


def nss_db(env, name):
    """A fresh NSS database (sql:) with no password: tstclnt and selfserv want one."""
    need("certutil")
    db = env.path(name)
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(db)
    r = subprocess.run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, "certutil -N exited %d%s" % (r.returncode, stderr_hint(r.stderr)))
    return db


def tstclnt(env, test, path, body, opts=(), libdir=""):
    """tstclnt GETting path from the test server (one request, Connection:
    close) under tlstrace OPTS, its libraries first looked for in libdir;
    the entries, and tlstrace's stderr. body: what the response ends with."""
    need("tstclnt")
    env.require_server()
    db = nss_db(env, test + ".db")
    reqfile = env.path(test + ".request")
    with open(reqfile, "w") as f:
        f.write("GET %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n"
                % (path, env.port))
    # -o: accept the self-signed certificate; -a: the server name (SNI)
    cmd = ["sh", "-c", 'LD_LIBRARY_PATH="$4" exec tstclnt -h 127.0.0.1 -p "$1" -a localhost -o '
           '-d "sql:$2" < "$3"', "sh", str(env.port), db, reqfile, libdir]
    rc, out, err, trace = env.trace(test, cmd, timeout=60, opts=list(opts))
    expect(rc == 0, "tlstrace %s (tstclnt's status)%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.endswith(body), "tstclnt printed %r" % out[-120:])
    return read_entries(trace), err


def check_nss_tls(e, i, library="nss"):
    tls = e["tlstrace"]["tls"]
    expect(tls["library"] == library, "entry %d: tls.library %r, want %r"
           % (i, tls["library"], library))
    expect(tls["version"] in ("TLSv1.2", "TLSv1.3"), "entry %d: tls.version %r"
           % (i, tls["version"]))
    expect(tls["cipher"].startswith("TLS_"), "entry %d: tls.cipher %r" % (i, tls["cipher"]))


def test_nss_tstclnt(env):
    """NSS's own client: its handshake driven by PR_Write and PR_Read (it
    never calls SSL_ForceHandshake), the request and response in their
    plaintext, the socket bound by the syscalls NSS makes inside them."""
    entries, _ = tstclnt(env, "nss_tstclnt", "/hello", "hello\n")
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, env.url("/hello"), 200, 6)
    check_new_connection(e, 0, env.port, library="nss")
    check_nss_tls(e, 0)
    expect(e["tlstrace"]["comm"] == "tstclnt", "comm %r" % e["tlstrace"]["comm"])


def test_nss_tstclnt_timing_only(env):
    """--timing-only: no NSPR call probed; tstclnt's handshake, driven by
    PR_Write, is followed from its records, its exchange from its socket.
    server.py sends TLS 1.3 session tickets, which tstclnt reads after its
    request: told apart by their records, responseStart is the answer's,
    after the 20 ms delay; not told apart, it is said to be unknown. Either
    way responseEnd bounds the delay."""
    entries, _ = tstclnt(env, "nss_tstclnt_timing_only", "/delay/20", "delayed\n", opts=["--timing-only"])
    expect_count(entries, 1)
    e = entries[0]
    check_new_connection(e, 0, env.port, library="wire")
    if "responseStart" not in e["tlstrace"]["unknown"]:
        wait = e["responseStart"] - e["requestStart"]
        expect(wait >= 20, "responseStart %.3f ms after requestStart, vouched for: a session"
               " ticket's arrival taken for the answer's (the server waits 20 ms)" % wait)
    wait = e["responseEnd"] - e["requestStart"]
    expect(20 <= wait < 60, "requestStart to responseEnd %.3f ms, want the 20 ms delay" % wait)
    expect(e["tlstrace"]["tls"]["serverName"] == "localhost", "serverName %r"
           % e["tlstrace"]["tls"]["serverName"])
    return "wait %.3f ms" % wait


def test_nss_private_copy(env):
    """A program given its own copy of libssl3 and libnspr4 (as Firefox
    carries its NSS, or a container its libraries): both found by their
    file names when the program loads them, and used together."""
    need("tstclnt")
    libdir = env.path("nss_private_lib")
    shutil.rmtree(libdir, ignore_errors=True)
    os.makedirs(libdir)
    for name in ("libssl3.so", "libnspr4.so"):
        src = os.path.join(NSS_LIBDIR, name)
        expect(os.path.exists(src), "%s is missing (libnss3, libnspr4)" % src)
        shutil.copy(src, os.path.join(libdir, name))
    entries, err = tstclnt(env, "nss_private_copy", "/hello", "hello\n", opts=["-v"], libdir=libdir)
    expect_count(entries, 1)
    check_response(entries[0], 0, env.url("/hello"), 200, 6)
    check_nss_tls(entries[0], 0)
    for name in ("libssl3.so", "libnspr4.so"):
        expect(os.path.join(libdir, name) in err,
               "tlstrace -v does not say it attached %s%s" % (name, stderr_hint(err)))


def selfserv_db(env, test):
    """An NSS database holding the test server's certificate and key, as "srv"."""
    need("pk12util")
    cert, key = server_certs(env)
    db = nss_db(env, test + ".db")
    p12 = env.path(test + ".p12")
    r = subprocess.run(["openssl", "pkcs12", "-export", "-in", cert, "-inkey", key, "-out", p12,
                        "-passout", "pass:", "-name", "srv"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, "openssl pkcs12 exited %d%s" % (r.returncode, stderr_hint(r.stderr)))
    r = subprocess.run(["pk12util", "-i", p12, "-d", "sql:" + db, "-W", ""],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, "pk12util exited %d%s" % (r.returncode, stderr_hint(r.stderr)))
    return db


def selfserv(env, test, opts):
    """selfserv under `tlstrace OPTS --`, two curls (each on a connection of
    its own: selfserv answers HTTP/1.0 and closes); (entries, curl's lines)"""
    need("selfserv")
    db = selfserv_db(env, test)
    port = free_port()
    srv = start_traced_server(env, test, ["selfserv", "-p", str(port), "-d", "sql:" + db,
                                          "-n", "srv", "-V", "tls1.2:tls1.3"],
                              port=port, opts=opts)
    _, lines = curl_server(env, srv, server_fetches(["https://localhost:%d%s" % (port, p)
                                                     for p in ("/first", "/second")]))
    stop_traced_server(env, srv)
    entries = read_entries(srv.out_file)
    expect_count(entries, 2)
    for i, e in enumerate(entries):
        ext = e["tlstrace"]
        expect(ext["role"] == "server", "entry %d: role %r" % (i, ext["role"]))
        expect(ext["remoteAddress"].endswith(":%d" % lines[i][2]),
               "entry %d: remoteAddress %r, curl's port was %d"
               % (i, ext["remoteAddress"], lines[i][2]))
        expect(ext["tls"]["serverName"] == "localhost", "entry %d: serverName %r"
               % (i, ext["tls"]["serverName"]))
        expect(0 < e["requestStart"] <= e["responseStart"] <= e["responseEnd"],
               "entry %d: requestStart %.3f responseStart %.3f responseEnd %.3f"
               % (i, e["requestStart"], e["responseStart"], e["responseEnd"]))
    return entries, lines, port


def test_nss_selfserv(env):
    """NSS's own server: its sessions are the sockets PR_Accept returns on
    its TLS listening socket, its answers written by PR_Writev (a record per
    buffer). Two curls, each a request read and a response written."""
    entries, lines, port = selfserv(env, "nss_selfserv", [])
    for i, (e, p) in enumerate(zip(entries, ["/first", "/second"])):
        check_shape(e, i, role="server")
        check_order(e, i)
        expect(e["name"] == "https://localhost:%d%s" % (port, p), "entry %d: name %r"
               % (i, e["name"]))
        expect(e["responseStatus"] == 200, "entry %d: status %r" % (i, e["responseStatus"]))
        # selfserv echoes the request after its own head, HTTP/1.0, to the close
        expect(e["encodedBodySize"] == lines[i][1], "entry %d: encodedBodySize %r, curl read %d"
               % (i, e["encodedBodySize"], lines[i][1]))
        check_nss_tls(e, i)


def check_new_connection_server(e, i):
    """a server's entry of a connection accepted under the trace, its handshake seen"""
    x = e["tlstrace"]
    expect(x["connectionObserved"] is True and x["reused"] is False,
           "entry %d: observed %r, reused %r" % (i, x["connectionObserved"], x["reused"]))
    seq = [e[k] for k in ("connectStart", "secureConnectionStart", "connectEnd",
                          "requestStart", "responseStart", "responseEnd")]
    expect(all(a <= b for a, b in zip(seq, seq[1:])) and seq[0] > 0,
           "entry %d: timings out of order %r" % (i, seq))
    expect(e["secureConnectionStart"] > e["connectStart"],
           "entry %d: secureConnectionStart not after connectStart" % i)


def test_nss_selfserv_timing_only(env):
    """--timing-only: no NSPR call probed, and selfserv never calls
    SSL_ForceHandshake: its handshakes are followed from their records,
    found by the ClientHello it reads in two parts (the record's header,
    then its body)."""
    entries, _, port = selfserv(env, "nss_selfserv_timing_only", ["--timing-only"])
    for i, e in enumerate(entries):
        expect(e["name"] == "https://localhost:%d/" % port, "entry %d: name %r" % (i, e["name"]))
        check_new_connection_server(e, i)
