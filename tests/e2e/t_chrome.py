# SPDX-License-Identifier: MIT
"""End-to-end tests of -f chrome-trace beyond its shape: parallel HTTP/2 streams
never share a track with a slice they overlap (Perfetto cannot draw that), and a
failed fetch shows the phases it went through, the failed one to the failure."""

import json

from harness import Failure, describe_exit, expect, need, stderr_hint


def run_chrome(env, name, command, want_rc=0):
    """Trace command with -f chrome-trace; return the events."""
    out = env.path(name + ".trace.json")
    rc, _, err = env.procs.run([env.tlstrace, "-f", "chrome-trace", "-o", out, "--"] + command,
                               30, "tlstrace")
    expect(rc == want_rc, "tlstrace %s, want %d%s" % (describe_exit(rc), want_rc,
                                                      stderr_hint(err)))
    try:
        with open(out) as f:
            events = json.load(f)
    except ValueError as ex:
        raise Failure("not JSON: %s" % ex)
    expect(isinstance(events, list), "not a JSON array")
    return events


def slices(events, cat):
    return [ev for ev in events if ev.get("ph") == "X" and ev.get("cat") == cat]


def check_tracks(events):
    """No two slices of one nesting level overlap on a track; every phase sits
    inside a resource slice of its own track."""
    resources = slices(events, "resource")
    for a in resources:
        for b in resources:
            if a is b or a["pid"] != b["pid"] or a["tid"] != b["tid"]:
                continue
            expect(a["ts"] + a["dur"] <= b["ts"] + 0.001 or b["ts"] + b["dur"] <= a["ts"] + 0.001,
                   "%s and %s overlap on track %d" % (a["name"], b["name"], a["tid"]))
    for p in slices(events, "phase"):
        owner = [r for r in resources if r["pid"] == p["pid"] and r["tid"] == p["tid"] and
                 r["ts"] - 0.002 <= p["ts"] and p["ts"] + p["dur"] <= r["ts"] + r["dur"] + 0.002]
        expect(owner, "phase %s at %.3f is in no resource slice of its track %d"
               % (p["name"], p["ts"], p["tid"]))
    named = {ev["tid"] for ev in events if ev.get("ph") == "M" and ev["name"] == "thread_name"}
    for r in resources:
        expect(r["tid"] in named, "track %d of %s has no name" % (r["tid"], r["name"]))


def test_chrome_trace(env):
    """-f chrome-trace: a valid Trace Event JSON array; one slice per resource,
    two requests one after the other on their connection's one track, with
    their phases nested inside them."""
    need("curl")
    env.require_server()
    urls = [env.url("/hello"), env.url("/size/2000")]
    events = run_chrome(env, "chrome_trace", ["curl", "-sk", "-o", "/dev/null", "-o",
                                              "/dev/null"] + urls)
    for ev in events:
        expect(ev.get("ph") in ("X", "M") and isinstance(ev.get("pid"), int) and
               isinstance(ev.get("tid"), int), "bad event %r" % ev)
    resources = slices(events, "resource")
    expect([r["name"] for r in resources] == urls, "resource slices %r"
           % [r["name"] for r in resources])
    expect(len({r["tid"] for r in resources}) == 1, "two tracks for one connection")
    names = {p["name"] for p in slices(events, "phase")}
    expect({"connect", "tls", "wait", "download"} <= names, "phases %r" % sorted(names))
    check_tracks(events)


def test_chrome_h2_parallel(env):
    """nghttp: three concurrent streams on one connection: each overlapping
    stream on a track of its own, all tracks named for the one connection."""
    need("nghttp")
    port = env.h2_port()
    urls = ["https://localhost:%d/%s" % (port, p) for p in ("hello", "big", "missing")]
    events = run_chrome(env, "chrome_h2_parallel", ["nghttp", "-n"] + urls)
    resources = slices(events, "resource")
    expect(sorted(r["name"] for r in resources) == sorted(urls),
           "resource slices %r" % [r["name"] for r in resources])
    check_tracks(events)
    # the streams were in flight together: they cannot all be on one track
    expect(len({r["tid"] for r in resources}) >= 2,
           "three concurrent streams on %d track(s)" % len({r["tid"] for r in resources}))
    names = {ev["args"]["name"] for ev in events
             if ev.get("ph") == "M" and ev["name"] == "thread_name"}
    conns = {n.split()[1] for n in names}
    expect(len(conns) == 1, "tracks %r: want one connection's" % sorted(names))


def test_chrome_failed_phases(env):
    """curl refusing the test server's certificate: the failed fetch's slice
    holds its connect and its handshake, which runs to the failure."""
    need("curl")
    env.require_server()
    url = env.url("/hello")
    # no -k: the self-signed certificate is rejected (curl exits 60)
    events = run_chrome(env, "chrome_failed_phases", ["curl", "-s", "-o", "/dev/null", url], 60)
    resources = slices(events, "resource")
    expect(len(resources) == 1, "resource slices %r" % [r["name"] for r in resources])
    r = resources[0]
    expect(r["args"].get("failedPhase") == "tls", "args %r" % r["args"])
    check_tracks(events)
    phases = {p["name"]: p for p in slices(events, "phase") if p["tid"] == r["tid"]}
    expect({"connect", "tls"} <= set(phases), "phases %r, want connect and tls"
           % sorted(phases))
    tls = phases["tls"]
    expect(abs(tls["ts"] + tls["dur"] - (r["ts"] + r["dur"])) < 0.002,
           "the handshake ends at %.3f, the failure at %.3f"
           % (tls["ts"] + tls["dur"], r["ts"] + r["dur"]))
    expect(abs(phases["connect"]["ts"] + phases["connect"]["dur"] - tls["ts"]) < 0.002,
           "connect ends at %.3f, the handshake starts at %.3f"
           % (phases["connect"]["ts"] + phases["connect"]["dur"], tls["ts"]))

