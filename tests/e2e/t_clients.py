# SPDX-License-Identifier: MIT
"""Real clients of each TLS library and protocol, traced from their start
(`tlstrace -- CLIENT`): curl, Python's ssl, openssl s_client, wget and
gnutls-cli (GnuTLS), Node.js (OpenSSL inside, memory BIOs), git, nghttp and
curl over HTTP/2, plain HTTP; each entry's fields, against our own bracket
clients (accuracy_*) to within TOL_MS, name lookups included."""

import json
import os
import sys

from harness import (NODE_FETCH, PY_CLIENT, TEST_NAME, TOL_MS, Failure, bracket_deviation, check_new_connection,
                     check_order, check_py_output, check_response, check_responses, check_reused,
                     check_shape, check_wallclock, describe_exit, expect, expect_count,
                     in_private_hosts, need, read_entries, stderr_hint, wall_ms)


def test_curl_single(env):
    need("curl")
    env.require_server()
    url = env.url("/hello")
    pidfile = env.path("curl_single.pid")
    # sh records its pid, then execs curl in the same process.
    cmd = ["sh", "-c", 'echo $$ > "$0"; exec "$@"', pidfile, "curl", "-sk", url]
    t0 = wall_ms()
    rc, out, err, path = env.trace("curl_single", cmd, timeout=30)
    t1 = wall_ms()
    expect(rc == 0, "tlstrace %s, curl's status was 0%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out == "hello\n", "curl printed %r" % out[:60])
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, url, 200, 6)
    check_new_connection(e, 0, env.port)
    with open(pidfile) as f:
        curl_pid = int(f.read())
    ext = e["tlstrace"]
    expect(ext["pid"] == curl_pid, "pid %r, curl's pid was %d" % (ext["pid"], curl_pid))
    expect(ext["comm"] == "curl", "comm %r, want 'curl'" % ext["comm"])
    check_wallclock(e, 0, t0, t1)


def test_curl_exit_status(env):
    need("curl")
    cmd = ["curl", "-sk", "https://127.0.0.1:1/"]
    direct, _, _ = env.procs.run(cmd, 30, "curl")
    expect(direct == 7, "untraced curl exited %d, expected 7 (connection refused)" % direct)
    rc, _, err, _ = env.trace("curl_exit_status", cmd, timeout=30)
    expect(rc == direct, "tlstrace %s, curl's status was %d%s"
           % (describe_exit(rc), direct, stderr_hint(err)))
    rc, _, err, _ = env.trace("curl_exit_status", ["sh", "-c", "exit 42"], timeout=30)
    expect(rc == 42, "tlstrace %s, command's status was 42%s"
           % (describe_exit(rc), stderr_hint(err)))


def test_curl_keepalive(env):
    need("curl")
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/100", 200, 100), ("/status/404", 404, 11)]
    urls = [env.url(p) for p, _, _ in requests]
    rc, out, err, path = env.trace("curl_keepalive", ["curl", "-sk"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(len(out) == 6 + 100 + 11, "curl printed %d bytes, want 117" % len(out))
    entries = read_entries(path)
    check_responses(env, entries, requests)
    check_new_connection(entries[0], 0, env.port)
    for i in (1, 2):
        check_reused(entries[i], i, entries[0])


def test_python_ssl(env):
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/2000", 200, 2000)]
    cmd = [sys.executable, "-c", PY_CLIENT, str(env.port)] + [p for p, _, _ in requests]
    rc, out, err, path = env.trace("python_ssl", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_py_output(out, requests)
    entries = read_entries(path)
    check_responses(env, entries, requests)
    check_new_connection(entries[0], 0, env.port)
    check_reused(entries[1], 1, entries[0])


def s_client(env, test, request, opts=(), extra=()):
    """`openssl s_client -quiet -ign_eof EXTRA` (it reads until the server
    closes) sending request, under tlstrace OPTS: what it printed and its one
    entry."""
    need("openssl")
    env.require_server()
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % env.port,
           "-servername", "localhost", "-quiet", "-ign_eof"] + list(extra)
    rc, out, err, path = env.trace(test, cmd, timeout=30, input=request, opts=opts)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.startswith("HTTP/1.1 200"), "s_client printed %r" % out[:60])
    entries = read_entries(path)
    expect_count(entries, 1)
    return out, entries[0]


def test_openssl_s_client(env):
    request = "GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % env.port
    out, e = s_client(env, "openssl_s_client", request)
    expect(out.endswith("hello\n"), "s_client printed %r" % out[:60])
    check_shape(e, 0)
    check_response(e, 0, env.url("/hello"), 200, 6)
    check_new_connection(e, 0, env.port)


def test_openssl_s_client_timing_only(env):
    """openssl s_client never calls SSL_connect: its handshake runs inside
    its first SSL_write/SSL_read, which --timing-only does not probe. Its
    handshake is followed from the TLS records on the socket instead (library
    "wire"): one new entry, connect and handshake timed, the SNI from its ClientHello,
    the version from the ServerHello, the 20 ms delay inside its wait. TLS
    1.2 (its handshake ends at the server's Finished), whose server sends no
    session ticket after the handshake that a wait could end at."""
    request = ("GET /delay/20 HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n"
               % env.port)
    _, e = s_client(env, "openssl_s_client_timing_only", request, ["--timing-only"],
                    ["-tls1_2"])
    check_new_connection(e, 0, env.port, "wire")
    x = e["tlstrace"]
    expect(x.get("timingOnly") is True, "not timing-only: %r" % x)
    expect(x["tls"].get("version") == "TLSv1.2", "no ServerHello from the wire: %r" % x["tls"])
    expect("responseStart" not in x.get("unknown", []), "responseStart unknown: %r" % x)
    expect(e["connectEnd"] > e["secureConnectionStart"], "no handshake: %r" % e)
    wait = e["responseStart"] - e["requestStart"]
    expect(wait >= 20, "wait %.3f ms, under the server's 20 ms delay" % wait)
    return "handshake %.3f ms, wait %.3f ms" % (e["connectEnd"] - e["secureConnectionStart"], wait)


def test_openssl_s_client_tls13_tickets(env):
    """The same over TLS 1.3, under --wire: server.py (OpenSSL) sends two
    session tickets after the handshake, and s_client reads each record's
    header, then its body. The tickets are told from the answer: its
    responseStart vouched for, after the server's 20 ms delay, never at a
    ticket's arrival."""
    request = ("GET /delay/20 HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n"
               % env.port)
    _, e = s_client(env, "openssl_s_client_tls13_tickets", request, ["--wire"], ["-tls1_3"])
    check_new_connection(e, 0, env.port, "wire")
    x = e["tlstrace"]
    expect(x["tls"].get("version") == "TLSv1.3", "not TLS 1.3: %r" % x["tls"])
    expect("responseStart" not in x.get("unknown", []),
           "responseStart not told from the tickets: %r" % x.get("unknown"))
    wait = e["responseStart"] - e["requestStart"]
    expect(wait >= 20, "wait %.3f ms, under the server's 20 ms delay: a ticket's arrival" % wait)
    return "wait %.3f ms" % wait


def test_timing_only_closing_alert(env):
    """--timing-only, openssl s_client -ign_eof (it reads until the server
    closes) on TLS 1.2 and 1.3, a server that closes 300 ms after its
    response (/linger/300): the close_notify read then is no part of the
    answer: responseEnd is the response's last read, not the alert's (it was
    300 ms late, and a keep-alive timeout's worth with nginx)."""
    request = "GET /linger/300 HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % env.port
    spans = []
    for version in ("-tls1_2", "-tls1_3"):
        _, e = s_client(env, "timing_only_closing_alert%s" % version, request,
                        ["--timing-only"], [version])
        span = e["responseEnd"] - e["responseStart"]
        expect(span < 100, "%s: responseEnd %.3f ms after responseStart: the server's closing "
               "alert, 300 ms later, taken for the answer" % (version, span))
        spans.append(span)
    return "responseStart to responseEnd %.3f and %.3f ms" % tuple(spans)


def test_accuracy_bracket(env):
    return accuracy(env, "accuracy_bracket", "127.0.0.1")


def test_accuracy_lookup(env):
    """As accuracy_bracket, with a name lookup (getaddrinfo) before the connect."""
    return accuracy(env, "accuracy_lookup", TEST_NAME)


def test_accuracy_gnutls(env):
    """As accuracy_lookup, with a client of our own that uses GnuTLS."""
    expect(env.bracket_gnutls, "cannot build bracket_gnutls%s" % env.bracket_gnutls_error)
    return accuracy(env, "accuracy_gnutls", TEST_NAME, env.bracket_gnutls, "gnutls")


def accuracy(env, test, host, client=None, library="openssl"):
    env.require_server()
    expect(env.bracket, "cannot build bracket_client: %s" % env.bracket_error)
    nreq, url_path = 3, "/delay/20"
    cmd = [client or env.bracket, host, str(env.port), url_path, str(nreq)]
    if host != "127.0.0.1":
        cmd = in_private_hosts(env, cmd)
    rc, out, err, path = env.trace(test, cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    try:
        br = json.loads(out)
    except ValueError:
        raise Failure("bracket_client printed %r%s" % (out[:80], stderr_hint(err)))
    expect(len(br["requests"]) == nreq, "bracket_client made %d requests" % len(br["requests"]))
    entries = read_entries(path)
    expect_count(entries, nreq)
    for i, e in enumerate(entries):
        check_shape(e, i)
        check_response(e, i, env.url(url_path), 200, 8)
        expect(e["tlstrace"]["pid"] == br["pid"],
               "entry %d: pid %r, bracket_client's was %d" % (i, e["tlstrace"]["pid"], br["pid"]))
    check_new_connection(entries[0], 0, env.port, library)
    for i in range(1, nreq):
        check_reused(entries[i], i, entries[0])

    # Each field is one side of a bracketed call: the entry of connect,
    # SSL_connect or SSL_write (bracket start), or the return of SSL_connect
    # or SSL_read (bracket end). Being within TOL_MS of that side implies
    # being inside the bracket +- TOL_MS; it also tells a read's return from
    # its entry, which a blocking read's wide bracket alone cannot.
    ENTRY, RETURN = 0, 1
    CALLS = {"connect": "connect()", "handshake": "SSL_connect", "write": "SSL_write",
             "firstRead": "SSL_read", "lastRead": "SSL_read"}
    CALLS["lookup"] = "getaddrinfo"
    checks = [(0, "connectStart", "connect", ENTRY),
              (0, "secureConnectionStart", "handshake", ENTRY),
              (0, "connectEnd", "handshake", RETURN)]
    if "lookup" in br:
        checks += [(0, "domainLookupStart", "lookup", ENTRY),
                   (0, "domainLookupEnd", "lookup", RETURN),
                   (0, "startTime", "lookup", ENTRY)]
        expect(entries[0]["domainLookupEnd"] > entries[0]["domainLookupStart"],
               "the lookup has no duration: %r" % entries[0]["domainLookupStart"])
    else:
        expect(entries[0]["domainLookupStart"] == entries[0]["domainLookupEnd"]
               == entries[0]["connectStart"], "no lookup, yet the lookup fields differ")
    for i in range(nreq):
        checks += [(i, "requestStart", "write", ENTRY),
                   (i, "responseStart", "firstRead", RETURN),
                   (i, "responseEnd", "lastRead", RETURN)]
    worst, relaxed = (-1.0, None), []
    for i, field, step, side in checks:
        e = entries[i]
        bracket = br[step] if step in ("lookup", "connect", "handshake") \
            else br["requests"][i][step]
        lo, hi = bracket[0], bracket[1]
        at = e["tlstrace"]["timeOrigin"] + e[field]
        edge = (lo, hi)[side]
        dev, by_wait = bracket_deviation(at, bracket, side)
        if by_wait:
            relaxed.append("request %d %s (its client waited %.1f ms for a CPU)"
                           % (i + 1, field, bracket[2]))
        expect(dev <= TOL_MS,
               "request %d %s is %.3f ms %s the %s of %s (%s bracket [%.3f, %.3f], at %.3f)"
               % (i + 1, field, dev, "before" if at < edge else "after",
                  ("entry", "return")[side], CALLS[step], step, lo, hi, at))
        if dev > worst[0]:
            worst = (dev, "request %d %s, %s the %s of %s"
                     % (i + 1, field, "before" if at < edge else "after",
                        ("entry", "return")[side], CALLS[step]))
    return "worst deviation %.3f ms (%s), tolerance %.1f ms%s" % (
        worst[0], worst[1], TOL_MS,
        "; beyond it by the client's own wait: " + ", ".join(relaxed) if relaxed else "")


def test_curl_lookup(env):
    """curl resolves a name in a helper thread: the lookup still times the fetch."""
    need("curl")
    env.require_server()
    url = "https://%s:%d/hello" % (TEST_NAME, env.port)
    cmd = in_private_hosts(env, ["curl", "-sk", url])
    rc, out, err, path = env.trace("curl_lookup", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    expect(e["name"] == url, "name %r, want %r" % (e["name"], url))
    expect(e["startTime"] == e["domainLookupStart"] < e["domainLookupEnd"] <= e["connectStart"],
           "lookup not before the connect: start %r lookup [%r, %r] connect %r"
           % (e["startTime"], e["domainLookupStart"], e["domainLookupEnd"], e["connectStart"]))
    check_order(e, 0)
    expect(e["tlstrace"]["connectAttempts"] == 1, "connectAttempts %r" % e["tlstrace"]["connectAttempts"])


def test_tls_details(env):
    """Protocol version, cipher, ALPN and nextHopProtocol, for TLS 1.3 and 1.2."""
    need("curl")
    env.require_server()
    url = env.url("/hello")
    # TLS 1.3 hides the server's ALPN answer: an HTTP/1.1 request cannot tell
    # "agreed http/1.1" from "no ALPN", so it is reported unknown ("")
    cases = [("1.3", [], "TLSv1.3", "TLS_", ""),
             # TLS 1.2: the ServerHello is in the clear and our server chose no ALPN
             ("1.2", ["--tls-max", "1.2"], "TLSv1.2", "TLS_ECDHE_", "")]
    for name, opts, version, cipher, alpn in cases:
        rc, out, err, path = env.trace("tls_details_" + name.replace(".", ""),
                                       ["curl", "-sk", "-o", "/dev/null"] + opts + [url],
                                       timeout=30)
        expect(rc == 0, "TLS %s: tlstrace %s%s" % (name, describe_exit(rc), stderr_hint(err)))
        entries = read_entries(path)
        expect_count(entries, 1)
        e = entries[0]
        tls = e["tlstrace"]["tls"]
        expect(tls.get("version") == version, "TLS %s: tls.version %r" % (name, tls.get("version")))
        expect(tls.get("cipher", "").startswith(cipher),
               "TLS %s: tls.cipher %r, want %s..." % (name, tls.get("cipher"), cipher))
        expect(tls.get("alpn") == alpn, "TLS %s: tls.alpn %r, want %r" % (name, tls.get("alpn"), alpn))
        expect(tls.get("resumed") is False, "TLS %s: resumed %r" % (name, tls.get("resumed")))
        expect(e["nextHopProtocol"] == "http/1.1", "TLS %s: nextHopProtocol %r"
               % (name, e["nextHopProtocol"]))


def test_tls_resumption(env):
    """A resumed session is a new connection with full timings, marked resumed."""
    need("openssl")
    env.require_server()
    sess = env.path("session.pem")
    if os.path.exists(sess):
        os.unlink(sess)
    request = "GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % env.port
    results = []
    for i, opt in enumerate(["-sess_out", "-sess_in"]):
        results.append(s_client(env, "tls_resumption_%d" % i, request, (), [opt, sess])[1])
    first, second = results
    expect(first["tlstrace"]["tls"].get("resumed") is False, "the first session is resumed?")
    expect(second["tlstrace"]["tls"].get("resumed") is True, "the second session is not resumed")
    check_new_connection(second, 1, env.port)
    expect(second["tlstrace"]["reused"] is False, "a resumed session is a new connection")


def test_happy_eyeballs(env):
    """A name with ::1 (nothing listens) and 127.0.0.1: one entry, two attempts."""
    need("curl")
    env.require_server()
    hosts = env.path("hosts.he")
    with open(hosts, "w") as f:
        f.write("::1 %s\n127.0.0.1 %s\n" % (TEST_NAME, TEST_NAME))
    url = "https://%s:%d/hello" % (TEST_NAME, env.port)
    cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts,
           "curl", "-sk", "-o", "/dev/null", url]
    rc, out, err, path = env.trace("happy_eyeballs", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    e = entries[0]
    x = e["tlstrace"]
    expect("failedPhase" not in x, "the fetch failed: %r" % x.get("error"))
    expect(x["connectAttempts"] == 2, "connectAttempts %r, want 2" % x["connectAttempts"])
    expect(x["remoteAddress"] == "127.0.0.1:%d" % env.port, "remoteAddress %r" % x["remoteAddress"])
    expect(e["startTime"] == e["domainLookupStart"] < e["domainLookupEnd"] <= e["connectStart"],
           "the lookup does not start the fetch")
    check_order(e, 0)


def test_plain_http(env):
    """http:// over plain TCP, keep-alive: entries from the socket syscalls."""
    need("curl")
    port = env.plain_port()
    urls = ["http://127.0.0.1:%d/hello" % port, "http://127.0.0.1:%d/size/50000" % port]
    rc, out, err, path = env.trace("plain_http", ["curl", "-s", "-o", "/dev/null", "-o",
                                                  "/dev/null"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, (e, url, size) in enumerate(zip(entries, urls, (6, 50000))):
        expect(e["name"] == url, "entry %d: name %r, want %r" % (i, e["name"], url))
        expect(e["responseStatus"] == 200, "entry %d: status %r" % (i, e["responseStatus"]))
        expect(e["encodedBodySize"] == size, "entry %d: encodedBodySize %r" % (i, e["encodedBodySize"]))
        expect(e["secureConnectionStart"] == 0, "entry %d: secureConnectionStart %r, want 0"
               % (i, e["secureConnectionStart"]))
        expect("tls" not in e["tlstrace"], "entry %d: a tls object on plain HTTP" % i)
        expect(e["nextHopProtocol"] == "http/1.1", "entry %d: nextHopProtocol %r" % (i, e["nextHopProtocol"]))
        check_order(e, i)
    first, second = entries
    expect(first["connectStart"] > 0 and first["connectEnd"] >= first["connectStart"],
           "first: connect fields")
    expect(first["connectEnd"] == first["tlstrace"]["tcpConnectEnd"],
           "plain: connectEnd %r is not TCP ESTABLISHED %r"
           % (first["connectEnd"], first["tlstrace"]["tcpConnectEnd"]))
    expect(second["tlstrace"]["reused"] is True, "second: not reused")


def check_h2(entries, urls, statuses, sizes):
    expect_count(entries, len(urls))
    by_name = {e["name"]: e for e in entries}
    expect(sorted(by_name) == sorted(urls), "names %r, want %r" % (sorted(by_name), sorted(urls)))
    ids = {e["tlstrace"]["connectionId"] for e in entries}
    expect(len(ids) == 1, "%d connections, want one" % len(ids))
    fresh = [e for e in entries if not e["tlstrace"]["reused"]]
    expect(len(fresh) == 1, "%d entries carry the connection's timings, want 1" % len(fresh))
    check_new_connection(fresh[0], 0, int(urls[0].rsplit(":", 1)[1].split("/")[0]))
    for i, (url, status, size) in enumerate(zip(urls, statuses, sizes)):
        e = by_name[url]
        expect(e["nextHopProtocol"] == "h2", "%s: nextHopProtocol %r" % (url, e["nextHopProtocol"]))
        expect(e["tlstrace"]["tls"].get("alpn") == "h2", "%s: tls.alpn %r"
               % (url, e["tlstrace"]["tls"].get("alpn")))
        expect(e["responseStatus"] == status, "%s: status %r, want %r" % (url, e["responseStatus"], status))
        if size is not None:
            expect(e["encodedBodySize"] == size, "%s: encodedBodySize %r, want %r"
                   % (url, e["encodedBodySize"], size))
        expect("failedPhase" not in e["tlstrace"], "%s failed: %r" % (url, e["tlstrace"].get("error")))
        check_order(e, i)
        if e["tlstrace"]["reused"]:
            expect(e["startTime"] == e["requestStart"] == e["connectEnd"],
                   "%s: a reused stream's fields are not at its requestStart" % url)


def test_h2_curl(env):
    """curl --http2: one entry per stream, the first with the connection's timings."""
    need("curl")
    port = env.h2_port()
    urls = ["https://localhost:%d/hello" % port, "https://localhost:%d/big" % port]
    rc, out, err, path = env.trace("h2_curl", ["curl", "-sk", "--http2", "-o", "/dev/null",
                                               "-o", "/dev/null"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_h2(read_entries(path), urls, [200, 200], [6, 50000])


def test_h2_nghttp(env):
    """nghttp: three concurrent streams on one connection, one of them a 404."""
    need("nghttp")
    port = env.h2_port()
    urls = ["https://localhost:%d/%s" % (port, p) for p in ("hello", "big", "missing")]
    rc, out, err, path = env.trace("h2_nghttp", ["nghttp", "-n"] + urls, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    check_h2(read_entries(path), urls, [200, 200, 404], [6, 50000, None])


def check_gnutls(e, i, url, size):
    check_shape(e, i)
    check_response(e, i, url, 200, size)
    tls = e["tlstrace"]["tls"]
    expect(tls["library"] == "gnutls", "entry %d: tls.library %r" % (i, tls["library"]))
    expect(tls.get("version") == "TLSv1.3", "entry %d: tls.version %r" % (i, tls.get("version")))
    expect(tls["serverName"] == "localhost", "entry %d: serverName %r" % (i, tls["serverName"]))
    expect(e["secureConnectionStart"] > e["connectStart"] > 0, "entry %d: no handshake" % i)
    check_order(e, i)


def test_wget_gnutls(env):
    """wget (GnuTLS): one entry, timed like OpenSSL's clients."""
    need("wget")
    env.require_server()
    url = env.url("/size/3000")
    rc, out, err, path = env.trace("wget_gnutls", ["wget", "-q", "-O", "/dev/null",
                                                   "--no-check-certificate", url], timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    check_gnutls(entries[0], 0, url, 3000)


def test_node_fetch(env):
    """Node.js (OpenSSL inside the executable, memory BIOs): fetch() twice; each
    session is bound to its socket by its ciphertext and fully timed."""
    need("node")
    env.require_server()
    urls = [env.url("/hello"), env.url("/size/3000")]
    rc, out, err, path = env.trace("node_fetch", ["node", "-e", NODE_FETCH] + urls, timeout=60)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 2)
    for i, (e, url, size) in enumerate(zip(entries, urls, (6, 3000))):
        check_shape(e, i)
        check_response(e, i, url, 200, size)
        expect(e["tlstrace"]["comm"].startswith("node"), "entry %d: comm %r" % (i, e["tlstrace"]["comm"]))
    first = entries[0]
    check_new_connection(first, 0, env.port)
    expect(first["tlstrace"]["connectionObserved"] is True, "the connection was not bound")
    # undici may or may not keep the connection: either way the entry is right
    if entries[1]["tlstrace"]["reused"]:
        check_reused(entries[1], 1, first)
    else:
        check_new_connection(entries[1], 1, env.port)


def test_git_https(env):
    """git over https (git-remote-https, libcurl-gnutls): the smart-HTTP probe is
    traced, here answered 404 by the test server."""
    need("git")
    env.require_server()
    url = "https://localhost:%d/repo.git" % env.port
    rc, out, err, path = env.trace("git_https", ["env", "GIT_SSL_NO_VERIFY=1", "GIT_TERMINAL_PROMPT=0",
                                                 "git", "ls-remote", url], timeout=60)
    expect(rc != 0, "git ls-remote succeeded against a server with no repository")
    entries = read_entries(path)
    expect(entries, "no entries")
    e = entries[0]
    expect(e["name"].startswith(url + "/info/refs"), "name %r" % e["name"])
    expect(e["responseStatus"] == 404, "status %r" % e["responseStatus"])
    expect(e["tlstrace"]["tls"]["library"] == "gnutls", "tls.library %r" % e["tlstrace"]["tls"]["library"])
    expect(e["tlstrace"]["comm"].startswith("git"), "comm %r" % e["tlstrace"]["comm"])
    expect(e["tlstrace"]["reused"] is False, "reused")
    expect(e["secureConnectionStart"] > e["connectStart"] > 0, "no handshake timed")
    check_order(e, 0)


def test_gnutls_cli(env):
    """gnutls-cli with a request on its stdin."""
    need("gnutls-cli")
    env.require_server()
    request = "GET /hello HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n" % env.port
    script = 'cat "$0"; sleep 1'
    reqfile = env.path("gnutls_cli.request")
    with open(reqfile, "w") as f:
        f.write(request)
    cmd = ["sh", "-c", 'sh -c "$0" "$1" | exec gnutls-cli --insecure -p "$2" localhost',
           script, reqfile, str(env.port)]
    rc, out, err, path = env.trace("gnutls_cli", cmd, timeout=30)
    entries = read_entries(path)
    expect_count(entries, 1)
    check_gnutls(entries[0], 0, env.url("/hello"), 6)


def test_curl_200_sequential(env):
    """200 short-lived curl processes in a row: one entry each, none lost."""
    need("curl")
    env.require_server()
    n = 200
    url = env.url("/hello")
    script = 'for i in $(seq %d); do curl -sk -o /dev/null "$0" || exit 1; done' % n
    rc, _, err, path = env.trace("curl_200_sequential", ["sh", "-c", script, url], timeout=180)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, n)
    for i, e in enumerate(entries):
        check_shape(e, i)
        check_response(e, i, url, 200, 6)
        expect(e["tlstrace"]["reused"] is False, "entry %d: reused should be false" % i)
    pids = {e["tlstrace"]["pid"] for e in entries}
    expect(len(pids) == n, "%d distinct pids, want %d" % (len(pids), n))
