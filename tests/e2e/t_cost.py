# SPDX-License-Identifier: MIT
"""What processes that are not traced pay. With -- COMMAND, -c and -p the
uprobes are placed for the traced processes alone (uprobe_multi links that
carry their pid), so the shared test server, and an untraced client
hammering it beside the traced one, both on the same libssl, take no hit
(hits.untraced=0 in --stats); a child forked by a probed process is held
and probed before it runs; and the links of processes that exited are
released while tracing goes on. Each test counts its own tracer's hits and
links, whatever other tracers run beside it."""

import json
import os
import shutil
import subprocess
import re
import sys
import time

from harness import (PY_CLIENT, Skip, describe_exit, expect, need, read_entries, read_line,
                     start_python, stderr_hint, to_port)

# an untraced client: new connections to the server, one after another, until killed
BUSY = r"""
import http.client, ssl, sys
port = int(sys.argv[1])
ctx = ssl._create_unverified_context()
print("ready", flush=True)
n = 0
while True:
    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    c.request("GET", "/hello")
    c.getresponse().read()
    c.close()
    n += 1
    if n % 10 == 0:
        print(n, flush=True)
"""

# a probed parent fetches, then forks two children that each fetch on a new connection
FORKER = r"""
import os, ssl, sys, urllib.request
ctx = ssl._create_unverified_context()
url = sys.argv[1]
urllib.request.urlopen(url, context=ctx).read()
kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        urllib.request.urlopen(url, context=ctx).read()
        os._exit(0)
    kids.append(pid)
for k in kids:
    _, st = os.waitpid(k, 0)
    if st:
        sys.exit(1)
print(os.getpid(), *kids, flush=True)
"""


def stats(err):
    """--stats' counters, by name."""
    return {k: int(v) for k, v in re.findall(r"\b([a-z_.]+)=(\d+)\b", err)}


def need_multi():
    """uprobe_multi links (Linux 6.6+): without them probes stay host-wide."""
    try:
        with open("/sys/kernel/btf/vmlinux", "rb") as f:
            if b"bpf_uprobe_multi_link" not in f.read():
                raise Skip("the kernel has no uprobe_multi links")
    except OSError:
        raise Skip("no kernel BTF")


class Busy:
    """BUSY, untraced, against the test server while the test runs."""

    def __init__(self, env):
        self.env = env
        self.p = start_python(env, BUSY, [str(env.port)])

    def stop(self):
        """Stop it; it must have made 10 requests or more meanwhile."""
        line = read_line(self.p, 15, "untraced client")
        self.env.procs.stop(self.p)
        expect(line.isdigit() and int(line) >= 10,
               "the untraced client made no requests beside the trace (%r)" % line)


def check_untraced(err, what):
    s = stats(err)
    expect(s.get("hits.total", 0) > 0, "%s: no uprobe hit at all: %r" % (what, err[-300:]))
    expect(s.get("hits.untraced", -1) == 0,
           "%s: hits.untraced=%s, want 0: untraced processes paid for probes"
           % (what, s.get("hits.untraced")))
    return s


def test_per_process_command(env):
    """`tlstrace -- curl URL URL` while an untraced client keeps the test
    server busy: curl's two entries, and not one hit in the server or the
    untraced client (same libssl)."""
    need("curl")
    need_multi()
    env.require_server()
    busy = Busy(env)
    out = env.path("per_process_command.jsonl")
    rc, _, err = env.procs.run([env.tlstrace, "--stats", "-f", "json", "-o", out, "--",
                                "curl", "-sk", "-o", "/dev/null", "-o", "/dev/null",
                                env.url("/hello"), env.url("/delay/20")], 60, "tlstrace")
    busy.stop()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    s = check_untraced(err, "-- curl")
    entries = read_entries(out)
    expect([e["responseStatus"] for e in entries] == [200, 200],
           "entries %r, want curl's two" % [e["name"] for e in entries])
    expect(all(e["tlstrace"]["tls"]["library"] == "openssl" for e in entries),
           "libraries %r" % [e["tlstrace"]["tls"]["library"] for e in entries])
    return "hits %d, untraced 0" % s["hits.total"]


def test_per_process_comm(env):
    """`tlstrace -c curl` while an untraced client keeps the server busy:
    three curl processes, each probed as it loads libssl, three entries,
    no untraced hit; and each curl's links are released as it exits (none
    left in place once they are gone)."""
    need("curl")
    need_multi()
    env.require_server()
    busy = Busy(env)
    tracer = env.start_tlstrace("per_process_comm", ["--stats", "-c", "curl"])
    for i in range(3):
        rc, _, err = env.procs.run(["curl", "-sk", "-o", "/dev/null", env.url("/hello")], 30,
                                   "curl")
        expect(rc == 0, "curl exited %d%s" % (rc, stderr_hint(err)))
    time.sleep(0.5)  # the last curl's exit reaches the attacher
    busy.stop()
    tracer.send_signal(2)
    rc = env.procs.wait(tracer, 15, "tlstrace")
    with open(tracer.err_file, errors="replace") as f:
        err = f.read()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    s = check_untraced(err, "-c curl")
    entries = to_port(read_entries(tracer.out_file), env.port)
    pids = {e["tlstrace"]["pid"] for e in entries}
    expect(len(entries) == 3 and len(pids) == 3,
           "%d entries from %d processes, want 3 curls'" % (len(entries), len(pids)))
    expect(s.get("links.released", 0) > 0 and s.get("links", -1) == 0,
           "links=%s links.released=%s: the exited curls' links were not all released"
           % (s.get("links"), s.get("links.released")))
    return "hits %d, links released %d" % (s["hits.total"], s["links.released"])


def test_per_process_pid(env):
    """`tlstrace -p CLIENT` of a Python client already running, beside a
    busy untraced client: its entries, and no untraced hit."""
    need_multi()
    env.require_server()
    busy = Busy(env)
    client = start_python(env, PY_CLIENT, [str(env.port), "--wait", "/hello", "/hello"])
    tracer = env.start_tlstrace("per_process_pid", ["--stats", "-p", str(client.pid)])
    client.stdin.write(b"go\n")
    client.stdin.flush()
    rc = env.procs.wait(client, 30, "python client")
    expect(rc == 0, "python client exited %d" % rc)
    busy.stop()
    rc = env.procs.wait(tracer, 15, "tlstrace")  # its only process exited
    with open(tracer.err_file, errors="replace") as f:
        err = f.read()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    s = check_untraced(err, "-p")
    entries = read_entries(tracer.out_file)
    expect(len(entries) == 2 and all(e["tlstrace"]["pid"] == client.pid for e in entries),
           "entries %r, want the client's two" % [(e["tlstrace"]["pid"], e["name"])
                                                  for e in entries])
    return "hits %d, untraced 0" % s["hits.total"]


def test_per_process_forked_children(env):
    """A probed Python process fetches, then forks two children that fetch
    on connections of their own, with no exec: the uprobes in the memory
    they copied are the parent's, so each child is held at its fork's
    return and probed for itself. Three entries, one per process, each
    with its OpenSSL handshake."""
    need_multi()
    env.require_server()
    out = env.path("per_process_fork.jsonl")
    rc, so, err = env.procs.run([env.tlstrace, "--stats", "-f", "json", "-o", out, "--",
                                 sys.executable, "-c", FORKER, env.url("/hello")], 60,
                                "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    pids = [int(x) for x in so.split()]
    expect(len(pids) == 3, "the script printed %r" % so)
    entries = read_entries(out)
    got = sorted(e["tlstrace"]["pid"] for e in entries)
    expect(got == sorted(pids), "entries from pids %r, want %r (parent, children)" % (got, pids))
    for e in entries:
        x = e["tlstrace"]
        expect(x["tls"]["library"] == "openssl" and e["secureConnectionStart"] > 0 and
               e["responseStatus"] == 200, "pid %d: %s" % (x["pid"], json.dumps(x)[:300]))
    s = check_untraced(err, "forked children")
    expect(s.get("holds", 0) >= 2, "holds=%s: the children were not held" % s.get("holds"))
    return "3 processes, holds %d" % s["holds"]


def test_per_process_user_library(env):
    """`tlstrace -c curl` while curl runs 20 times, one after another, on a
    copy of libssl and libcrypto its user owns (LD_LIBRARY_PATH): each run
    attaches the copy for its own process and lets it go at exit, so the
    user's bound (16 files of theirs attached at once) never refuses one:
    20 entries, no user_limit refusal."""
    need("curl")
    need_multi()
    env.require_server()
    from t_security import NOBODY, AttackerDir
    runs = 20
    with AttackerDir() as d:
        lib = d.join("lib")
        os.makedirs(lib)
        for name, path in libssl_paths().items():
            shutil.copy(path, os.path.join(lib, name))
        subprocess.run(["chown", "-R", "%d:%d" % (NOBODY, NOBODY), d.path], check=True)
        tracer = env.start_tlstrace("per_process_user_library", ["--stats", "-c", "curl"])
        for i in range(runs):
            rc, _, err = env.procs.run(["curl", "-sk", "-o", "/dev/null", env.url("/hello")], 30,
                                       "curl", env=dict(os.environ, LD_LIBRARY_PATH=lib))
            expect(rc == 0, "curl run %d exited %d%s" % (i, rc, stderr_hint(err)))
        time.sleep(0.5)
        tracer.send_signal(2)
        rc = env.procs.wait(tracer, 15, "tlstrace")
    with open(tracer.err_file, errors="replace") as f:
        err = f.read()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    s = stats(err)
    expect(s.get("libs.refused.user_limit", -1) == 0,
           "libs.refused.user_limit=%s: a user's library was refused after its processes "
           "had exited" % s.get("libs.refused.user_limit"))
    entries = to_port(read_entries(tracer.out_file), env.port)
    expect(len(entries) == runs, "%d entries, want %d" % (len(entries), runs))
    return "%d runs, links released %d" % (runs, s.get("links.released", 0))


def libssl_paths():
    """libssl and libcrypto as this Python maps them"""
    import ssl  # noqa: F401 (maps them)
    paths = {}
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if os.path.basename(path).startswith(("libssl.so", "libcrypto.so")):
                paths[os.path.basename(path)] = path
    return paths


def tracer_links(pid):
    """(tracepoint names, other link types, perf event descriptors) of process pid's BPF
    links, from its descriptors' fdinfo"""
    names, kinds, perf = set(), set(), 0
    fds = "/proc/%d/fd" % pid
    for fd in os.listdir(fds):
        try:
            target = os.readlink(os.path.join(fds, fd))
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue
        if "perf_event" in target:
            perf += 1
        if target != "anon_inode:bpf_link":
            continue
        kind = info.get("link_type", "").strip()
        if kind == "raw_tracepoint":
            names.add(info.get("tp_name", "").strip())
        else:
            kinds.add(kind)
    return names, kinds, perf


def test_no_syscall_hooks(env):
    """Untraced processes pay nothing for tlstrace's syscalls: in each mode
    (no filter, --timing-only, --wire, -p), its tracer holds no syscall
    tracepoint (raw_syscalls' sys_enter/sys_exit, or a syscalls:* perf
    event), only the socket, TCP, mapping and process ones, read from its
    own links' fdinfo."""
    idle = env.procs.spawn(["sleep", "60"])
    want = {"sock_recv_length", "tcp_sendmsg_locked", "inet_sock_set_state", "vm_unmapped_area"}
    seen = []
    try:
        for opts in ([], ["--timing-only"], ["--wire"], ["-p", str(idle.pid)]):
            tracer = env.start_tlstrace("no_syscall_hooks", opts)
            try:
                names, kinds, perf = tracer_links(tracer.pid)
            finally:
                tracer.send_signal(2)
                env.procs.wait(tracer, 15, "tlstrace")
            mode = " ".join(opts) or "no filter"
            expect(not names & {"sys_enter", "sys_exit"} and perf == 0,
                   "%s: syscall hooks %r, %d perf events" % (mode, names, perf))
            expect(want <= names, "%s: tracepoints %r, want %r among them" % (mode, names, want))
            expect(kinds <= {"uprobe_multi", "uretprobe_multi"}, "%s: links %r" % (mode, kinds))
            seen.append("%s %d" % (mode, len(names)))
    finally:
        env.procs.stop(idle)
    return "tracepoints: " + ", ".join(seen)
