# SPDX-License-Identifier: MIT
"""Containers: --cgroup keeps to the processes of a cgroup v2 and those below
it (a process already in it at the start, one started in it, one in a child
cgroup; never one outside), and every entry names its process's executable
and cgroup (path and id). Each test makes its own cgroups under the cgroup v2
mount and removes them; a process is put in one by writing its pid to the
cgroup's cgroup.procs."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

from harness import (PY_CLIENT, Skip, describe_exit, expect, need, read_entries, read_line,
                     stderr_hint)


def cgroup2_mount():
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host)."""
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return fields[1].replace("\\040", " ")
    raise Skip("no cgroup v2 mounted")


class Cgroups:
    """A cgroup of the test's own (and a child of it) under the cgroup v2
    mount, removed at the end once the processes put in them are gone."""

    def __init__(self, env, test, more=()):
        self.env = env
        self.more = list(more)  # more children, by name
        self.mount = cgroup2_mount()
        self.rel = "/tlstrace-e2e-%d-%s" % (os.getpid(), test)
        self.dir = self.mount + self.rel
        self.child_rel = self.rel + "/child"
        self.child_dir = self.mount + self.child_rel
        self.procs = []

    def __enter__(self):
        try:
            os.mkdir(self.dir)
            os.mkdir(self.child_dir)
            for name in self.more:
                os.mkdir(os.path.join(self.dir, name))
        except OSError as e:
            self.__exit__()
            raise Skip("cannot make a cgroup under %s: %s" % (self.mount, e))
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            self.env.procs.stop(p)
        for d in [os.path.join(self.dir, n) for n in self.more] + [self.child_dir, self.dir]:
            deadline = time.monotonic() + 5
            while os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    @staticmethod
    def run_in(d, cmd):
        """cmd, run by a shell that first moves itself into cgroup directory d."""
        return ["sh", "-c", 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', "sh", d] + cmd

    def curl(self, d, url):
        """curl url, in cgroup directory d (None: where the test runs)."""
        cmd = ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url]
        rc, out, err = self.env.procs.run(self.run_in(d, cmd) if d else cmd, 30, "curl")
        expect(rc == 0 and out == "200", "curl %s in %s: exit %d, printed %r%s"
               % (url, d, rc, out, stderr_hint(err)))


def stop_tracer(env, tracer):
    time.sleep(0.3)
    tracer.send_signal(signal.SIGINT)
    rc = env.procs.wait(tracer, 15, "tlstrace after SIGINT")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))


def check_named(entries, url, exe, cgroup, cgroup_dir):
    """The one entry of url: its executable, its cgroup's path and id."""
    mine = [e for e in entries if e["name"] == url]
    expect(len(mine) == 1, "%d entries of %s, want 1 (have %r)"
           % (len(mine), url, [e["name"] for e in entries]))
    x = mine[0]["tlstrace"]
    want = {"exe": exe, "cgroup": cgroup, "cgroupId": os.stat(cgroup_dir).st_ino}
    bad = ["%s=%r (want %r)" % (k, x.get(k), v) for k, v in want.items() if x.get(k) != v]
    expect(not bad, "%s: %s" % (url, ", ".join(bad)))
    expect("containerId" not in x and "podUid" not in x,
           "%s: a container named by a path that names none: %r" % (url, x))
    return x


def test_cgroup_filter(env):
    """--cgroup as /proc/PID/cgroup gives the path: a Python client already in
    the cgroup at the start, a curl started in it and a curl in its child
    cgroup are traced, each entry naming its executable and cgroup; a curl
    outside is not."""
    need("curl")
    env.require_server()
    curl = os.path.realpath(shutil.which("curl"))
    python = os.path.realpath(sys.executable)
    base = "https://localhost:%d/hello" % env.port
    with Cgroups(env, "filter") as cg:
        client = env.procs.spawn(cg.run_in(cg.dir, [sys.executable, "-c", PY_CLIENT, "--wait",
                                                    str(env.port), "/hello?python"]),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        cg.procs.append(client)
        expect(read_line(client, 10, "python client") == "ready", "python client did not start")
        tracer = env.start_tlstrace("cgroup_filter", ["--cgroup", cg.rel])
        client.stdin.write(b"go\n")
        client.stdin.flush()
        expect(read_line(client, 15, "python client").startswith("/hello?python 200"),
               "the python client's fetch failed")
        cg.curl(cg.dir, base + "?in")
        cg.curl(cg.child_dir, base + "?child")
        cg.curl(None, base + "?outside")
        stop_tracer(env, tracer)
        entries = read_entries(tracer.out_file, env.err_hint(tracer))
        names = sorted(e["name"] for e in entries)
        expect(names == sorted([base + "?python", base + "?in", base + "?child"]),
               "entries %r: want the python client's and the two curls' in the cgroup" % names)
        check_named(entries, base + "?python", python, cg.rel, cg.dir)
        check_named(entries, base + "?in", curl, cg.rel, cg.dir)
        check_named(entries, base + "?child", curl, cg.child_rel, cg.child_dir)
    return "3 entries in %s and below, none outside" % cg.rel


def test_cgroup_sysfs_path(env):
    """--cgroup as a directory of the mount, the child cgroup: its curl is
    traced, its parent's is not; -c with --cgroup traces the named
    processes in it only."""
    need("curl")
    env.require_server()
    base = "https://localhost:%d/hello" % env.port
    with Cgroups(env, "sysfs") as cg:
        tracer = env.start_tlstrace("cgroup_sysfs_path", ["--cgroup", cg.child_dir])
        cg.curl(cg.dir, base + "?parent")
        cg.curl(cg.child_dir, base + "?child")
        stop_tracer(env, tracer)
        entries = read_entries(tracer.out_file, env.err_hint(tracer))
        expect([e["name"] for e in entries] == [base + "?child"],
               "entries %r, want the child cgroup's alone" % [e["name"] for e in entries])
        check_named(entries, base + "?child", os.path.realpath(shutil.which("curl")),
                    cg.child_rel, cg.child_dir)

        # -c and --cgroup: both must hold
        tracer = env.start_tlstrace("cgroup_and_comm", ["--cgroup", cg.rel, "-c", "curl"])
        cg.curl(cg.dir, base + "?curl-in")
        cg.curl(None, base + "?curl-out")
        rc, out, err = env.procs.run(cg.run_in(cg.dir, [
            sys.executable, "-c", PY_CLIENT, str(env.port), "/hello?python-in"]), 30, "python")
        expect(rc == 0, "python client %s%s" % (describe_exit(rc), stderr_hint(err)))
        stop_tracer(env, tracer)
        entries = read_entries(tracer.out_file, env.err_hint(tracer))
        expect([e["name"] for e in entries] == [base + "?curl-in"],
               "-c curl --cgroup: entries %r, want the curl in the cgroup alone"
               % [e["name"] for e in entries])
    return "child only; -c AND --cgroup"


def test_cgroup_errors(env):
    """What --cgroup refuses, each in one line with exit status 2: a path
    that is no cgroup v2 directory, one not absolute, -p or a command
    beside it."""
    mount = cgroup2_mount()
    problems = []
    cases = [(["--cgroup", "/tlstrace-no-such-cgroup-%d" % os.getpid()], "no such cgroup"),
             (["--cgroup", "/tmp"], "not a cgroup v2 directory"),
             (["--cgroup", mount + "/cgroup.procs"], "not a cgroup v2 directory"),
             (["--cgroup", "relative/path"], "not an absolute path"),
             (["--cgroup", "/", "-p", str(os.getpid())], "not -p or a command"),
             (["--cgroup", "/", "--", "true"], "not -p or a command"),
             (["--cgroup", "/x\n\x1b[31mred"], "\\x0a")]
    for args, says in cases:
        rc, _, err = env.procs.run([env.tlstrace] + args, 10, "tlstrace %r" % args)
        lines = [l for l in err.splitlines() if l.strip()]
        if rc != 2 or len(lines) != 1 or says not in err or "\x1b" in err:
            problems.append("%r: exit %d, stderr %r (want 2, one line saying %r)"
                            % (args, rc, err.strip()[:160], says))
    expect(not problems, "; ".join(problems))


def test_cgroup_namespace(env):
    """tlstrace in a cgroup namespace of its own, as in a pod (its root a
    cgroup of the test's, the host's cgroup tree mounted): two curls in
    sibling cgroups, whose /proc/PID/cgroup says "/../x" from there, are
    named by their host paths and ids, the second found without another
    walk of the tree."""
    need("curl")
    need("unshare")
    env.require_server()
    base = "https://localhost:%d/hello" % env.port
    with Cgroups(env, "cgns", more=["tracer", "other"]) as cg:
        tracer_dir = os.path.join(cg.dir, "tracer")
        out = env.out_file("cgroup_namespace")
        errpath = env.path("cgroup_namespace.stderr")
        with open(errpath, "wb") as err:
            tracer = env.procs.spawn(cg.run_in(tracer_dir, [
                "unshare", "--cgroup", env.tlstrace, "--stats", "-f", "json", "-o", out,
                "--cgroup", cg.rel]), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err)
        tracer.out_file, tracer.err_file = out, errpath
        env.wait_attached(tracer)
        expect(os.readlink("/proc/%d/ns/cgroup" % tracer.pid) !=
               os.readlink("/proc/self/ns/cgroup"), "tlstrace is not in a cgroup namespace")
        cg.curl(cg.child_dir, base + "?child")
        cg.curl(os.path.join(cg.dir, "other"), base + "?other")
        stop_tracer(env, tracer)
        entries = read_entries(out, env.err_hint(tracer))
        curl = os.path.realpath(shutil.which("curl"))
        check_named(entries, base + "?child", curl, cg.child_rel, cg.child_dir)
        check_named(entries, base + "?other", curl, cg.rel + "/other",
                    os.path.join(cg.dir, "other"))
        with open(errpath, errors="replace") as f:
            stats = f.read()
        walks = [int(w) for w in re.findall(r"procs\.cgroup_walks=(\d+)", stats)]
        expect(walks and walks[0] <= 1, "walks of the cgroup tree %r, want at most 1: %s"
               % (walks, stderr_hint(stats)))
    return "walks of the tree: %d" % walks[0]


def said(env, tracer, words, what):
    """Until the tracer's stderr has words (about what), 5 s at most."""
    deadline = time.monotonic() + 5
    while words not in open(tracer.err_file, errors="replace").read():
        expect(time.monotonic() < deadline,
               "no word of %s within 5 s%s" % (what, env.err_hint(tracer)))
        time.sleep(0.1)


def test_cgroup_made_again(env):
    """--cgroup's directory removed and made again, as systemd does at a
    service's restart (a new cgroup, a new id, the same path): tlstrace
    says the cgroup is gone, then that it was made again, and traces the
    new one's curls, with the new id; a curl while it was gone, outside
    it, is not traced."""
    need("curl")
    env.require_server()
    base = "https://localhost:%d/hello" % env.port
    with Cgroups(env, "again") as cg:
        tracer = env.start_tlstrace("cgroup_made_again", ["--cgroup", cg.rel])
        cg.curl(cg.dir, base + "?first")
        first_id = os.stat(cg.dir).st_ino
        os.rmdir(cg.child_dir)
        os.rmdir(cg.dir)
        said(env, tracer, "is gone", "the cgroup's removal")
        cg.curl(None, base + "?meanwhile")
        os.mkdir(cg.dir)
        os.mkdir(cg.child_dir)
        said(env, tracer, "was made again", "the cgroup made again")
        cg.curl(cg.dir, base + "?second")
        cg.curl(cg.child_dir, base + "?child")
        stop_tracer(env, tracer)
        entries = read_entries(tracer.out_file, env.err_hint(tracer))
        names = sorted(e["name"] for e in entries)
        expect(names == sorted([base + "?first", base + "?second", base + "?child"]),
               "entries %r: want the curls in the cgroup, before and after it was made again"
               % names)
        ids = {e["name"]: e["tlstrace"]["cgroupId"] for e in entries}
        expect(ids[base + "?first"] == first_id and ids[base + "?second"] == os.stat(cg.dir).st_ino
               and first_id != os.stat(cg.dir).st_ino,
               "cgroup ids %r (first %d, now %d)" % (ids, first_id, os.stat(cg.dir).st_ino))
    return "traced again under a new id"
