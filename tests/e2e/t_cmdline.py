# SPDX-License-Identifier: MIT
"""The command line: one-line errors for bad options, the -o file's mode (the
outputs have modules of their own: t_chrome, t_har, t_otlp, t_metrics,
t_terminal)."""

import os
import stat
import subprocess
import sys
import time

from harness import describe_exit, expect, need, read_entries, read_line, stderr_hint, to_port


def test_errors(env):
    problems = []

    def one_line(err):
        return len([l for l in err.splitlines() if l.strip()]) == 1

    rc, _, err = env.procs.run([env.tlstrace, "--bogus"], 10, "tlstrace --bogus")
    if rc != 2 or not one_line(err):
        problems.append("--bogus: exit %d, %d stderr lines (want 2, 1)"
                        % (rc, len(err.splitlines())))

    pid = 999999
    while os.path.exists("/proc/%d" % pid):
        pid += 1
    rc, _, err = env.procs.run([env.tlstrace, "-p", str(pid)], 10, "tlstrace -p %d" % pid)
    if rc == 0 or not one_line(err) or str(pid) not in err:
        problems.append("-p %d: exit %d, stderr %r (want non-zero, one line naming the pid)"
                        % (pid, rc, err.strip()[:100]))

    # a thread's id is no process's: /proc has it, the BPF filter never sees it
    script = ("import threading, time\n"
              "threading.Thread(target=lambda: (print(threading.get_native_id(), flush=True),"
              " time.sleep(30)), daemon=True).start()\n"
              "time.sleep(30)\n")
    owner = env.procs.spawn([sys.executable, "-c", script], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    tid = read_line(owner, 10, "python with a thread")
    rc, _, err = env.procs.run([env.tlstrace, "-p", tid, "-d", "1"], 10, "tlstrace -p TID")
    if rc != 1 or not one_line(err) or tid not in err or str(owner.pid) not in err:
        problems.append("-p %s (a thread of %d): exit %d, stderr %r (want 1, one line naming "
                        "the thread and its process)" % (tid, owner.pid, rc, err.strip()[:100]))
    env.procs.stop(owner)

    # every process is traced already: nothing to keep to
    rc, _, err = env.procs.run([env.tlstrace, "--no-follow"], 10, "tlstrace --no-follow")
    if rc != 2 or not one_line(err) or "--no-follow" not in err:
        problems.append("--no-follow alone: exit %d, stderr %r (want 2, one line naming it)"
                        % (rc, err.strip()[:100]))

    # the phase columns are the text view's; JSON has the phases' fields
    rc, _, err = env.procs.run([env.tlstrace, "--phases", "-f", "json", "--", "true"], 10,
                               "tlstrace --phases -f json")
    if rc != 2 or not one_line(err) or "--phases" not in err:
        problems.append("--phases -f json: exit %d, stderr %r (want 2, one line naming it)"
                        % (rc, err.strip()[:100]))

    rc, _, err = env.procs.run([env.tlstrace, "-f", "nope", "--", "true"], 10,
                               "tlstrace -f nope")
    if rc != 2 or not err.strip():
        problems.append("-f nope: exit %d%s (want 2 and a message)" % (rc, stderr_hint(err)))

    expect(not problems, "; ".join(problems))


def test_json_file_mode(env):
    need("curl")
    env.require_server()
    # umask 0, so only an explicit 0600 at creation passes.
    rc, _, err, path = env.trace("json_file_mode", ["curl", "-sk", "-o", "/dev/null",
                                                    env.url("/hello")], timeout=30, umask=0)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(os.path.exists(path), "no output file")
    st = os.stat(path)
    expect(stat.S_ISREG(st.st_mode), "output is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    expect(mode == 0o600, "output file mode %04o, want 0600" % mode)


def test_habits(env):
    """What users of other tools type: -h is --help; -d takes 1.5, 500ms,
    10s, 2m (a bad one is refused in one line, exit 2); -v says what
    tlstrace does, -vv adds libbpf's own messages; a COMMAND not found
    exits 127 and one that cannot run 126, as shells do, before anything
    is loaded (no BPF program of its own appears)."""
    problems = []
    rc, out, _ = env.procs.run([env.tlstrace, "-h"], 10, "tlstrace -h")
    rc2, out2, _ = env.procs.run([env.tlstrace, "--help"], 10, "tlstrace --help")
    if rc != 0 or out != out2 or "EXAMPLES" not in out or "-h, --help" not in out:
        problems.append("-h: exit %d, %d bytes, same as --help: %s"
                        % (rc, len(out), out == out2))
    for bad in ["x", "1.5x", "-1", "10 s", "", "2y", "9999999h", "0.0001ms", "0x1", "1e0"]:
        rc, _, err = env.procs.run([env.tlstrace, "-d", bad, "--", "true"], 10, "tlstrace -d")
        if rc != 2 or len(err.strip().splitlines()) != 1 or "duration" not in err:
            problems.append("-d %r: exit %d, stderr %r (want 2, one line)" % (bad, rc, err[:100]))
    # a duration with a unit stops the trace of a process still running then
    sleeper = env.procs.spawn(["sleep", "60"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for d, want in [("500ms", 0.5), ("1.5", 1.5), ("0.02m", 1.2)]:
        t0 = time.monotonic()
        rc, _, err = env.procs.run([env.tlstrace, "-d", d, "-o", env.path("habits.txt"), "-p",
                                    str(sleeper.pid)], 30, "tlstrace -d %s" % d)
        took = time.monotonic() - t0
        if rc != 0 or not want <= took < want + 5:
            problems.append("-d %s: stopped after %.2f s (want %.1f)%s"
                            % (d, took, want, stderr_hint(err)))
    env.procs.stop(sleeper)
    # -v: tlstrace's own messages only; -vv: libbpf's (its "libbpf:" lines) as well
    v1 = env.procs.run([env.tlstrace, "-v", "-d", "0.5", "-o", env.path("habits.txt"), "--",
                        "true"], 30, "tlstrace -v")[2]
    v2 = env.procs.run([env.tlstrace, "-vv", "-d", "0.5", "-o", env.path("habits.txt"), "--",
                        "true"], 30, "tlstrace -vv")[2]
    if "libbpf:" in v1 or "libbpf:" not in v2 or len(v1.splitlines()) > 50:
        problems.append("-v gave %d lines (libbpf's: %s), -vv %d (libbpf's: %s)"
                        % (len(v1.splitlines()), "libbpf:" in v1, len(v2.splitlines()),
                           "libbpf:" in v2))
    # not found: 127; found but not runnable: 126; both before any BPF is loaded
    notexec = env.path("habits_not_executable")
    with open(notexec, "w") as f:
        f.write("#!/bin/sh\necho ran\n")
    os.chmod(notexec, 0o644)
    # a script whose interpreter is missing, or is a directory: as the script itself
    bad_interp = env.path("habits_bad_interpreter")
    with open(bad_interp, "w") as f:
        f.write("#!%s -x\necho ran\n" % env.path("no-such-interpreter"))
    dir_interp = env.path("habits_dir_interpreter")
    with open(dir_interp, "w") as f:
        f.write("#! %s\necho ran\n" % env.workdir)
    for script in (bad_interp, dir_interp):
        os.chmod(script, 0o755)
    for cmd, want, words in [(["tlstrace-no-such-command-x"], 127, "command not found"),
                             ([bad_interp], 127, "bad interpreter"),
                             ([dir_interp], 126, "bad interpreter"),
                             ([env.path("no-such-file")], 127, "No such file"),
                             ([notexec], 126, "Permission denied"),
                             ([env.workdir], 126, "Is a directory")]:
        rc, _, err = env.procs.run([env.tlstrace, "--"] + cmd, 10, "tlstrace -- %s" % cmd[0])
        lines = err.strip().splitlines()
        if rc != want or len(lines) != 1 or words not in err:
            problems.append("-- %s: exit %d, stderr %r (want %d, one line with %r)"
                            % (cmd[0], rc, err.strip()[:120], want, words))
    # an empty element of PATH is the current directory, as execvp() and shells have it
    here = env.path("habits_here")
    os.makedirs(here, exist_ok=True)
    local = os.path.join(here, "habits-localcmd")
    with open(local, "w") as f:
        f.write("#!/bin/sh\necho ran\n")
    os.chmod(local, 0o755)
    path_env = dict(os.environ, PATH=":/usr/bin:/bin")
    rc, out, err = env.procs.run([env.tlstrace, "-o", env.path("habits.txt"), "--",
                                  "habits-localcmd"], 30, "tlstrace -- local", cwd=here,
                                 env=path_env)
    if rc != 0 or out.strip() != "ran":
        problems.append("PATH=:/usr/bin, -- habits-localcmd in the current directory: exit %d, "
                        "%r%s" % (rc, out, stderr_hint(err)))
    # before anything: even before the check that it runs as root
    rc, _, err = env.procs.run(["runuser", "-u", "nobody", "--", env.tlstrace, "--",
                                "tlstrace-no-such-command-x"], 10, "tlstrace as nobody")
    if rc != 127 or "command not found" not in err:
        problems.append("as nobody, -- no such command: exit %d, stderr %r (want 127)"
                        % (rc, err.strip()[:120]))
    expect(not problems, "; ".join(problems))


def test_comm_repeated(env):
    """`-c curl -c wget` traces both names, a second -c adding to the first
    (it replaced it before): a curl and a wget fetch each give their entry;
    a Python fetch meanwhile gives none. A ninth name is refused (exit 2)."""
    need("curl")
    need("wget")
    env.require_server()
    tracer = env.start_tlstrace("comm_repeated", ["-c", "curl", "-c", "wget", "-c", "curl"])
    rc, _, err = env.procs.run(["curl", "-sk", "-o", "/dev/null", env.url("/hello?by=curl")],
                               30, "curl")
    expect(rc == 0, "curl exited %d%s" % (rc, stderr_hint(err)))
    rc, _, err = env.procs.run(["wget", "-q", "--no-check-certificate", "-O", "/dev/null",
                                env.url("/hello?by=wget")], 30, "wget")
    expect(rc == 0, "wget exited %d%s" % (rc, stderr_hint(err)))
    script = ("import ssl, urllib.request\n"
              "urllib.request.urlopen(%r, context=ssl._create_unverified_context()).read()\n"
              % env.url("/hello?by=python"))
    rc, _, err = env.procs.run([sys.executable, "-c", script], 30, "python")
    expect(rc == 0, "python exited %d%s" % (rc, stderr_hint(err)))
    time.sleep(0.3)
    tracer.send_signal(2)
    rc = env.procs.wait(tracer, 15, "tlstrace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
    got = sorted((e["tlstrace"]["comm"], e["name"].rsplit("=", 1)[-1])
                 for e in to_port(read_entries(tracer.out_file), env.port))
    expect(got == [("curl", "curl"), ("wget", "wget")], "entries %r" % got)
    names = []
    for i in range(9):
        names += ["-c", "name%d" % i]
    rc, _, err = env.procs.run([env.tlstrace] + names, 10, "tlstrace -c x9")
    expect(rc == 2 and "at most 8" in err, "nine -c: exit %d%s" % (rc, stderr_hint(err)))


def test_command_time_origin(env):
    """`-- COMMAND` is forked once BPF is loaded: its timeOrigin (its start)
    is not tlstrace's own set-up. The command, a shell that prints the wall
    clock and then runs curl, starts running within 100 ms of timeOrigin
    (the probes put in place meanwhile; loading them takes 150-250 ms,
    which startTime counted before)."""
    need("curl")
    env.require_server()
    script = 'date +%%s%%N; exec curl -sk -o /dev/null %s' % env.url("/hello")
    rc, out, err, path = env.trace("command_time_origin", ["sh", "-c", script], 30)
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    ran = int(out.split()[0]) / 1e6  # ms since the epoch
    entries = read_entries(path)
    expect(len(entries) == 1, "%d entries" % len(entries))
    origin = entries[0]["tlstrace"]["timeOrigin"]
    expect(0 <= ran - origin < 100, "the command ran %.1f ms after its timeOrigin (want < 100)"
           % (ran - origin))
    return "ran %.1f ms after timeOrigin; startTime %.1f ms" % (ran - origin,
                                                               entries[0]["startTime"])


def stat_value(err, name):
    """The number --stats printed as name=N on stderr, or None."""
    for line in err.splitlines():
        for word in line.split():
            if word.startswith(name + "="):
                return int(word.split("=", 1)[1])
    return None


def test_filters(env):
    """--port, --host and --url: curl fetches from the test server (by name),
    from nghttpd over HTTP/2 (by address), a plain-HTTP server and a refused
    port; each filter writes exactly the entries it names. --port leaves the
    other connections' data uncopied in BPF (calls.filtered counts the TLS
    reads and writes spared); an entry left out is counted, not lost."""
    need("curl")
    env.require_server()
    h2, plain = env.h2_port(), env.plain_port()
    urls = [env.url("/hello?a"), env.url("/size/20000?b"),
            "https://127.0.0.1:%d/big" % h2, "http://127.0.0.1:%d/hello" % plain,
            "https://127.0.0.1:1/refused"]
    sh = " ; ".join("curl -sk -o /dev/null %s%s" % ("--http2 " if str(h2) in u else "", u)
                    for u in urls) + " ; true"
    cases = [
        (["--port", str(env.port)], urls[:2]),
        (["--port", str(h2), "--port", "1"], [urls[2], "https://127.0.0.1:1/"]),
        (["--host", "localhost"], urls[:2]),
        (["--host", "127.0.0.1"], urls[2:4] + ["https://127.0.0.1:1/"] + urls[:2]),
        (["--host", "*.localhost", "--host", "LOCALHOST"], urls[:2]),
        (["--url", env.url("/size/")], urls[1:2]),
        (["--url", env.url("/hello"), "--port", str(h2)], []),
    ]
    for i, (opts, want) in enumerate(cases):
        rc, _, err, path = env.trace("filters%d" % i, ["sh", "-c", sh], 60,
                                     opts=opts + ["--stats"])
        # (1 if anything were lost)
        expect(rc == 0, "%s: tlstrace %s%s" % (opts, describe_exit(rc), stderr_hint(err)))
        got = [e["name"] for e in read_entries(path)]
        expect(sorted(got) == sorted(want), "%s: entries %r, want %r" % (opts, got, want))
        # judged in user space alone (a name, a URL): every other entry is counted; with a
        # port, BPF spares the other connections' data and only their connects make entries
        filtered = stat_value(err, "entries.filtered")
        left_out = len(urls) - len(want)
        expect(filtered == left_out if "--port" not in opts else filtered is not None,
               "%s: entries.filtered=%r for %d left out" % (opts, filtered, left_out))
        if opts[:2] == ["--port", str(env.port)]:
            # the HTTP/2 download's reads never reached the ring buffer
            spared = stat_value(err, "calls.filtered")
            expect(spared and spared >= 2, "%s: calls.filtered=%r" % (opts, spared))
    # fetches under way at the end: only the one written is said to be written incomplete
    sh = "curl -sk -o /dev/null %s & curl -sk -o /dev/null %s & wait" % (
        env.url("/delay/3000").replace("localhost", "127.0.0.1"), env.url("/delay/3000"))
    rc, _, err, path = env.trace("filters_stopped", ["sh", "-c", sh], 60,
                                 opts=["-d", "1s", "--host", "localhost"])
    got = [e["name"] for e in read_entries(path)]
    expect(got == [env.url("/delay/3000")] and "1 fetch was under way" in err,
           "-d 1s --host localhost: entries %r; stderr %r" % (got, err.strip()[-300:]))
    for bad in (["--port", "0"], ["--port", "http"], ["--host", "a/b"], ["--url", "example.com"],
                ["--url", "https://x/", "--timing-only"], ["--url", "https://x/", "--wire"]):
        rc, _, err = env.procs.run([env.tlstrace] + bad, 10, "tlstrace")
        lines = err.strip().splitlines()
        expect(rc == 2 and len(lines) == 1 and bad[0] in lines[0],
               "%r: exit %d, stderr %r (want 2, one line naming it)" % (bad, rc, err[:200]))
