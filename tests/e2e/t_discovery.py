# SPDX-License-Identifier: MIT
"""Which processes are found and traced, and from when: -p and -c, a library
loaded or a program started after tlstrace, --lib, a client in its own pid
namespace, a connection opened before the trace."""

import shutil
import signal
import subprocess
import sys
import time

from harness import (NODE_FETCH, PY_CLIENT, Failure, check_new_connection, check_py_output,
                     check_response, check_shape, check_wallclock, describe_exit, expect,
                     expect_count, expect_predating, need, read_entries, read_line,
                     start_python, stderr_hint, wall_ms)


PY_OLD_CONN = r"""
import http.client, ssl, sys
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ssl._create_unverified_context())
c.request("GET", "/hello"); c.getresponse().read()
print("ready", flush=True)
sys.stdin.readline()
for path in ("/hello", "/size/1000"):
    c.request("GET", path); c.getresponse().read()
"""


def trace_until_exit(env, test, client):
    """Attach tlstrace -p to client (from start_python), tell the client to go
    on, and wait for both to exit, each with status 0; return the tracer."""
    tracer = env.start_tlstrace(test, ["-p", str(client.pid)])
    client.stdin.write(b"go\n")
    client.stdin.close()
    expect(env.procs.wait(client, 15, "python client") == 0, "python client failed")
    rc = env.procs.wait(tracer, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    return tracer


def test_connection_predates_trace(env):
    """A keep-alive connection opened before tlstrace started: its later requests
    still give entries, with the connection fields at fetchStart."""
    env.require_server()
    client = start_python(env, PY_OLD_CONN, [str(env.port)])
    tracer = trace_until_exit(env, "connection_predates_trace", client)
    expect_predating(env, read_entries(tracer.out_file), ("/hello", "/size/1000"))


# Node's HTTP/2 client: two sessions, connected (and the first one's
# SETTINGS exchanged) before tlstrace starts; the second also fetches
# /hello then, so its HPACK tables hold entries tlstrace never saw. On a
# line from stdin, each fetches the paths after URL, one after the other.
NODE_H2_OLD = r"""
process.emitWarning = () => {};
const http2 = require('http2');
const [url, ...paths] = process.argv.slice(1);
const open = () => new Promise(ok => { const s = http2.connect(url, {rejectUnauthorized: false});
  s.on('remoteSettings', () => ok(s)); });
const get = (s, p) => new Promise((ok, fail) => {
  const r = s.request({':path': p}); let n = 0, st = 0;
  r.on('response', h => { st = h[':status']; }); r.on('data', d => { n += d.length; });
  r.on('end', () => ok([p, st, n])); r.on('error', fail); r.end(); });
(async () => {
  const fresh = await open(), used = await open();
  await get(used, '/hello');
  console.log('ready');
  await new Promise(ok => process.stdin.once('data', ok));
  for (const s of [fresh, used])
    for (const p of paths) console.log(...await get(s, p));
  fresh.close(); used.close(); process.stdin.destroy();
})();
"""


def test_h2_connection_predates_trace(env):
    """HTTP/2 connections opened before tlstrace started, recognised by their
    frames: on the one that had sent nothing, an entry for each later
    request, as on any connection older than the trace; on the one whose
    header tables hold entries made before, each entry is right or says it
    is incomplete and what it cannot vouch for, never a wrong name or status."""
    need("node")
    port = env.h2_port()
    base = "https://localhost:%d" % port
    paths = ["/hello", "/big"]
    client = env.procs.spawn(["node", "-e", NODE_H2_OLD, base] + paths,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    expect(read_line(client, 20, "node client") == "ready", "node client did not start")
    tracer = env.start_tlstrace("h2_connection_predates_trace", ["-p", str(client.pid)])
    client.stdin.write(b"go\n")
    client.stdin.flush()
    expect(env.procs.wait(client, 20, "node client") == 0, "node client failed")
    out = client.stdout.read().decode(errors="replace").split()
    rc = env.procs.wait(tracer, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    expect(out == ["/hello", "200", "6", "/big", "200", "50000"] * 2, "node printed %r" % out)
    entries = read_entries(tracer.out_file)
    expect_count(entries, 4)
    conns = []
    for e in entries:
        if e["tlstrace"]["connectionId"] not in conns:
            conns.append(e["tlstrace"]["connectionId"])
    expect(len(conns) == 2, "%d connections, want 2" % len(conns))
    fresh = [e for e in entries if e["tlstrace"]["connectionId"] == conns[0]]
    used = [e for e in entries if e["tlstrace"]["connectionId"] == conns[1]]
    for i, (e, p, size) in enumerate(zip(fresh, paths, (6, 50000))):
        x = e["tlstrace"]
        expect(e["name"] == base + p and e["responseStatus"] == 200
               and e["encodedBodySize"] == size and x.get("method") == "GET"
               and e["nextHopProtocol"] == "h2" and "incomplete" not in x,
               "fresh %d: name %r, status %r, size %r, method %r, protocol %r, incomplete %r"
               % (i, e["name"], e["responseStatus"], e["encodedBodySize"], x.get("method"),
                  e["nextHopProtocol"], x.get("incomplete")))
        expect(x["connectionObserved"] is False and x["reused"] is True,
               "fresh %d: connectionObserved %r, reused %r"
               % (i, x["connectionObserved"], x["reused"]))
        expect("failedPhase" not in x, "fresh %d: failed: %r" % (i, x.get("error")))
        check_shape(e, i)
    for i, (e, p, size) in enumerate(zip(used, paths, (6, 50000))):
        x = e["tlstrace"]
        unknown = x.get("unknown", []) if "incomplete" in x else []
        # :authority may be among the fields not decoded, and neither the SNI
        # nor the address of a connection older than the trace is known
        expect(e["name"] in (base + p, "https://unknown" + p) or "name.path" in unknown,
               "used %d: name %r, want %r or incomplete" % (i, e["name"], base + p))
        expect(e["responseStatus"] == 200 or "responseStatus" in unknown,
               "used %d: status %r, want 200 or incomplete" % (i, e["responseStatus"]))
        expect(e["encodedBodySize"] == size or "encodedBodySize" in unknown,
               "used %d: encodedBodySize %r, want %d or incomplete"
               % (i, e["encodedBodySize"], size))
        expect("failedPhase" not in x, "used %d: failed: %r" % (i, x.get("error")))


def test_library_loaded_later(env):
    """-p on a process with no TLS library yet: tlstrace waits, and attaches when
    the process loads libssl (dlopen of Python's _ssl module)."""
    env.require_server()
    client = start_python(env, PY_LATE_SSL, [str(env.port)])
    with open("/proc/%d/maps" % client.pid) as f:
        expect("libssl" not in f.read(), "libssl is already loaded: the test proves nothing")
    tracer = trace_until_exit(env, "library_loaded_later", client)
    with open(tracer.err_file, errors="replace") as f:
        expect("yet" in f.read(), "no warning that no TLS library was loaded yet")
    entries = read_entries(tracer.out_file)
    expect_count(entries, 1)
    check_response(entries[0], 0, env.url("/hello"), 200, 6)
    check_new_connection(entries[0], 0, env.port)


PY_LATE_SSL = r"""
import sys, time
print("ready", flush=True)
sys.stdin.readline()
import http.client, ssl          # loads libssl now, after tlstrace attached
time.sleep(0.2)
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]), context=ssl._create_unverified_context())
c.request("GET", "/hello"); print(c.getresponse().status, flush=True)
"""


def test_program_started_later(env):
    """A program with OpenSSL inside (node) started after tlstrace, traced by name:
    found at its exec, by its symbols, without options."""
    need("node")
    env.require_server()
    tracer = env.start_tlstrace("program_started_later", ["-c", "node"])
    url = env.url("/hello")
    node = env.procs.spawn(["node", "-e", NODE_FETCH, url], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = node.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        env.procs.stop(node)
        raise Failure("node timed out after 60s")
    expect(node.returncode == 0, "node exited %d%s"
           % (node.returncode, stderr_hint(err.decode(errors="replace"))))
    time.sleep(0.3)
    tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 15, "tlstrace after SIGINT")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    # -c node traces any other node on the host too: the test checks its own
    entries = [e for e in read_entries(tracer.out_file) if e["tlstrace"]["pid"] == node.pid]
    expect_count(entries, 1)
    check_response(entries[0], 0, url, 200, 6)
    check_new_connection(entries[0], 0, env.port)


def test_lib_option(env):
    """--lib: a program with OpenSSL inside, under a name nothing else would find;
    and a file without TLS functions is reported and skipped."""
    need("node")
    env.require_server()
    app = env.path("vendorapp")
    shutil.copy(shutil.which("node"), app)
    url = env.url("/hello")
    rc, out, err, path = env.trace("lib_option", [app, "-e", NODE_FETCH, url], timeout=60,
                                   opts=["--lib", "/bin/true", "--lib", app])
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect("/bin/true has no OpenSSL, GnuTLS, NSS or Go crypto/tls functions" in err,
           "no word about /bin/true: %r" % err[:200])
    entries = read_entries(path)
    expect_count(entries, 1)
    check_response(entries[0], 0, url, 200, 6)
    check_new_connection(entries[0], 0, env.port)


def test_pid_namespace(env):
    """A client in its own pid and mount namespaces: the host's pid, and its own."""
    need("curl")
    need("unshare")
    env.require_server()
    url = env.url("/hello")
    cmd = ["unshare", "-p", "-f", "-m", "--mount-proc", "curl", "-sk", "-o", "/dev/null", url]
    rc, out, err, path = env.trace("pid_namespace", cmd, timeout=30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(path)
    expect_count(entries, 1)
    x = entries[0]["tlstrace"]
    expect(x.get("nsPid") == 1, "nsPid %r, want 1 (curl is pid 1 in its namespace)" % x.get("nsPid"))
    expect(x["pid"] != 1, "pid %r: not the host's view" % x["pid"])
    check_response(entries[0], 0, url, 200, 6)


def test_attach_pid(env):
    env.require_server()
    requests = [("/hello", 200, 6), ("/size/300", 200, 300)]
    # The client loads libssl, then waits until tlstrace is attached.
    launched = wall_ms()
    client = start_python(env, PY_CLIENT, [str(env.port), "--fresh", "--wait"]
                          + [p for p, _, _ in requests])

    tracer = env.start_tlstrace("attach_pid", ["-p", str(client.pid), "-d", "6"])
    client.stdin.write(b"go\n")
    client.stdin.close()
    crc = env.procs.wait(client, 15, "python client")
    out = client.stdout.read().decode(errors="replace")
    expect(crc == 0, "python client %s" % describe_exit(crc))
    check_py_output(out, requests)

    # tlstrace may stop by itself when its target exits; otherwise SIGINT.
    try:
        tracer.wait(1)
    except subprocess.TimeoutExpired:
        tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 10, "tlstrace after SIGINT")
    done = wall_ms()
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))

    entries = read_entries(tracer.out_file)
    expect_count(entries, 2)
    for i, (e, (p, status, size)) in enumerate(zip(entries, requests)):
        check_shape(e, i)
        check_response(e, i, env.url(p), status, size)
        check_new_connection(e, i, env.port)
        expect(e["tlstrace"]["pid"] == client.pid,
               "entry %d: pid %r, want %d" % (i, e["tlstrace"]["pid"], client.pid))
        check_wallclock(e, i, launched, done)
    ids = [e["tlstrace"]["connectionId"] for e in entries]
    expect(ids[0] != ids[1], "two connections share connectionId %r" % ids[0])


def test_comm_filter(env):
    need("curl")
    env.require_server()
    url = env.url("/hello")
    started = time.monotonic()
    tracer = env.start_tlstrace("comm_filter", ["-c", "curl", "-d", "4"])

    curl_pids = []
    for _ in range(2):
        p = env.procs.spawn(["curl", "-sk", "-o", "/dev/null", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        expect(env.procs.wait(p, 15, "curl") == 0, "curl %s" % describe_exit(p.returncode))
        curl_pids.append(p.pid)
    rc, out, _ = env.procs.run([sys.executable, "-c", PY_CLIENT, str(env.port), "/hello"],
                               15, "python client")
    expect(rc == 0, "python client %s" % describe_exit(rc))
    check_py_output(out, [("/hello", 200, 6)])
    expect(tracer.poll() is None, "tlstrace exited before the clients finished (-d 4)")

    rc = env.procs.wait(tracer, 15, "tlstrace -d 4")
    elapsed = time.monotonic() - started
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    expect(elapsed >= 3.9, "tlstrace -d 4 stopped after %.2fs" % elapsed)

    entries = read_entries(tracer.out_file)
    # -c curl: nothing but curl processes, the Python client's request not at all
    for i, e in enumerate(entries):
        expect(e["tlstrace"]["comm"] == "curl", "entry %d: comm %r" % (i, e["tlstrace"]["comm"]))
    # another curl on the host is traced too: the test checks its own two
    entries = [e for e in entries if e["tlstrace"]["pid"] in curl_pids]
    expect_count(entries, 2)
    for i, e in enumerate(entries):
        check_shape(e, i)
        check_response(e, i, url, 200, 6)
    pids = sorted(e["tlstrace"]["pid"] for e in entries)
    expect(pids == sorted(curl_pids), "pids %r, curl's were %r" % (pids, curl_pids))


def test_filters_predating(env):
    """--port on a keep-alive connection opened before tlstrace started (-p):
    one the filter leaves out is adopted as spared, so its later responses
    (three of 200 kB) are not copied (calls.filtered counts the reads) and
    make no entry; one it names gives its entries as without a filter."""
    env.require_server()
    script = PY_OLD_CONN.replace('("/hello", "/size/1000")', '("/size/200000",) * 3')
    stats = {}
    for port, want in ((1, 0), (env.port, 3)):
        client = start_python(env, script, [str(env.port)])
        test = "filters_predating_%d" % port
        tracer = env.start_tlstrace(test, ["-p", str(client.pid), "--port", str(port),
                                           "--stats"])
        client.stdin.write(b"go\n")
        client.stdin.close()
        expect(env.procs.wait(client, 15, "python client") == 0, "python client failed")
        rc = env.procs.wait(tracer, 15, "tlstrace")
        expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
        entries = read_entries(tracer.out_file)
        expect(len(entries) == want and all(e["encodedBodySize"] == 200000 for e in entries),
               "--port %d: %d entries %r, want %d" % (port, len(entries),
                                                      [e["name"] for e in entries], want))
        with open(tracer.err_file, errors="replace") as f:
            words = dict(w.split("=", 1) for w in f.read().split() if "=" in w)
        stats[port] = (int(words.get("records", -1)), int(words.get("calls.filtered", -1)))
    (spared_records, filtered), (kept_records, _) = stats[1], stats[env.port]
    expect(filtered >= 3 and spared_records * 4 < kept_records,
           "left out: records=%d calls.filtered=%d; followed: records=%d"
           % (spared_records, filtered, kept_records))
    return "records %d left out, %d followed" % (spared_records, kept_records)
