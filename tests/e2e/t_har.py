# SPDX-License-Identifier: MIT
"""End-to-end tests of -f har: real clients traced, every file checked with the
npm package har-validator (the HAR 1.2 JSON Schema) and against what the
client sent and received."""

import datetime
import json
import os
import re
import shutil
import stat
import subprocess
import sys

from harness import (HERE, PY_CLIENT, describe_exit, expect, need, node_module, read_line,
                     server_certs, stderr_hint, wall_ms)

SLACK_MS = 1.0  # startedDateTime is truncated to the millisecond
TIMINGS = ["blocked", "dns", "connect", "ssl", "send", "wait", "receive"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# An HTTPS server that sets a cookie and redirects: GET /login.
#   argv: CERT KEY; prints its port, then serves until killed.
COOKIE_SERVER = r"""
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = b"moved\n"
        self.send_response(302)
        self.send_header("Location", "/home")
        self.send_header("Set-Cookie", "sid=servercookie42; Path=/app; HttpOnly; Secure")
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def trace_har(env, test, command, opts=(), timeout=30):
    """Run `tlstrace -f har -o FILE OPTS -- command`; return (rc, stdout, stderr, FILE, window)
    where window is the wall-clock span (ms) the run took."""
    out = env.path(test + ".har")
    if os.path.exists(out):
        os.unlink(out)
    t0 = wall_ms()
    rc, so, se = env.procs.run([env.tlstrace, "-f", "har", "-o", out] + list(opts) + ["--"] +
                               command, timeout, "tlstrace")
    return rc, so, se, out, (t0, wall_ms())


def validate(env, path):
    """har-validator accepts the file; return it parsed."""
    node = need("node")
    validator = node_module("har-validator")
    rc, out, err = env.procs.run([node, os.path.join(HERE, "har_validate.js"), validator, path],
                                 60, "har_validate.js")
    expect(rc == 0, "har-validator rejects %s: %s%s" % (os.path.basename(path),
                                                         " | ".join(out.splitlines()[:5]),
                                                         stderr_hint(err)))
    with open(path, encoding="utf-8") as f:
        har = json.load(f)
    expect(har["log"]["version"] == "1.2", "log.version %r" % har["log"]["version"])
    expect(har["log"]["creator"]["name"] == "tlstrace", "creator %r" % har["log"]["creator"])
    return har


def iso_ms(s):
    expect(ISO.match(s or ""), "startedDateTime %r is not ISO 8601 in UTC with ms" % s)
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e3


def header(pairs, name):
    """The values of the fields called name (any case)."""
    return [p["value"] for p in pairs if p["name"].lower() == name.lower()]


def check_entry(e, i, window):
    """What the schema does not check: the timings' ranges, time as their sum
    (ssl is inside connect), the start within the run."""
    t = e["timings"]
    for k in TIMINGS:
        expect(isinstance(t.get(k), (int, float)), "entry %d: timings.%s %r" % (i, k, t.get(k)))
        expect(t[k] >= (0 if k in ("send", "wait", "receive") else -1),
               "entry %d: timings.%s = %r" % (i, k, t[k]))
    total = sum(t[k] for k in TIMINGS if k != "ssl" and t[k] >= 0)
    expect(abs(e["time"] - total) < 1e-6, "entry %d: time %r, timings sum to %r"
           % (i, e["time"], total))
    if t["ssl"] >= 0:
        expect(0 <= t["ssl"] <= t["connect"], "entry %d: ssl %r not inside connect %r"
               % (i, t["ssl"], t["connect"]))
    start = iso_ms(e["startedDateTime"])
    lo, hi = window
    expect(lo - SLACK_MS <= start and start + e["time"] <= hi + SLACK_MS,
           "entry %d: %s + %.3f ms is outside the run (%.3f..%.3f ms since the epoch)"
           % (i, e["startedDateTime"], e["time"], lo, hi))
    expect("text" not in e["response"]["content"], "entry %d: a body was exported" % i)


def check_new(e, i):
    t = e["timings"]
    expect(not e["_reused"], "entry %d: _reused" % i)
    expect(t["connect"] > 0 and t["ssl"] > 0, "entry %d: a new TLS connection with connect %r, "
           "ssl %r" % (i, t["connect"], t["ssl"]))
    expect(t["blocked"] >= 0, "entry %d: blocked %r" % (i, t["blocked"]))
    expect(t["wait"] > 0, "entry %d: wait %r" % (i, t["wait"]))
    tls = e.get("_tls", {})
    expect(tls.get("library") == "openssl" and tls.get("version", "").startswith("TLSv1."),
           "entry %d: _tls %r" % (i, tls))


def check_reused(e, i, first):
    t = e["timings"]
    expect(e["_reused"], "entry %d: not _reused" % i)
    expect([t[k] for k in ("blocked", "dns", "connect", "ssl")] == [-1] * 4,
           "entry %d on a reused connection: timings %r" % (i, t))
    expect(e["connection"] == first["connection"], "entry %d: connection %r, the first's %r"
           % (i, e["connection"], first["connection"]))


def curl_secret_fetch(env, test, opts):
    need("curl")
    env.require_server()
    urls = [env.url("/hello?x=1&y=a%20b"), env.url("/gzip/5000")]
    cmd = ["curl", "-sk", "-o", "/dev/null", "-o", "/dev/null",
           "-H", "Authorization: Bearer secret123", "-H", "Cookie: a=b"] + urls
    rc, _, err, path, window = trace_har(env, test, cmd, opts)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    mode = stat.S_IMODE(os.stat(path).st_mode)
    expect(mode == 0o600, "%s has mode %o, want 600" % (os.path.basename(path), mode))
    with open(path, "rb") as f:
        raw = f.read()
    har = validate(env, path)
    entries = har["log"]["entries"]
    expect([e["request"]["url"] for e in entries] == urls, "urls %r, want %r"
           % ([e["request"]["url"] for e in entries], urls))
    expect("pages" not in har["log"], "pages without --by-process")
    for i, e in enumerate(entries):
        check_entry(e, i, window)
        expect(e["request"]["method"] == "GET", "entry %d: method %r" % (i, e["request"]["method"]))
        for part in ("request", "response"):
            expect(e[part]["httpVersion"] == "HTTP/1.1", "entry %d: %s.httpVersion %r"
                   % (i, part, e[part]["httpVersion"]))
        expect(e["response"]["status"] == 200, "entry %d: status %r" % (i, e["response"]["status"]))
        expect(e["serverIPAddress"] in ("127.0.0.1", "::1"), "entry %d: serverIPAddress %r"
               % (i, e.get("serverIPAddress")))
        expect(e["_comm"] == "curl" and e["_role"] == "client", "entry %d: _comm %r _role %r"
               % (i, e["_comm"], e["_role"]))
        # the executable and cgroup, as JSON's exe and cgroup (the cgroup: tlstrace's own here)
        expect(e.get("_exe") == os.path.realpath(shutil.which("curl")), "entry %d: _exe %r"
               % (i, e.get("_exe")))
        with open("/proc/self/cgroup") as f:
            own = [l[3:].rstrip("\n") for l in f if l.startswith("0::")]
        expect([e.get("_cgroup")] == own and isinstance(e.get("_cgroupId"), int),
               "entry %d: _cgroup %r _cgroupId %r, the test's cgroup %r"
               % (i, e.get("_cgroup"), e.get("_cgroupId"), own))
        rq = e["request"]["headers"]
        expect(header(rq, "Host") == [env.url("/").split("/")[2]], "entry %d: Host %r"
               % (i, header(rq, "Host")))
        expect(header(rq, "User-Agent") and header(rq, "User-Agent")[0].startswith("curl/"),
               "entry %d: User-Agent %r" % (i, header(rq, "User-Agent")))
        expect(header(e["response"]["headers"], "Content-Length"),
               "entry %d: response headers %r" % (i, e["response"]["headers"]))
    check_new(entries[0], 0)
    check_reused(entries[1], 1, entries[0])
    hello, gz = entries
    expect(hello["request"]["queryString"] == [{"name": "x", "value": "1"},
                                               {"name": "y", "value": "a b"}],
           "queryString %r" % hello["request"]["queryString"])
    expect(header(hello["response"]["headers"], "Content-Type") == ["text/plain"],
           "response Content-Type %r" % header(hello["response"]["headers"], "Content-Type"))
    c = hello["response"]["content"]
    expect((c["size"], c["mimeType"], hello["response"]["bodySize"]) == (6, "text/plain", 6),
           "/hello: content %r, bodySize %r" % (c, hello["response"]["bodySize"]))
    c = gz["response"]["content"]
    expect(header(gz["response"]["headers"], "Content-Encoding") == ["gzip"],
           "/gzip: Content-Encoding %r" % header(gz["response"]["headers"], "Content-Encoding"))
    expect(c["size"] == 5000 and 0 < gz["response"]["bodySize"] < 5000 and
           c.get("compression") == c["size"] - gz["response"]["bodySize"],
           "/gzip/5000: content %r, bodySize %r" % (c, gz["response"]["bodySize"]))
    return raw, entries


def test_har_curl(env):
    """curl, two URLs on one connection with credentials: redacted in headers and
    cookies, the rest as sent; the second entry reused."""
    raw, entries = curl_secret_fetch(env, "har_curl", [])
    expect(b"secret123" not in raw, "the Authorization value is in the file")
    for i, e in enumerate(entries):
        rq = e["request"]
        expect(header(rq["headers"], "Authorization") == ["REDACTED"],
               "entry %d: Authorization %r" % (i, header(rq["headers"], "Authorization")))
        expect(header(rq["headers"], "Cookie") == ["a=REDACTED"],
               "entry %d: Cookie %r" % (i, header(rq["headers"], "Cookie")))
        expect(rq["cookies"] == [{"name": "a", "value": "REDACTED"}],
               "entry %d: cookies %r" % (i, rq["cookies"]))


def test_har_no_redact(env):
    """--no-redact: the same fetch keeps the credentials' values."""
    raw, entries = curl_secret_fetch(env, "har_no_redact", ["--no-redact"])
    expect(b"secret123" in raw, "the Authorization value is not in the file")
    for i, e in enumerate(entries):
        rq = e["request"]
        expect(header(rq["headers"], "Authorization") == ["Bearer secret123"],
               "entry %d: Authorization %r" % (i, header(rq["headers"], "Authorization")))
        expect(header(rq["headers"], "Cookie") == ["a=b"],
               "entry %d: Cookie %r" % (i, header(rq["headers"], "Cookie")))
        expect(rq["cookies"] == [{"name": "a", "value": "b"}],
               "entry %d: cookies %r" % (i, rq["cookies"]))


def test_har_set_cookie(env):
    """A server's Set-Cookie and redirect: the cookie's value redacted, its
    attributes kept, the Location as redirectURL."""
    need("curl")
    cert, key = server_certs(env)
    srv = env.procs.spawn([sys.executable, "-c", COOKIE_SERVER, cert, key],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    port = int(read_line(srv, 10, "the cookie server"))
    url = "https://127.0.0.1:%d/login" % port
    rc, out, err, path, window = trace_har(env, "har_set_cookie", ["curl", "-sk", url])
    expect(rc == 0 and out == "moved\n", "tlstrace %s, curl printed %r%s"
           % (describe_exit(rc), out[:40], stderr_hint(err)))
    with open(path, "rb") as f:
        expect(b"servercookie42" not in f.read(), "the Set-Cookie value is in the file")
    entries = validate(env, path)["log"]["entries"]
    expect(len(entries) == 1, "%d entries, want 1" % len(entries))
    e = entries[0]
    check_entry(e, 0, window)
    check_new(e, 0)
    r = e["response"]
    expect(r["status"] == 302 and r["redirectURL"] == "/home",
           "status %r, redirectURL %r" % (r["status"], r["redirectURL"]))
    expect(header(r["headers"], "Set-Cookie") == ["sid=REDACTED; Path=/app; HttpOnly; Secure"],
           "Set-Cookie %r" % header(r["headers"], "Set-Cookie"))
    expect(r["cookies"] == [{"name": "sid", "value": "REDACTED", "path": "/app",
                             "httpOnly": True, "secure": True}], "cookies %r" % r["cookies"])
    expect(r["content"]["mimeType"] == "text/html; charset=utf-8" and r["content"]["size"] == 6,
           "content %r" % r["content"])
    expect(e["serverIPAddress"] == "127.0.0.1", "serverIPAddress %r" % e.get("serverIPAddress"))


def test_har_h2(env):
    """curl --http2 against nghttpd: HTTP/2 on both sides, the pseudo-header
    fields as HPACK decoded them, lower-case credentials redacted."""
    need("curl")
    port = env.h2_port()
    urls = ["https://localhost:%d/hello" % port, "https://localhost:%d/big" % port]
    cmd = ["curl", "-sk", "--http2", "-H", "Authorization: Bearer h2secret", "-o", "/dev/null",
           "-o", "/dev/null"] + urls
    rc, _, err, path, window = trace_har(env, "har_h2", cmd)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    with open(path, "rb") as f:
        expect(b"h2secret" not in f.read(), "the authorization value is in the file")
    entries = validate(env, path)["log"]["entries"]
    by_url = {e["request"]["url"]: e for e in entries}
    expect(sorted(by_url) == sorted(urls) and len(entries) == 2, "urls %r"
           % [e["request"]["url"] for e in entries])
    for i, url in enumerate(urls):
        e = by_url[url]
        check_entry(e, i, window)
        rq, rs = e["request"], e["response"]
        expect(rq["httpVersion"] == "HTTP/2" and rs["httpVersion"] == "HTTP/2",
               "%s: httpVersion %r / %r" % (url, rq["httpVersion"], rs["httpVersion"]))
        path_ = "/" + url.split("/", 3)[3]
        expect(header(rq["headers"], ":method") == ["GET"] and
               header(rq["headers"], ":path") == [path_] and
               header(rq["headers"], ":authority") == ["localhost:%d" % port],
               "%s: request headers %r" % (url, rq["headers"]))
        expect(header(rq["headers"], "authorization") == ["REDACTED"],
               "%s: authorization %r" % (url, header(rq["headers"], "authorization")))
        expect(rs["status"] == 200 and header(rs["headers"], ":status") == ["200"],
               "%s: status %r, headers %r" % (url, rs["status"], rs["headers"]))
        expect(e["_tls"].get("alpn") == "h2", "%s: _tls %r" % (url, e["_tls"]))
    expect(by_url[urls[1]]["response"]["bodySize"] == 50000, "/big: bodySize %r"
           % by_url[urls[1]]["response"]["bodySize"])
    fresh = [e for e in entries if not e["_reused"]]
    expect(len(fresh) == 1, "%d entries with the connection's timings" % len(fresh))
    check_new(fresh[0], 0)
    check_reused([e for e in entries if e["_reused"]][0], 1, fresh[0])


def test_har_failed(env):
    """A refused connection: still a valid entry, status 0, the failure named,
    the connect phase timed until the refusal."""
    need("curl")
    rc, _, err, path, window = trace_har(env, "har_failed", ["curl", "-sk", "https://127.0.0.1:1/x"])
    expect(rc == 7, "tlstrace %s, want curl's 7%s" % (describe_exit(rc), stderr_hint(err)))
    entries = validate(env, path)["log"]["entries"]
    expect(len(entries) == 1, "%d entries, want 1" % len(entries))
    e = entries[0]
    check_entry(e, 0, window)
    expect(e["response"]["status"] == 0, "status %r" % e["response"]["status"])
    expect(e.get("_failedPhase") == "connect" and "refused" in e.get("_error", "").lower(),
           "_failedPhase %r, _error %r" % (e.get("_failedPhase"), e.get("_error")))
    t = e["timings"]
    expect(t["connect"] >= 0 and t["ssl"] == -1 and t["wait"] == 0 and t["receive"] == 0,
           "timings %r" % t)
    expect(e["request"]["url"] == "https://127.0.0.1:1/", "url %r" % e["request"]["url"])
    expect(e["serverIPAddress"] == "127.0.0.1", "serverIPAddress %r" % e.get("serverIPAddress"))


def test_har_by_process(env):
    """--by-process: a Python client and then curl, a page each, every entry's
    pageref one of them, each page starting at its first entry."""
    need("curl")
    env.require_server()
    url = env.url("/size/100")
    script = '"$0" -c "$1" "$2" /hello /size/2000 && exec curl -sk -o /dev/null "$3"'
    cmd = ["sh", "-c", script, sys.executable, PY_CLIENT, str(env.port), url]
    rc, out, err, path, window = trace_har(env, "har_by_process", cmd, ["--by-process"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out == "/hello 200 6\n/size/2000 200 2000\n", "the client printed %r" % out)
    har = validate(env, path)
    entries, pages = har["log"]["entries"], har["log"].get("pages")
    expect(len(entries) == 3, "%d entries, want 3" % len(entries))
    expect(isinstance(pages, list) and len(pages) == 2, "pages %r" % pages)
    ids = [p["id"] for p in pages]
    expect(len(set(ids)) == 2, "page ids %r" % ids)
    for i, e in enumerate(entries):
        check_entry(e, i, window)
        expect(e.get("pageref") == "pid %d %s" % (e["_pid"], e["_comm"]),
               "entry %d: pageref %r, _pid %r, _comm %r" % (i, e.get("pageref"), e["_pid"],
                                                           e["_comm"]))
    comms = {p["id"]: p["title"] for p in pages}
    py = [e for e in entries if e["_comm"].startswith("python")]
    cu = [e for e in entries if e["_comm"] == "curl"]
    expect(len(py) == 2 and len(cu) == 1, "comms %r" % [e["_comm"] for e in entries])
    expect(py[0]["_pid"] != cu[0]["_pid"], "one pid for python and curl")
    check_new(py[0], 0)
    check_reused(py[1], 1, py[0])
    for group in (py, cu):
        page = [p for p in pages if p["id"] == group[0]["pageref"]][0]
        expect(comms[page["id"]] == group[0]["_comm"], "page %r: title %r" % (page["id"],
                                                                              page["title"]))
        first = min(iso_ms(e["startedDateTime"]) for e in group)
        expect(iso_ms(page["startedDateTime"]) == first, "page %r starts at %s, its first "
               "entry at %.0f" % (page["id"], page["startedDateTime"], first))


def test_har_empty(env):
    """A trace with nothing in it is still a valid HAR, with or without pages."""
    for opts in ([], ["--by-process"]):
        rc, _, err, path, _ = trace_har(env, "har_empty", ["true"], opts)
        expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
        log = validate(env, path)["log"]
        expect(log["entries"] == [], "entries %r" % log["entries"])
        expect(log.get("pages") == ([] if opts else None), "%s: pages %r" % (opts, log.get("pages")))


def test_har_status_and_sizes(env):
    """curl on one connection: 200 with a 1000-byte body, a 404, a chunked
    body and a 103 Early Hints before its 200. statusText is the server's
    reason phrase; headersSize and _transferSize are the bytes curl itself
    read (its size_header counts the 103's head too, as _transferSize does,
    headersSize being the final head's), not an estimate."""
    need("curl")
    env.require_server()
    paths = ["/size/1000", "/status/404", "/chunked/5000", "/early-hints"]
    cmd = ["curl", "-sk", "--http1.1"]
    for p in paths:
        cmd += ["-o", "/dev/null", "-w", "%{http_code} %{size_header} %{size_download}\\n",
                env.url(p)]
    path = env.path("har_status_and_sizes.har")
    rc, out, err = env.procs.run([env.tlstrace, "-f", "har", "-o", path, "--"] + cmd, 60,
                                 "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    seen = [tuple(int(x) for x in l.split()) for l in out.splitlines()]
    with open(path) as f:
        entries = json.load(f)["log"]["entries"]
    expect(len(entries) == len(paths) == len(seen), "%d entries, curl %r" % (len(entries), out))
    texts = [e["response"]["statusText"] for e in entries]
    expect(texts == ["OK", "Not Found", "OK", "OK"], "statusText %r" % texts)
    for e, (code, head, body), p in zip(entries, seen, paths):
        r = e["response"]
        expect(r["status"] == code and r["bodySize"] == body, "%s: status %r bodySize %r, curl %d %d"
               % (p, r["status"], r["bodySize"], code, body))
        # chunk framing is read too: curl's size_download counts the body alone
        framing = r["_transferSize"] - head - r["bodySize"] if "_transferSize" in r else None
        expect(framing == 0 or (p.startswith("/chunked") and framing and framing > 0),
               "%s: _transferSize %r, curl read %d + %d" % (p, r.get("_transferSize"), head,
                                                            body))
        if p != "/early-hints":
            expect(r["headersSize"] == head, "%s: headersSize %r, curl %d"
                   % (p, r["headersSize"], head))
        else:
            expect(0 < r["headersSize"] < head, "%s: headersSize %r, curl %d (two heads)"
                   % (p, r["headersSize"], head))


def test_har_timing_only(env):
    """--timing-only never sees the request or the response: HAR gets method
    "", status -1 and sizes unknown (_timingOnly), not GET and 0, and
    har-validator still accepts the file."""
    need("curl")
    env.require_server()
    path = env.path("har_timing_only.har")
    rc, _, err = env.procs.run([env.tlstrace, "--timing-only", "-f", "har", "-o", path, "--",
                                "curl", "-sk", "-o", "/dev/null", env.url("/hello")], 60,
                               "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = validate(env, path)["log"]["entries"]
    got = [(e["request"]["method"], e["response"]["status"], e["response"]["bodySize"],
            e.get("_timingOnly")) for e in entries]
    expect(got == [("", -1, -1, True)], "entries %r" % got)
