# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The clients bench/run.py measures, one subcommand each. Each prints one
JSON line on stdout. They run untraced, under `tlstrace -- ...` or beside
bpftrace, so everything a tracer could slow down happens in these processes.

  latency PORT NEW KA  curl and Python, new connections and keep-alive:
                       each request's wall time, and the pids that made them
  py-new PORT N        N requests, each on a new connection (timed in-process)
  py-ka PORT N         one connection, a warm-up request, then N requests
  aio-new PORT N       as py-new with asyncio's own TLS (memory BIOs)
  load PORT CLIENTS S  CLIENTS processes hammering /hello for S seconds on
                       keep-alive; our parent's (tlstrace's) CPU and memory
  hammer PORT S        one of those processes: requests done in S seconds
  idle PORT N          open N TLS connections, one request each, hold them;
                       says "ready" with our parent's memory, closes them
                       all when a line arrives on stdin
  unanswered PORT C N  N GETs pipelined over C connections (in writes of
                       16,000 bytes, cutting requests anywhere) to a server
                       that reads them and never answers; our parent's
                       memory before, with them waiting, and after the close
  hosts PORT N         N keep-alive requests on one connection, each with a
                       Host of its own; our parent's memory before and after
  mute PORT CERT KEY   that server: a TLS server that reads and never answers
                       (says "ready" once it listens)
"""

import http.client
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REQUEST = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def out(obj):
    print(json.dumps(obj), flush=True)


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def py_new(port, n):
    ctx = context()
    t = []
    c0 = cpu_s()
    for _ in range(n):
        t0 = time.perf_counter()
        c = http.client.HTTPSConnection("localhost", port, context=ctx)
        c.request("GET", "/hello")
        c.getresponse().read()
        c.close()
        t.append((time.perf_counter() - t0) * 1e6)
    return {"samples": t, "cpu_us": (cpu_s() - c0) / n * 1e6}


def py_ka(port, n):
    c = http.client.HTTPSConnection("localhost", port, context=context())
    c.request("GET", "/hello")
    c.getresponse().read()
    t = []
    c0 = cpu_s()
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", "/hello")
        c.getresponse().read()
        t.append((time.perf_counter() - t0) * 1e6)
    cpu = cpu_s() - c0
    c.close()
    return {"samples": t, "cpu_us": cpu / max(n, 1) * 1e6}


def aio_new(port, n):
    import asyncio

    async def one(ctx):
        r, w = await asyncio.open_connection("localhost", port, ssl=ctx)
        w.write(REQUEST)
        await w.drain()
        head = await r.readuntil(b"\r\n\r\n")
        size = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                if l.lower().startswith(b"content-length:")]
        await r.readexactly(size[0] if size else 0)
        w.close()
        await w.wait_closed()

    async def run():
        ctx = context()
        t = []
        c0 = cpu_s()
        for _ in range(n):
            t0 = time.perf_counter()
            await one(ctx)
            t.append((time.perf_counter() - t0) * 1e6)
        return {"samples": t, "cpu_us": (cpu_s() - c0) / n * 1e6}

    return asyncio.run(run())


def python_client(kind, port, n):
    """run py-new or py-ka in a process of its own"""
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), kind, str(port), str(n)],
                         stdout=subprocess.PIPE, text=True)
    res = json.loads(p.communicate()[0].strip().splitlines()[-1])
    if p.returncode:
        sys.exit("clients: %s failed" % kind)
    return dict(res, pids=[p.pid])


def curl(args):
    """a curl process: its pid, the time_total of each transfer in µs, and
    the CPU time of the whole process in µs"""
    p = subprocess.Popen(["curl", "-sk", "-o", "/dev/null", "-w", "%{time_total}\\n"] + args,
                         stdout=subprocess.PIPE, text=True)
    t = [float(x) * 1e6 for x in p.stdout.read().split()]
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode or not t:
        sys.exit("clients: curl failed")
    return p.pid, t, (ru.ru_utime + ru.ru_stime) * 1e6


def latency(port, n_new, n_ka):
    """per client, each request's time in µs (curl's time_total: from its
    start to the last byte; Python: timed in the process), the client's CPU
    time per request and the pids"""
    url = "https://localhost:%d/hello" % port
    res = {}
    pids, t, cpu = [], [], 0
    for _ in range(n_new):
        pid, tt, c = curl([url])
        pids.append(pid)
        t += tt
        cpu += c
    res["curl new"] = {"samples": t, "pids": pids, "cpu_us": cpu / n_new}
    # the process's CPU: its start and first connection are spread over n_ka
    pid, t, cpu = curl([url + "?[0-%d]" % n_ka])
    res["curl keep-alive"] = {"samples": t[1:], "pids": [pid], "cpu_us": cpu / n_ka}
    res["python new"] = python_client("py-new", port, n_new)
    res["python keep-alive"] = python_client("py-ka", port, n_ka)
    return res


def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds"""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    fields = st[st.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_mem_kib(pid):
    mem = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                mem[k] = int(v.split()[0])
    return mem


def hammer(port, seconds):
    """keep-alive requests as fast as one process can make them"""
    s = context().wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(REQUEST)
        buf = b""
        while not buf.endswith(b"hello\n"):
            d = s.recv(4096)
            if not d:
                sys.exit("hammer: connection closed")
            buf += d
        n += 1
    s.close()
    return {"requests": n}


def load(port, clients, seconds):
    tracer = os.getppid()
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "hammer", str(port),
                               str(seconds)], stdout=subprocess.PIPE, text=True)
             for _ in range(clients)]
    cpu0, t0 = proc_cpu_s(tracer), time.monotonic()
    n = 0
    for p in procs:
        n += json.loads(p.communicate()[0].strip().splitlines()[-1])["requests"]
    time.sleep(1.0)  # let the collector drain the ring buffer
    cpu1, t1 = proc_cpu_s(tracer), time.monotonic()
    return {"requests": n, "seconds": seconds, "tracer_cpu_s": cpu1 - cpu0,
            "tracer_wall_s": t1 - t0, "tracer_mem_kib": proc_mem_kib(tracer)}


def idle(port, n):
    tracer = os.getppid()
    want = n + 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    before = proc_mem_kib(tracer)
    ctx = context()
    conns = []
    t0 = time.monotonic()
    for _ in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
        s.sendall(REQUEST)
        buf = b""
        while not buf.endswith(b"hello\n"):
            buf += s.recv(4096)
        conns.append(s)
    opened_s = time.monotonic() - t0
    time.sleep(2.0)  # let the collector catch up
    out({"connections": len(conns), "open_s": opened_s, "before": before,
         "after": proc_mem_kib(tracer)})
    sys.stdin.readline()
    for s in conns:
        s.close()
    time.sleep(1.0)
    out({"closed": proc_mem_kib(tracer)})


def unanswered(port, conns, n):
    tracer = os.getppid()
    before = proc_mem_kib(tracer)
    ctx = context()
    socks = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
             for _ in range(conns)]
    per = n // conns
    for k, s in enumerate(socks):
        buf = b"".join(b"GET /%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % (k * per + i)
                       for i in range(per))
        for off in range(0, len(buf), 16000):
            s.sendall(buf[off:off + 16000])
    time.sleep(3.0)  # let the collector catch up
    held = proc_mem_kib(tracer)
    for s in socks:
        s.close()
    time.sleep(2.0)
    out({"requests": per * conns, "before": before, "held": held,
         "closed": proc_mem_kib(tracer)})


def hosts(port, n):
    tracer = os.getppid()
    before = proc_mem_kib(tracer)
    s = context().wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(n):
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: h%d.example\r\n\r\n" % i)
        buf = b""
        while not buf.endswith(b"hello\n"):
            d = s.recv(4096)
            if not d:
                sys.exit("hosts: connection closed")
            buf += d
    time.sleep(3.0)
    after = proc_mem_kib(tracer)
    s.close()
    out({"requests": n, "before": before, "after": after})


def mute(port, cert, key):
    """read every connection's bytes and never answer"""
    import selectors
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.create_server(("127.0.0.1", port), backlog=1024)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    out({"ready": True})
    while True:
        for key, _ in sel.select():
            if key.fileobj is ls:
                c, _ = ls.accept()
                try:
                    c = ctx.wrap_socket(c, server_side=True)
                except (OSError, ssl.SSLError):
                    c.close()
                    continue
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def main():
    if sys.argv[1] == "mute":
        mute(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = [int(a) for a in sys.argv[3:]]
    if cmd == "latency":
        out(latency(port, *args))
    elif cmd == "py-new":
        out(py_new(port, *args))
    elif cmd == "py-ka":
        out(py_ka(port, *args))
    elif cmd == "aio-new":
        out(aio_new(port, *args))
    elif cmd == "load":
        out(load(port, *args))
    elif cmd == "hammer":
        out(hammer(port, *args))
    elif cmd == "idle":
        idle(port, *args)
    elif cmd == "unanswered":
        unanswered(port, *args)
    elif cmd == "hosts":
        hosts(port, *args)
    else:
        sys.exit("clients: unknown command " + cmd)


if __name__ == "__main__":
    main()
