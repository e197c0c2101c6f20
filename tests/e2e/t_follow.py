# SPDX-License-Identifier: MIT
"""Process trees: -p traces a process and its descendants, present and
future, -c the processes of a name and the children they fork, and
--no-follow keeps to the processes given. Each server here is started
before tlstrace, as one already running on a host is, and tlstrace is
pointed at its first process (an nginx master, a PostgreSQL postmaster, a
Python server that forks a child per connection); the entries come from
the processes it forks."""

import os
import signal
import subprocess
import sys
import time

from harness import (PY_CLIENT, check_py_output, check_response, check_shape, describe_exit,
                     expect, expect_no_failure, listening, need, read_entries,
                     read_line, server_certs, stderr_hint)
from t_proto import PG_CONNINFO, with_postgres
from t_server import NGINX_CONF, check_server_new, nginx_site


def children(pid):
    """The processes pid forked (all its threads'), as /proc lists them now."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def stop_tracer(env, tracer):
    """SIGINT tlstrace (it leaves what it traces running); its exit status must be 0."""
    time.sleep(0.2)  # let the servers see their clients close
    tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 15, "tlstrace after SIGINT")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))


def curl_fetches(env, urls):
    """One curl per URL (a new connection each), each to succeed."""
    need("curl")
    for url in urls:
        rc, out, err = env.procs.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                      url], 30, "curl")
        expect(rc == 0 and out == "200", "curl %s exited %d, printed %r%s"
               % (url, rc, out, stderr_hint(err)))


def check_served(entries, urls, pids, what):
    """One server entry per URL, in order, each from one of pids, of a
    response to a GET of /hello (200, 6 bytes) served with OpenSSL."""
    mine = [e for e in entries if e["tlstrace"]["role"] == "server"]
    expect(len(mine) == len(urls), "%s: %d server entries, want %d (%s)"
           % (what, len(mine), len(urls), [e["name"] for e in entries][:6]))
    for i, (e, url) in enumerate(zip(mine, urls)):
        check_shape(e, i, role="server")
        expect_no_failure(e, i)
        check_response(e, i, url, 200, 6)
        expect(e["tlstrace"]["tls"]["library"] == "openssl",
               "%s: entry %d: tls %r" % (what, i, e["tlstrace"]["tls"]))
        expect(e["tlstrace"]["pid"] in pids, "%s: entry %d from pid %r, want one of %r"
               % (what, i, e["tlstrace"]["pid"], sorted(pids)))
    return mine


# --- nginx: master and workers ---------------------------------------------------

def start_nginx_workers(env, test, workers):
    """nginx (not traced) as a master and `workers` worker processes, serving
    /hello (6 bytes) on a free port of 127.0.0.1: (master Popen, port,
    worker pids)."""
    d, cert, key, port = nginx_site(env, test)
    one = "master_process off;\nworker_processes 1;\n"
    expect(one in NGINX_CONF, "t_server.NGINX_CONF no longer says %r" % one)
    # the workers run as root, who can read the test's files
    conf_text = NGINX_CONF.replace(one, "user root;\nworker_processes %d;\n" % workers)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(conf_text.format(dir=d, port=port, cert=cert, key=key, listen=""))
    master = env.procs.spawn(["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not (listening(master.pid, port) and len(children(master.pid)) == workers):
        expect(master.poll() is None, "nginx %s" % describe_exit(master.returncode))
        expect(time.monotonic() < deadline, "nginx did not start %d workers" % workers)
        time.sleep(0.05)
    return master, port, children(master.pid)


def test_follow_nginx_workers(env):
    """`-p` of an nginx master (worker_processes 2, as run on a host): the
    workers, forked before tlstrace started, serve curl's 4 fetches; each
    entry is a complete server entry from a worker's pid."""
    master, port, workers = start_nginx_workers(env, "follow_nginx_workers", 2)
    tracer = env.start_tlstrace("follow_nginx_workers", ["-p", str(master.pid)])
    urls = ["https://localhost:%d/hello" % port] * 4
    curl_fetches(env, urls)
    stop_tracer(env, tracer)
    env.procs.stop(master)
    entries = read_entries(tracer.out_file, env.err_hint(tracer))
    mine = check_served(entries, urls, workers, "nginx")
    for i, e in enumerate(mine):
        # a worker accepts its connections itself: each entry carries its connection
        check_server_new(e, i)
    expect(master.pid not in [e["tlstrace"]["pid"] for e in mine], "an entry from the master")
    return "workers %s" % sorted({e["tlstrace"]["pid"] for e in mine})


def test_follow_nginx_reload(env):
    """`-p` of an nginx master that reloads (SIGHUP) while traced: the new
    worker it forks serves curl's fetches, each entry from that worker."""
    master, port, old = start_nginx_workers(env, "follow_nginx_reload", 1)
    tracer = env.start_tlstrace("follow_nginx_reload", ["-p", str(master.pid)])
    os.kill(master.pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    while True:
        now = children(master.pid)
        if now and not set(now) & set(old):
            break
        expect(time.monotonic() < deadline, "nginx did not replace worker %r (now %r)"
               % (old, now))
        time.sleep(0.05)
    urls = ["https://localhost:%d/hello" % port] * 2
    curl_fetches(env, urls)
    stop_tracer(env, tracer)
    env.procs.stop(master)
    entries = read_entries(tracer.out_file, env.err_hint(tracer))
    mine = check_served(entries, urls, set(now), "nginx after reload")
    for i, e in enumerate(mine):
        check_server_new(e, i)
    return "worker %s replaced by %s" % (old, now)


# --- PostgreSQL: the postmaster forks a backend per connection ------------------

def postmaster_pid(data):
    """The postmaster's pid, the first line of postmaster.pid in its data directory."""
    with open(os.path.join(data, "postmaster.pid")) as f:
        return int(f.readline())


def test_follow_postgres_backend(env):
    """`-p` of a PostgreSQL postmaster: psql (sslmode=require) gets its
    answer from a backend the postmaster forks for it after tlstrace
    started; the backend's TLS exchanges (the query, the Terminate) give
    entries from its pid, on one connection, none failed. (The connection
    was accepted by the postmaster before the fork: the backend's entries
    carry it as far as the collector knows sockets across a fork.)"""
    need("psql")

    def run(in_ns, data):
        pm = postmaster_pid(data)
        tracer = env.start_tlstrace("follow_postgres_backend", ["-p", str(pm)])
        rc, out, err = env.procs.run(in_ns + ["psql", "-X", "-At", PG_CONNINFO, "-c",
                                              "select 1"], 60, "psql")
        expect(rc == 0 and out.strip() == "1", "psql exited %d, printed %r%s"
               % (rc, out[:80], stderr_hint(err)))
        stop_tracer(env, tracer)
        entries = read_entries(tracer.out_file, env.err_hint(tracer))
        expect(len(entries) >= 2, "%d entries, want the backend's exchanges" % len(entries))
        pids = {e["tlstrace"]["pid"] for e in entries}
        expect(len(pids) == 1 and pm not in pids,
               "entries from pids %r, want one backend (the postmaster is %d)"
               % (sorted(pids), pm))
        conns = {e["tlstrace"]["connectionId"] for e in entries}
        expect(len(conns) == 1, "connections %r, want the one psql opened" % sorted(conns))
        for i, e in enumerate(entries):
            x = e["tlstrace"]
            expect(x["comm"] == "postgres", "entry %d: comm %r" % (i, x["comm"]))
            expect(x["tls"]["library"] == "openssl", "entry %d: tls %r" % (i, x["tls"]))
            expect_no_failure(e, i)
        # the postmaster accepted the connection, the backend it forked did the
        # TLS: the backend's first entry carries that accept and handshake
        check_inherited_first(entries[0], 0)
        for i, e in enumerate(entries[1:], 1):
            expect(e["tlstrace"]["reused"] is True, "entry %d: not reused" % i)
        expect(entries[0]["name"].startswith("postgresql://"), "name %r" % entries[0]["name"])
        return "%d entries from backend %d" % (len(entries), pids.pop())
    return with_postgres(env, run, with_data=True)


def check_inherited_first(e, i):
    """The first entry of a connection a child's parent accepted: a server's,
    not reused, with the accept and the handshake in order before the request.
    They happened before the child existed, so they are negative: the child's
    timeOrigin is its own start (docs/semantics.md, Connections across fork())."""
    x = e["tlstrace"]
    expect(x["role"] == "server" and x["reused"] is False and x.get("remoteAddress"),
           "entry %d: role %r, reused %r, remoteAddress %r"
           % (i, x["role"], x["reused"], x.get("remoteAddress")))
    expect(e["connectStart"] != 0 and e["connectStart"] <= e["secureConnectionStart"]
           < e["connectEnd"] <= e["requestStart"] <= e["responseStart"] <= e["responseEnd"],
           "entry %d: accept %r, handshake [%r, %r], request %r, response [%r, %r]"
           % (i, e["connectStart"], e["secureConnectionStart"], e["connectEnd"],
              e["requestStart"], e["responseStart"], e["responseEnd"]))


# --- Python: socketserver.ForkingMixIn ------------------------------------------

# An HTTPS server forking a child per connection; the child does the TLS
# handshake, serves /hello and writes its pid as a line to the file argv[4].
# It takes the command name argv[3] first (prctl PR_SET_NAME), prints its
# port, and serves until stopped.
PY_FORKING = r"""
import ctypes, http.server, os, socketserver, ssl, sys
ctypes.CDLL(None).prctl(15, sys.argv[3].encode(), 0, 0, 0)  # PR_SET_NAME
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"hello\n")
        self.wfile.flush()
        with open(sys.argv[4], "a") as f:
            f.write("%d\n" % os.getpid())
    def log_message(self, *a):
        pass
class Server(socketserver.ForkingMixIn, http.server.HTTPServer):
    def finish_request(self, request, client_address):  # in the child
        super().finish_request(ctx.wrap_socket(request, server_side=True), client_address)
srv = Server(("127.0.0.1", 0), Hello)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def start_forking_python(env, comm, pidfile):
    """PY_FORKING named comm, its children's pids to pidfile: (its Popen, its port)."""
    cert, key = server_certs(env)
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    srv = env.procs.spawn([sys.executable, "-c", PY_FORKING, cert, key, comm, pidfile],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    port = read_line(srv, 15, "forking Python server")
    expect(port.isdigit(), "forking Python server printed %r" % port)
    return srv, int(port)


def forking_entries(env, test, comm, opts, fetches):
    """PY_FORKING named comm, tlstrace OPTS started after it, curl fetching
    /hello `fetches` times: (the entries, the URLs, the pids of the children
    that served them, in order)."""
    pidfile = env.path(test + ".children")
    srv, port = start_forking_python(env, comm, pidfile)
    tracer = env.start_tlstrace(test, opts(srv.pid))
    urls = ["https://localhost:%d/hello" % port] * fetches
    curl_fetches(env, urls)
    stop_tracer(env, tracer)
    env.procs.stop(srv)
    with open(pidfile) as f:
        served = [int(line) for line in f]
    expect(len(served) == fetches and srv.pid not in served,
           "children %r served, want %d other than the server %d" % (served, fetches, srv.pid))
    return read_entries(tracer.out_file, env.err_hint(tracer)), urls, served


def check_forked(entries, urls, served, comm, what):
    """A server entry per fetch, each from the child that served it, named comm."""
    mine = check_served(entries, urls, set(served), what)
    pids = [e["tlstrace"]["pid"] for e in mine]
    expect(pids == served, "%s: entries from pids %r, the children were %r"
           % (what, pids, served))
    expect(all(e["tlstrace"]["comm"] == comm for e in mine),
           "%s: comm %r, want %r" % (what, [e["tlstrace"]["comm"] for e in mine], comm))
    # each child's connection was accepted by the parent: the accept and the
    # handshake are its entry's all the same
    for i, e in enumerate(mine):
        check_inherited_first(e, i)
    return "children %s" % pids


def test_follow_comm_forking_python(env):
    """`-c NAME` of a Python socketserver.ForkingMixIn HTTPS server running
    under that name: curl's 3 fetches are 3 server entries, each from the
    child forked for its connection, which keeps the name."""
    comm = "tlsfork-c-e2e"
    entries, urls, served = forking_entries(env, "follow_comm_forking_python", comm,
                                            lambda pid: ["-c", comm], 3)
    return check_forked(entries, urls, served, comm, "-c")


def test_follow_pid_forking_python(env):
    """`-p` of the same forking server: its children are traced as they are forked."""
    comm = "tlsfork-p-e2e"
    entries, urls, served = forking_entries(env, "follow_pid_forking_python", comm,
                                            lambda pid: ["-p", str(pid)], 3)
    return check_forked(entries, urls, served, comm, "-p")


def test_follow_no_follow(env):
    """`-p PID --no-follow` keeps to PID: the forking server's children are
    not traced, so their fetches give no entry; the server's own TLS (none
    here) would. tlstrace says what it traces."""
    comm = "tlsfork-n-e2e"
    entries, urls, served = forking_entries(env, "follow_no_follow", comm,
                                            lambda pid: ["-p", str(pid), "--no-follow"], 2)
    expect(not entries, "--no-follow: %d entries from pids %r, want none (children %r)"
           % (len(entries), sorted({e["tlstrace"]["pid"] for e in entries}), served))
    with open(env.path("follow_no_follow.stderr"), errors="replace") as f:
        said = f.read()
    expect("tracing the given processes;" in said, "tlstrace said %r" % said[:200])


# --- the end of the trace, the child that runs another program ---------------

# Waits for a line on stdin, then forks: the parent exits at once; the
# child, after 0.5 s, fetches /hello (PY_CLIENT's code) and exits.
PY_FORK_AND_LEAVE = r"""
import os, sys, time
client = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()
if os.fork():
    os._exit(0)
time.sleep(0.5)
sys.argv = ["client", sys.argv[2], "/hello"]
exec(client)
"""


def test_follow_trace_ends_with_tree(env):
    """`-p` of a process that forks a child and exits: the trace goes on
    while the child runs (its fetch is traced, as the child's, with the
    TLS library the parent had loaded), and ends by itself, status 0, once
    the child has exited."""
    env.require_server()
    parent = env.procs.spawn([sys.executable, "-c", PY_FORK_AND_LEAVE, PY_CLIENT,
                              str(env.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(parent, 10, "python parent") == "ready", "python parent did not start")
    tracer = env.start_tlstrace("follow_trace_ends_with_tree", ["-p", str(parent.pid)])
    parent.stdin.write(b"go\n")
    parent.stdin.close()
    expect(env.procs.wait(parent, 10, "python parent") == 0, "python parent failed")
    rc = env.procs.wait(tracer, 20, "tlstrace after the child")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    child_out = parent.stdout.read().decode(errors="replace")
    check_py_output(child_out, [("/hello", 200, 6)])
    entries = read_entries(tracer.out_file, env.err_hint(tracer))
    expect(len(entries) == 1, "%d entries, want the child's one" % len(entries))
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, env.url("/hello"), 200, 6)
    expect(e["tlstrace"]["pid"] != parent.pid, "the entry is the parent's, not the child's")


# Named argv[3] (PR_SET_NAME), waits for a line on stdin, then forks a child
# that fetches /hello?from=child (PY_CLIENT's code) and prints its pid, and
# runs curl (fork and exec) fetching /hello?from=curl.
PY_FORK_AND_EXEC = r"""
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(15, sys.argv[3].encode(), 0, 0, 0)  # PR_SET_NAME
client, port = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
child = os.fork()
if not child:
    sys.argv = ["client", port, "/hello?from=child"]
    exec(client)
    sys.stdout.flush()
    os._exit(0)
_, status = os.waitpid(child, 0)
print("child", child, status, flush=True)
subprocess.run(["curl", "-sk", "-o", "/dev/null", "https://localhost:%s/hello?from=curl" % port],
               check=True)
print("done", flush=True)
"""


def test_follow_comm_exec(env):
    """`-c NAME`: a child the named process forks is traced (its fetch is an
    entry of its own pid, with the name), a child that runs another program
    (curl) is not: -c selects programs by name, and a fork is still the
    program it was forked from."""
    need("curl")
    env.require_server()
    comm = "tlsexec-c-e2e"
    parent = env.procs.spawn([sys.executable, "-c", PY_FORK_AND_EXEC, PY_CLIENT, str(env.port),
                              comm], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(parent, 10, "python parent") == "ready", "python parent did not start")
    tracer = env.start_tlstrace("follow_comm_exec", ["-c", comm])
    parent.stdin.write(b"go\n")
    parent.stdin.close()
    expect(env.procs.wait(parent, 30, "python parent") == 0, "python parent failed")
    out = parent.stdout.read().decode(errors="replace").split("\n")
    stop_tracer(env, tracer)
    check_py_output(out[0] + "\n", [("/hello?from=child", 200, 6)])
    child = out[1].split()
    expect(len(child) == 3 and child[0] == "child" and child[2] == "0" and out[2] == "done",
           "python parent printed %r" % out)
    entries = read_entries(tracer.out_file, env.err_hint(tracer))
    expect([e["name"] for e in entries] == [env.url("/hello?from=child")],
           "entries %r, want the forked child's alone" % [e["name"] for e in entries])
    e = entries[0]
    check_shape(e, 0)
    check_response(e, 0, env.url("/hello?from=child"), 200, 6)
    expect(e["tlstrace"]["pid"] == int(child[1]) and e["tlstrace"]["comm"] == comm,
           "entry from pid %r comm %r, want the child %s named %r"
           % (e["tlstrace"]["pid"], e["tlstrace"]["comm"], child[1], comm))


def test_follow_command_no_follow(env):
    """`--no-follow -- sh -c 'curl URL'`: the command (sh) alone is traced,
    not the curl it starts, so no entry; without --no-follow, curl's entry."""
    need("curl")
    env.require_server()
    url = env.url("/hello")
    script = 'curl -sk -o /dev/null "$0"'
    got = {}
    for opts in ([], ["--no-follow"]):
        rc, _, err, path = env.trace("follow_command_no_follow", ["sh", "-c", script, url],
                                     timeout=30, opts=opts)
        expect(rc == 0, "tlstrace %s %s%s" % (" ".join(opts), describe_exit(rc),
                                              stderr_hint(err)))
        got[" ".join(opts)] = [e["name"] for e in read_entries(path)]
    expect(got == {"": [url], "--no-follow": []},
           "entries %r, want curl's without --no-follow and none with it" % got)


def test_follow_comm_no_follow(env):
    """`-c NAME --no-follow`: the forking server named NAME is traced, the
    children it forks for its connections (named NAME too) are not, so
    their fetches give no entry."""
    comm = "tlsfork-cn-e2e"
    entries, urls, served = forking_entries(env, "follow_comm_no_follow", comm,
                                            lambda pid: ["-c", comm, "--no-follow"], 2)
    expect(not entries, "--no-follow: %d entries from pids %r, want none (children %r)"
           % (len(entries), sorted({e["tlstrace"]["pid"] for e in entries}), served))
    with open(env.path("follow_comm_no_follow.stderr"), errors="replace") as f:
        said = f.read()
    expect("tracing processes by name;" in said, "tlstrace said %r" % said[:200])


# Forks a child, which forks a grandchild; the grandchild prints its pid and
# "ready", waits for a line on stdin, then fetches /hello (PY_CLIENT's code).
# Each waits for its own child.
PY_GRANDCHILD = r"""
import os, ssl, sys
client, port = sys.argv[1], sys.argv[2]
for _ in range(2):
    child = os.fork()
    if child:
        _, status = os.waitpid(child, 0)
        os._exit(status >> 8)
print(os.getpid(), "ready", flush=True)
sys.stdin.readline()
sys.argv = ["client", port, "/hello"]
exec(client)
sys.stdout.flush()
os._exit(0)
"""


def test_follow_grandchild_at_start(env):
    """`-p` of a process whose grandchild (forked before tlstrace started)
    fetches once tlstrace runs: the walk of the tree at start reaches it,
    and its fetch is an entry of its pid."""
    env.require_server()
    top = env.procs.spawn([sys.executable, "-c", PY_GRANDCHILD, PY_CLIENT, str(env.port)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    line = read_line(top, 10, "python grandchild").split()
    expect(len(line) == 2 and line[1] == "ready", "python grandchild printed %r" % line)
    grandchild = int(line[0])
    tracer = env.start_tlstrace("follow_grandchild_at_start", ["-p", str(top.pid)])
    top.stdin.write(b"go\n")
    top.stdin.close()
    expect(env.procs.wait(top, 20, "python tree") == 0, "python tree failed")
    check_py_output(top.stdout.read().decode(errors="replace"), [("/hello", 200, 6)])
    # the whole tree has exited: tlstrace ends by itself
    rc = env.procs.wait(tracer, 20, "tlstrace after the tree")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    entries = read_entries(tracer.out_file, env.err_hint(tracer))
    expect(len(entries) == 1, "%d entries, want the grandchild's one" % len(entries))
    check_shape(entries[0], 0)
    check_response(entries[0], 0, env.url("/hello"), 200, 6)
    expect(entries[0]["tlstrace"]["pid"] == grandchild, "entry from pid %r, want the "
           "grandchild %d" % (entries[0]["tlstrace"]["pid"], grandchild))
