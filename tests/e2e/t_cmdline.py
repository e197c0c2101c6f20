# SPDX-License-Identifier: MIT
"""The command line: one-line errors for bad options, the -o file's mode (the
outputs have modules of their own: t_chrome, t_har, t_otlp, t_metrics,
t_terminal)."""

import os
import stat
import subprocess
import sys

from harness import describe_exit, expect, need, read_line, stderr_hint


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
