# SPDX-License-Identifier: MIT
"""--timing-only: handshake probes alone, requests timed from socket
syscalls. Loaded by run.py (see load_test_modules)."""

import re

from run import describe_exit, expect, need, read_entries, stderr_hint


def hits(err):
    """The uprobe hits of --stats, by name."""
    return {k: int(v) for k, v in re.findall(r"hits\.([a-z_]+)=(\d+)", err)}


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
        expect("responseStatus" in x.get("unknown", []), "entry %d: unknown %r"
               % (i, x.get("unknown")))
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


TESTS = [
    ("timing_only_curl", test_timing_only_curl),
]
