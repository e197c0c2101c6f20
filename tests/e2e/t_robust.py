# SPDX-License-Identifier: MIT
"""No lost data, and faults: drops reported, many clients at once, a tracer
killed with SIGKILL."""

import os
import re
import signal
import subprocess
import sys
import time

from harness import (describe_exit, expect, expect_predating, need, read_entries, read_line,
                     start_python, stderr_hint)

def test_help_and_version(env):
    """--help, --usage and --version print and exit 0 at once (they must not
    start tracing), whatever other options come with them."""
    problems = []
    for args, words in ((["--help"], ["EXAMPLES", "--timing-only", "--otlp-endpoint",
                                      "marked incomplete", "leaves COMMAND running",
                                      "--no-follow"]),
                        (["-c", "curl", "--help"], ["EXAMPLES"]),
                        (["--usage"], ["Usage: tlstrace"]),
                        (["--version"], ["tlstrace "])):
        rc, out, err = env.procs.run([env.tlstrace] + args, 10, "tlstrace " + " ".join(args))
        missing = [w for w in words if w not in out]
        if rc != 0 or missing or "tracing" in err:
            problems.append("%s: exit %d, missing %r%s" % (" ".join(args), rc, missing,
                                                          stderr_hint(err)))
    expect(not problems, "; ".join(problems))


def test_privilege_errors(env):
    """Not root, root without CAP_BPF/CAP_PERFMON, tracefs missing and not
    mountable, a kernel locked down for confidentiality, an unwritable output
    file: one line each, exit 1, and the command never runs. The lockdown
    mode cannot be raised and lowered again, so it is shown to tlstrace by a
    file bound over securityfs's in a private mount namespace; these machines
    run in integrity mode, under which every other test traces."""
    need("setpriv")
    need("unshare")
    marker = env.path("ran")
    command = ["--", "sh", "-c", "touch " + marker]
    fake_lockdown = env.path("lockdown")
    with open(fake_lockdown, "w") as f:
        f.write("none integrity [confidentiality]\n")
    cases = [
        ("not root", ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      env.tlstrace] + command, "must run as root"),
        ("no CAP_BPF/CAP_PERFMON", ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin",
                                    env.tlstrace] + command, "CAP_BPF"),
        ("tracefs missing", ["unshare", "-m", "sh", "-c",
                             "for d in /sys/kernel/tracing /sys/kernel/debug/tracing "
                             "/sys/kernel/debug; do umount $d 2>/dev/null; done; "
                             'exec setpriv --bounding-set=-sys_admin "$@"', "sh",
                             env.tlstrace] + command, "tracefs"),
        ("locked down", ["unshare", "-m", "sh", "-c",
                         "mountpoint -q /sys/kernel/security || "
                         "mount -t securityfs none /sys/kernel/security; "
                         "[ -e /sys/kernel/security/lockdown ] || exit 3; "
                         'mount --bind "$0" /sys/kernel/security/lockdown && exec "$@"',
                         fake_lockdown, env.tlstrace] + command, "locked down (confidentiality)"),
        ("unwritable output", [env.tlstrace, "-o", env.path("no/such/dir.json")] + command,
         "no/such/dir.json"),
    ]
    problems = []
    for what, cmd, words in cases:
        if os.path.exists(marker):
            os.unlink(marker)
        rc, _, err = env.procs.run(cmd, 30, what)
        if what == "locked down" and rc == 3:
            continue  # a kernel without the lockdown LSM
        lines = [l for l in err.splitlines() if l.strip()]
        if rc != 1 or len(lines) != 1 or words not in err or os.path.exists(marker):
            problems.append("%s: exit %d, stderr %r, command ran: %s"
                            % (what, rc, err.strip()[:160], os.path.exists(marker)))
    expect(not problems, "; ".join(problems))


# Python: send a request and never read the answer; wait for a line, then exit
NEVER_READS = r"""
import socket, ssl, sys
ctx = ssl._create_unverified_context()
s = ctx.wrap_socket(socket.create_connection(("localhost", int(sys.argv[1]))),
                    server_hostname="localhost")
s.sendall(b"GET /size/4000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
print("sent", flush=True)
sys.stdin.readline()
"""


def test_client_never_reads(env):
    """A client that writes its request and never reads the response, then
    exits: one entry, failed in the http phase (the connection closed with
    no response read), and nothing left behind: a fetch after it is whole."""
    env.require_server()
    script = env.path("never_reads.py")
    with open(script, "w") as f:
        f.write(NEVER_READS)
    out = env.path("never_reads.jsonl")
    sh = ("echo | %s %s %d; curl -sk -o /dev/null %s"
          % (sys.executable, script, env.port, env.url("/hello")))
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--", "sh", "-c", sh], 60,
                               "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(out)
    expect(len(entries) == 2, "%d entries, want 2: %r" % (len(entries),
                                                         [e["name"] for e in entries]))
    first, second = entries
    x = first["tlstrace"]
    expect(x.get("failedPhase") == "http" and first["name"].endswith("/size/4000000") and
           ("closed" in x.get("error", "") or "exited" in x.get("error", "")) and
           "requestStart" in x.get("partialTimings", {}) and
           "responseStart" not in x.get("partialTimings", {}),
           "first entry: %s %r %r" % (first["name"], x.get("failedPhase"), x.get("error")))
    expect(second["responseStatus"] == 200 and "failedPhase" not in second["tlstrace"],
           "second entry: %r" % second)


# Python: a keep-alive client that fetches /hello until DEADLINE (seconds) and
# prints how many responses it read.
KEEPALIVE_FOR = r"""
import http.client, ssl, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
n, end = 0, time.monotonic() + secs
while time.monotonic() < end:
    c.request("GET", "/hello")
    r = c.getresponse()
    r.read()
    n += 1 if r.status == 200 else 0
c.close()
print(n, flush=True)
"""


# Python: one HTTPS request, then whether this process carries a uprobe
# trampoline mapping (the kernel adds "[uprobes]" once a uprobe fired in it).
HIT_CHECK = r"""
import http.client, ssl, sys
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]),
                                context=ssl._create_unverified_context(), timeout=10)
c.request("GET", "/hello"); c.getresponse().read(); c.close()
print("probed" if "[uprobes]" in open("/proc/self/maps").read() else "clean", flush=True)
"""


def test_ringbuf_drops_reported(env):
    """A 64 MiB download through a 1 MiB ring buffer loses events: tlstrace says
    so, by cause: a line among the text entries, the exit report on stderr,
    and --stats; it still exits 0. Over HTTP/2, whose DATA frames are copied
    (an HTTP/1 body of known length is only counted: nothing to lose)."""
    need("curl")
    env.require_server()
    out = env.path("drops.txt")
    port = env.h2_port()
    big = os.path.join(env.path("h2www"), "big64")
    if not os.path.exists(big) or os.path.getsize(big) != 64 << 20:
        with open(big, "wb") as f:
            f.truncate(64 << 20)
    url = "https://localhost:%d/big64" % port
    rc, _, err = env.procs.run([env.tlstrace, "--ringbuf-size", "1", "--stats", "-f", "text",
                                "-o", out, "--", "curl", "-sk", "--http2", "-o", "/dev/null",
                                url], 120, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    with open(out, errors="replace") as f:
        text = f.read()
    expect(re.search(r"warning: \d+ events dropped since the last notice \(ring buffer", text),
           "no drop line among the text output: %r" % text[-300:])
    expect(re.search(r"events dropped: [1-9]\d* \(ring buffer [1-9]", text),
           "the summary does not count the drops: %r" % text[-300:])
    out = env.path("drops.jsonl")
    final = re.search(r"warning: (\d+) events dropped \(ring buffer (\d+)[,)]", err)
    expect(final and int(final.group(1)) > 0 and final.group(1) == final.group(2),
           "no exit report of ring-buffer drops%s" % stderr_hint(err))
    # one line, naming only the causes that happened
    warn = [l for l in err.splitlines() if "warning: " in l and "since the last" not in l]
    expect(len(warn) == 1 and not re.search(r"(^|[ (])0 [a-z]|[a-z] 0[,)]", warn[0]),
           "the exit warning: %r" % warn)
    stats = re.search(r"drops\.ringbuf=(\d+)", err)
    expect(stats and stats.group(1) == final.group(1),
           "--stats drops.ringbuf %s, exit report %s"
           % (stats and stats.group(1), final.group(1)))
    # the same download with the default buffer is whole
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--", "curl", "-sk",
                                "-o", "/dev/null", env.url("/size/%d" % (4 << 20))], 120,
                               "tlstrace")
    expect(rc == 0 and "dropped" not in err,
           "4 MiB with the default buffer: %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(out)
    expect(len(entries) == 1 and entries[0]["encodedBodySize"] == 4 << 20,
           "4 MiB download: %r" % [(e["name"], e["encodedBodySize"]) for e in entries])


def test_concurrent_keepalive(env):
    """20 Python clients at once, each doing keep-alive requests for 30 s: every
    response read has exactly one entry, per process."""
    env.require_server()
    clients, secs = 20, float(os.environ.get("TLSTRACE_KEEPALIVE_SECONDS", "30"))
    script = env.path("keepalive_for.py")
    with open(script, "w") as f:
        f.write(KEEPALIVE_FOR)
    out = env.path("concurrent.jsonl")
    # a shell starts the clients together and prints each one's pid and count
    sh = ('for i in $(seq %d); do (%s %s %d %g | sed "s/^/$$BASHPID /") & done; wait'
          % (clients, sys.executable, script, env.port, secs)).replace("$$", "$")
    rc, so, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--", "bash", "-c", sh],
                                secs + 90, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect("dropped" not in err, "drops: %s" % stderr_hint(err))
    counts = {}
    for line in so.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[int(parts[0])] = int(parts[1])
    expect(len(counts) == clients, "%d clients reported, want %d: %r"
           % (len(counts), clients, so[:200]))
    entries = read_entries(out)
    per_pid = {}
    for e in entries:
        expect(e["responseStatus"] == 200 and e["name"].endswith("/hello"),
               "unexpected entry %s %s" % (e["name"], e["responseStatus"]))
        per_pid[e["tlstrace"]["pid"]] = per_pid.get(e["tlstrace"]["pid"], 0) + 1
    total = sum(counts.values())
    expect(len(entries) == total, "%d entries for %d responses" % (len(entries), total))
    # the subshell's pid is the client's parent; match counts as multisets
    expect(sorted(per_pid.values()) == sorted(counts.values()),
           "entries per process %r, responses per client %r"
           % (sorted(per_pid.values())[:5], sorted(counts.values())[:5]))
    return "%d requests from %d clients in %gs" % (total, clients, secs)


def bpf_prog_ids(pid):
    """The ids of the BPF programs process pid holds, by its descriptors (a
    program's, or a link's or perf event's that holds one)."""
    ids = set()
    fddir = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


def bpf_prog_exists(prog_id):
    return subprocess.run(["bpftool", "prog", "show", "id", str(prog_id)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def test_sigkill_leaves_no_probes(env):
    """SIGKILL gives tlstrace no chance to clean up: the kernel must remove its
    uprobes when its descriptors close. Its own BPF programs (which every
    uprobe of it holds) are gone afterwards; a client run while it traced was
    probed (the control). Other tracers on the host do not matter."""
    need("bpftool")
    env.require_server()
    script = env.path("hit_check.py")
    with open(script, "w") as f:
        f.write(HIT_CHECK)
    p = env.start_tlstrace("sigkill", ["-c", "python3"])
    rc, so, _ = env.procs.run([sys.executable, script, str(env.port)], 30, "python")
    expect(rc == 0 and so.strip() == "probed", "while tracing: %r (want probed)" % so.strip())
    ids = bpf_prog_ids(p.pid)
    expect(ids, "tlstrace holds no BPF program")
    expect(all(bpf_prog_exists(i) for i in ids), "bpftool does not see programs %r" % sorted(ids))
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    # the kernel drops the probes as the killed process's files close: a while
    deadline, left = time.monotonic() + 60, ids
    while time.monotonic() < deadline and left:
        time.sleep(0.5)
        left = {i for i in left if bpf_prog_exists(i)}
    expect(not left, "60 s after SIGKILL programs %r of tlstrace are still loaded" % sorted(left))


# Python: one keep-alive connection, opened on the first line read from stdin;
# each line read is a round of requests (the paths on it), then "done".
ROUNDS = r"""
import http.client, ssl, sys
c = None
print("started", flush=True)
for line in sys.stdin:
    if c is None:
        c = http.client.HTTPSConnection("localhost", int(sys.argv[1]),
                                        context=ssl._create_unverified_context(), timeout=10)
    for path in line.split():
        c.request("GET", path)
        r = c.getresponse()
        r.read()
    print("done", flush=True)
"""


def test_restart_after_sigkill(env):
    """tlstrace killed with SIGKILL while a traced connection is open, then
    started again: the connection's later requests are traced, marked as
    predating the trace, on one connection id, and nothing is left of the
    first tracer's state to confuse the second."""
    env.require_server()
    client = start_python(env, ROUNDS, [str(env.port)], "started")
    first = env.start_tlstrace("restart_first", ["-p", str(client.pid)])
    client.stdin.write(b"/hello\n")
    client.stdin.flush()
    expect(read_line(client, 15, "python client") == "done", "first round failed")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    second = env.start_tlstrace("restart_second", ["-p", str(client.pid)])
    client.stdin.write(b"/hello /size/1000\n")
    client.stdin.flush()
    expect(read_line(client, 15, "python client") == "done", "second round failed")
    client.stdin.close()
    expect(env.procs.wait(client, 15, "python client") == 0, "python client failed")
    rc = env.procs.wait(second, 15, "tlstrace")
    expect(rc == 0, "second tlstrace %s%s" % (describe_exit(rc), env.err_hint(second)))
    expect_predating(env, read_entries(second.out_file), ("/hello", "/size/1000"))


def trickle_proxy(env, port, chunk, pause):
    """A TCP proxy on 127.0.0.1 to port that passes the server's first 4 KiB
    to the client chunk bytes at a time, pause seconds apart (its reads find
    nothing between them); its port."""
    import socket
    import threading
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def pipe(src, dst, slow):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while data:
                    n = chunk if slow and sent < 4096 else len(data)
                    dst.sendall(data[:n])
                    sent += min(n, len(data))
                    data = data[n:]
                    if slow and sent < 4096:
                        time.sleep(pause)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", port))
            for s_, d_, slow in ((c, s, False), (s, c, True)):
                d_.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=pipe, args=(s_, d_, slow), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1]


def test_server_hello_in_pieces(env):
    """A ServerHello that reaches curl in 40-byte pieces 30 ms apart (a slow
    or congested path): curl's non-blocking reads find nothing between them
    (EAGAIN) and each piece is a read of its own, yet the entry has the TLS
    version and cipher, as it has on a fast path: the reads that carry the
    ServerHello are kept however many empty reads come between."""
    need("curl")
    env.require_server()
    port = trickle_proxy(env, env.port, 40, 0.03)
    url = "https://localhost:%d/hello" % port
    rc, _, err, path = env.trace("server_hello_in_pieces",
                                 ["curl", "-sk", "--tlsv1.2", "--tls-max", "1.2", "-o",
                                  "/dev/null", url, "--next", "-sk", "--tlsv1.3", "-o",
                                  "/dev/null", url], 60)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect(len(entries) == 2, "%d entries, want 2" % len(entries))
    for e, version in zip(entries, ("TLSv1.2", "TLSv1.3")):
        tls = e["tlstrace"].get("tls", {})
        expect(tls.get("version") == version and tls.get("cipher"),
               "%s: tls %r, want version %s and a cipher" % (e["name"], tls, version))
