# SPDX-License-Identifier: MIT
"""Whole calls and bytes not seen: a write past 16 KiB is captured whole
(HTTP/2 frame headers beyond it are followed), and records lost to a full
ring buffer become gaps of exact length, so every entry is either right or
says it is incomplete and what it cannot vouch for: never a false failure,
never a wrong size given as known."""

import os
import re
import subprocess

from harness import describe_exit, expect, need, read_entries, stderr_hint

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_PYTHON = "/usr/bin/python3"  # Debian's, with python3-h2
CURL_W = "%{http_code} %{size_download}\n"
BIG = 64 << 20


def debian_python_h2():
    need(DEBIAN_PYTHON)
    import subprocess
    r = subprocess.run([DEBIAN_PYTHON, "-c", "import h2"], capture_output=True)
    expect(r.returncode == 0, "python3-h2 is not installed (scripts/install-deps.sh)")


def test_capture_h2_post(env):
    """Python's ssl with the h2 library writes a 40 KB POST (HEADERS and
    three DATA frames) in one SSL_write, then GETs twice on the same
    connection, against nghttpd: three entries, all right."""
    debian_python_h2()
    port = env.h2_port()
    rc, out, err, path = env.trace("capture_h2_post", [DEBIAN_PYTHON,
                                   os.path.join(HERE, "h2_post.py"), str(port), "40000"],
                                   60, opts=["--stats"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.splitlines() == ["200 6", "200 6", "200 50000"], "client printed %r" % out)
    entries = read_entries(path)
    got = [(e["tlstrace"].get("method"), e["name"], e["responseStatus"], e["encodedBodySize"],
            e["tlstrace"].get("error"), e["tlstrace"].get("incomplete"))
           for e in entries]
    base = "https://localhost:%d" % port
    want = [("POST", base + "/hello", 200, 6, None, None),
            ("GET", base + "/hello", 200, 6, None, None),
            ("GET", base + "/big", 200, 50000, None, None)]
    expect(got == want, "entries %r, want %r" % (got, want))
    for e in entries:
        expect(e["nextHopProtocol"] == "h2", "nextHopProtocol %r" % e["nextHopProtocol"])
    stats = re.search(r"bytes_not_captured=(\d+)", err)
    expect(stats and stats.group(1) == "0", "bytes not captured%s" % stderr_hint(err))


def check_right_or_incomplete(entries, want_url, curl_out):
    """The one entry is right (status and size as curl got them) or says it
    is incomplete, naming what it cannot vouch for; never a failure."""
    expect(len(entries) == 1, "%d entries: %r" % (len(entries), [e["name"] for e in entries]))
    e, t = entries[0], entries[0]["tlstrace"]
    expect(e["name"] == want_url, "name %r" % e["name"])
    expect(curl_out.split() == ["200", str(BIG)], "curl printed %r" % curl_out)
    expect(not t.get("failedPhase") and not t.get("error"),
           "a failure: %r %r" % (t.get("failedPhase"), t.get("error")))
    unknown = t.get("unknown") or []
    if t.get("incomplete"):
        expect(isinstance(t["incomplete"], str) and unknown,
               "incomplete %r names nothing unknown: %r" % (t["incomplete"], unknown))
        if "responseStatus" not in unknown:
            expect(e["responseStatus"] == 200, "status %r" % e["responseStatus"])
        if "encodedBodySize" not in unknown:
            expect(e["encodedBodySize"] == BIG, "a size given as known: %r"
                   % e["encodedBodySize"])
        return "incomplete"
    expect(e["responseStatus"] == 200 and e["encodedBodySize"] == BIG,
           "complete, yet status %r size %r" % (e["responseStatus"], e["encodedBodySize"]))
    return "right"


def drop_run(env, test, url, http):
    rc, out, err, path = env.trace(test, ["curl", "-sk", http, "-o", "/dev/null", "-w", CURL_W,
                                          url], 120, opts=["--ringbuf-size", "1", "--stats"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    lost = re.search(r"records_lost=(\d+)", err)
    expect(lost, "--stats says no records_lost%s" % stderr_hint(err))
    return check_right_or_incomplete(read_entries(path), url, out), int(lost.group(1))


def test_capture_drops_http1(env):
    """A 64 MiB download over HTTP/1.1 through a 1 MiB ring buffer: records
    of the reads before the body's range is told may be lost, yet the entry
    has the exact body size (its lost reads are gaps inside the
    Content-Length body) or says it is incomplete."""
    need("curl")
    env.require_server()
    kind, lost = drop_run(env, "capture_drops_http1", env.url("/size/%d" % BIG), "--http1.1")
    expect(lost > 0 or kind == "right", "no loss, yet %s" % kind)


def test_capture_drops_h2(env):
    """The same over HTTP/2 (curl --http2 to nghttpd)."""
    need("curl")
    port = env.h2_port()
    big = os.path.join(env.path("h2www"), "big64")
    if not os.path.exists(big) or os.path.getsize(big) != BIG:
        with open(big, "wb") as f:
            f.truncate(BIG)
    drop_run(env, "capture_drops_h2", "https://localhost:%d/big64" % port, "--http2")


BODY = 4 << 20  # each body below: big enough that most of it comes after its range is told


def test_capture_body_not_copied(env):
    """curl on one connection: a 4 MiB body of known length, one chunked,
    one gzip-compressed, one running to the close; then a 4 MiB upload.
    The collector tells BPF the body bytes it only counts, which are then
    not copied (--stats body_bytes_skipped), yet every entry is exact and
    complete: sizes as curl counted them, the compressed one inflated
    whole (its bytes are never skipped), the upload's PUT answered."""
    need("curl")
    env.require_server()
    paths = ["/size/%d" % BODY, "/chunked/%d" % BODY, "/gzip/1000000",
             "/close-delimited/%d" % BODY]
    cmd = ["curl", "-sk", "--http1.1"]
    for p in paths:
        cmd += ["-o", "/dev/null", "-w", CURL_W, env.url(p)]
    rc, out, err, path = env.trace("capture_body_not_copied", cmd, 120, opts=["--stats"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    sizes = [int(ln.split()[1]) for ln in out.splitlines()]
    expect(len(sizes) == 4 and out.split()[::2] == ["200"] * 4, "curl printed %r" % out)
    entries = read_entries(path)
    got = [(e["name"], e["responseStatus"], e["encodedBodySize"],
            e["tlstrace"].get("incomplete"), e["tlstrace"].get("unknown")) for e in entries]
    want = [(env.url(p), 200, n, None, None) for p, n in zip(paths, sizes)]
    expect(got == want, "entries %r, want %r" % (got, want))
    gz = entries[2]
    expect(gz["decodedBodySize"] == 1000000, "gzip decodedBodySize %r" % gz["decodedBodySize"])
    stats = dict(re.findall(r"(body_skips|body_bytes_skipped|bytes_not_captured)=(\d+)", err))
    skipped = int(stats.get("body_bytes_skipped", 0))
    # three 4 MiB bodies may be skipped; a range comes a few reads after its head
    # here (88-99% of them not copied), later on a busy machine
    expect(int(stats.get("body_skips", 0)) >= 3 and skipped > BODY,
           "bodies not skipped: %r%s" % (stats, stderr_hint(err)))
    expect(stats.get("bytes_not_captured") == "0", "bytes lost: %r" % stats)

    upload = env.path("capture_body_upload.bin")
    with open(upload, "wb") as f:
        f.write(b"u" * BODY)
    rc, out, err, path = env.trace("capture_body_upload",
                                   ["curl", "-sk", "--http1.1", "-T", upload, "-o", "/dev/null",
                                    "-w", CURL_W, env.url("/hello")], 120, opts=["--stats"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(out.split() == ["200", "6"], "curl printed %r" % out)
    got = [(e["tlstrace"].get("method"), e["responseStatus"], e["encodedBodySize"],
            e["tlstrace"].get("incomplete")) for e in read_entries(path)]
    expect(got == [("PUT", 200, 6, None)], "entries %r" % got)
    skipped = int((re.search(r"body_bytes_skipped=(\d+)", err) or [0, 0])[1])
    expect(skipped > BODY // 2, "upload body not skipped: %d bytes%s" % (skipped,
                                                                         stderr_hint(err)))


def test_capture_body_skip_reused_ssl(env):
    """One SSL object reused for a new connection (SSL_clear, SSL_set_fd):
    a body range told for the last connection (a body to the close, or one
    the client stopped reading) never applies to the new one, whose heads
    are copied: the fetches after it are exact (the version that first left
    bodies uncopied skipped their heads and wrote them status 0)."""
    need("cc")
    env.require_server()
    exe = env.path("reuse_client")
    r = subprocess.run(["cc", "-O2", "-Wall", "-o", exe, os.path.join(HERE, "reuse_client.c"),
                        "-lssl", "-lcrypto"], capture_output=True, text=True, timeout=120)
    expect(r.returncode == 0, "cannot build reuse_client%s" % stderr_hint(r.stderr))
    paths = ["/close-delimited/%d" % BODY, "/hello", "/size/%d@50000" % BODY, "/hello",
             "/chunked/%d" % BODY, "/hello"]
    rc, out, err, path = env.trace("capture_body_skip_reused_ssl", [exe, str(env.port)] + paths,
                                   120, opts=["--stats"])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(len(out.splitlines()) == len(paths), "client printed %r" % out)
    got = [(e["name"], e["responseStatus"], e["encodedBodySize"], e["tlstrace"].get("incomplete"))
           for e in read_entries(path)]
    base = "https://localhost:%d" % env.port
    hello = (base + "/hello", 200, 6, None)
    # the response the client stopped reading is not judged here
    got = [g for g in got if not g[0].startswith(base + "/size/")]
    want = [(base + "/close-delimited/%d" % BODY, 200, BODY, None), hello, hello,
            (base + "/chunked/%d" % BODY, 200, BODY, None), hello]
    expect(got == want, "entries %r, want %r" % (got, want))
    skips = re.search(r"body_skips=(\d+)", err)
    expect(skips and int(skips.group(1)) >= 2, "no body range told%s" % stderr_hint(err))
