# SPDX-License-Identifier: MIT
"""End-to-end tests of redaction: one curl fetch carrying credentials in its
query string, an X-Api-Key header and a Cookie, traced into every output (JSON,
HAR, text, chrome-trace, OTLP spans): no secret in any of them by default, the
rest as sent; with --no-redact, the secrets as sent."""

import json
import os

from harness import describe_exit, expect, need, read_entries, stderr_hint
from t_har import header, validate
from t_otlp import Receiver, check_requests, roots_and_children

SECRETS = ["s3cret1", "s3cret2", "s3cret3", "s3cret4"]
QUERY = "?access_token=s3cret1&x=1&password=s3cret2"
QUERY_REDACTED = "?access_token=REDACTED&x=1&password=REDACTED"


def curl_command(env):
    return ["curl", "-sk", "-o", "/dev/null", "-H", "X-Api-Key: s3cret3",
            "-H", "Cookie: sess=s3cret4; theme=dark", env.url("/hello" + QUERY)]


def trace_format(env, test, fmt, ext, opts):
    """`tlstrace -f FMT -o FILE OPTS -- curl ...`; return (FILE's bytes, FILE, stderr)."""
    out = env.path("%s.%s" % (test, ext))
    if os.path.exists(out):
        os.unlink(out)
    rc, so, se = env.procs.run([env.tlstrace, "-f", fmt, "-o", out] + opts + ["--"] +
                               curl_command(env), 60, "tlstrace -f %s" % fmt)
    expect(rc == 0, "tlstrace -f %s %s%s" % (fmt, describe_exit(rc), stderr_hint(se)))
    expect(os.path.exists(out), "no output file %s" % out)
    with open(out, "rb") as f:
        return f.read(), out, so + se


def trace_everything(env, test, opts):
    """Every output of the same fetch: {what: text}, plus the parsed JSON entries,
    HAR entries and OTLP entry spans."""
    need("curl")
    env.require_server()
    rcv = Receiver(env, test)
    outputs = {}
    rc, so, se, path = env.trace(test, curl_command(env), timeout=60,
                                 opts=["--otlp-endpoint", rcv.url] + opts)
    expect(rc == 0, "tlstrace -f json %s%s" % (describe_exit(rc), stderr_hint(se)))
    expect("OTLP" not in se, "OTLP warning: %s" % se.strip())
    with open(path, "rb") as f:
        outputs["json"] = f.read()
    outputs["json stderr"] = (so + se).encode()
    entries = read_entries(path)
    check_requests(rcv.requests())
    for name in ("spans_path", "requests_path"):
        with open(getattr(rcv, name), "rb") as f:
            outputs["otlp " + name] = f.read()
    roots, _ = roots_and_children(rcv.spans())
    for fmt, ext in (("har", "har"), ("text", "txt"), ("chrome-trace", "trace.json")):
        raw, out, err = trace_format(env, test, fmt, ext, opts)
        outputs[fmt] = raw
        outputs[fmt + " stderr"] = err.encode()
        if fmt == "har":
            har = validate(env, out)
    expect(len(entries) == 1, "%d JSON entries, want 1" % len(entries))
    expect(len(roots) == 1, "%d entry spans, want 1" % len(roots))
    hars = har["log"]["entries"]
    expect(len(hars) == 1, "%d HAR entries, want 1" % len(hars))
    return outputs, entries[0], hars[0], roots[0]


def check_common(env, query, outputs, e, h, span):
    """What every output says whether redacted or not: the URL with query, the
    header and cookie names."""
    url = env.url("/hello" + query)
    expect(e["name"] == url, "JSON name %r, want %r" % (e["name"], url))
    expect(e["responseStatus"] == 200, "JSON responseStatus %r" % e["responseStatus"])
    expect(h["request"]["url"] == url, "HAR url %r, want %r" % (h["request"]["url"], url))
    expect(span["attributes"].get("url.full") == url, "OTLP url.full %r, want %r"
           % (span["attributes"].get("url.full"), url))
    trace = json.loads(outputs["chrome-trace"])
    names = [ev.get("name") for ev in trace if ev.get("cat") == "resource"]
    expect(names == [url], "chrome-trace slices %r, want [%r]" % (names, url))
    rq = h["request"]
    query_pairs = [(p["name"], p["value"]) for p in rq["queryString"]]
    expect([n for n, _ in query_pairs] == ["access_token", "x", "password"] and
           query_pairs[1] == ("x", "1"), "HAR queryString %r" % query_pairs)
    names = [p["name"] for p in rq["headers"]]
    expect("X-Api-Key" in names and "Cookie" in names, "HAR request headers %r" % names)
    expect([c["name"] for c in rq["cookies"]] == ["sess", "theme"], "HAR cookies %r"
           % rq["cookies"])
    # the text view: a row for the fetch, its URL cut in the middle to fit 80
    # columns ("localhost:PORT...DACTED"), then the summary by host
    text = outputs["text"].decode(errors="replace")
    rows = [l.split() for l in text.splitlines() if "/curl " in l]
    expect(len(rows) == 1 and rows[0][2] == "200", "text rows %r" % rows)
    head, cut, tail = rows[0][-1].partition("...")
    plain = url.split("://", 1)[1]
    expect(plain.startswith(head) and plain.endswith(tail) and (cut or head == plain),
           "the text view's URL %r is not %r" % (rows[0][-1], plain))


def test_redact_all_outputs(env):
    """By default no secret of the fetch (query parameters, X-Api-Key, Cookie)
    is in any output, nor in tlstrace's messages; the rest of the URL, the
    header and cookie names are."""
    outputs, e, h, span = trace_everything(env, "redact_all_outputs", [])
    for what, raw in outputs.items():
        found = [s for s in SECRETS if s.encode() in raw]
        expect(not found, "%s holds %s" % (what, ", ".join(found)))
    check_common(env, QUERY_REDACTED, outputs, e, h, span)
    rq = h["request"]
    pairs = [(p["name"], p["value"]) for p in rq["queryString"]]
    expect(pairs == [("access_token", "REDACTED"), ("x", "1"), ("password", "REDACTED")],
           "HAR queryString %r" % pairs)
    expect(header(rq["headers"], "X-Api-Key") == ["REDACTED"],
           "HAR X-Api-Key %r" % header(rq["headers"], "X-Api-Key"))
    expect(header(rq["headers"], "Cookie") == ["sess=REDACTED; theme=REDACTED"],
           "HAR Cookie %r" % header(rq["headers"], "Cookie"))
    expect(all(c["value"] == "REDACTED" for c in rq["cookies"]), "HAR cookies %r"
           % rq["cookies"])
    expect(span["attributes"].get("server.address") == "localhost",
           "OTLP server.address %r" % span["attributes"].get("server.address"))


def test_redact_off(env):
    """--no-redact: the same fetch keeps its secrets in every output that
    carries them (headers go to HAR alone)."""
    outputs, e, h, span = trace_everything(env, "redact_off", ["--no-redact"])
    want = {"json": SECRETS[:2], "otlp spans_path": SECRETS[:2], "har": SECRETS,
            "chrome-trace": SECRETS[:2]}
    for what, secrets in want.items():
        missing = [s for s in secrets if s.encode() not in outputs[what]]
        expect(not missing, "%s lacks %s" % (what, ", ".join(missing)))
    check_common(env, QUERY, outputs, e, h, span)
    rq = h["request"]
    expect(header(rq["headers"], "X-Api-Key") == ["s3cret3"],
           "HAR X-Api-Key %r" % header(rq["headers"], "X-Api-Key"))
    expect(header(rq["headers"], "Cookie") == ["sess=s3cret4; theme=dark"],
           "HAR Cookie %r" % header(rq["headers"], "Cookie"))
