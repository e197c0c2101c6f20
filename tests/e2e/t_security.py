# SPDX-License-Identifier: MIT
"""A root tlstrace on a shared host: what an unprivileged user controls (a
directory, a link, a file name, bytes on the wire) cannot make it harm the
host, hang, lie about its exit, or leak secrets. Attackers run as nobody
(setpriv --reuid=65534) in a directory of their own under /tmp; device nodes
are private copies made with mknod, never the machine's own."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

from harness import Failure, describe_exit, expect, need, read_entries, stderr_hint

NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]


class AttackerDir:
    """A directory under /tmp that nobody owns, removed afterwards."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="tlstrace-attacker-")
        os.chmod(self.path, 0o755)
        os.chown(self.path, NOBODY, NOBODY)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)

    def join(self, name):
        return os.path.join(self.path, name)

    def run(self, cmd):
        """cmd as nobody; it must succeed."""
        r = subprocess.run(AS_NOBODY + cmd, capture_output=True, text=True, timeout=30)
        expect(r.returncode == 0, "as nobody, %s: %s%s" % (cmd, describe_exit(r.returncode),
                                                          stderr_hint(r.stderr)))


def snapshot(path):
    """What must not change about a file: contents, mode, owner, link count."""
    st = os.lstat(path)
    data = None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            data = f.read()
    return (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_nlink, data)


def private_node(env, name, kind, major, minor, mode=0o666):
    """A device node of the test's own in its workdir (never the machine's)."""
    path = env.path(name)
    if os.path.lexists(path):
        os.unlink(path)
    os.mknod(path, mode | kind, os.makedev(major, minor))
    os.chmod(path, mode)
    return path


def one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return lines[0] if len(lines) == 1 else None


def test_output_symlink_not_followed(env):
    """An unprivileged user plants FILE -> a root file in their directory; a
    root `tlstrace -o FILE` says one line, exits 1, runs nothing, and the
    root file keeps its contents and mode. A link root owns is followed, and
    the file it names is replaced (mode 0600), the link itself kept."""
    need("setpriv")
    victim = env.path("victim.conf")
    with open(victim, "w") as f:
        f.write("root's data\n")
    os.chmod(victim, 0o644)
    before = snapshot(victim)
    marker = env.path("symlink.ran")
    if os.path.exists(marker):
        os.unlink(marker)
    with AttackerDir() as d:
        link = d.join("trace.json")
        d.run(["ln", "-s", victim, link])
        rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", link, "--", "touch",
                                    marker], 30, "tlstrace")
        line = one_line(err)
        expect(rc == 1 and line and "symbolic link owned by uid %d" % NOBODY in line,
               "tlstrace -o attacker's link: %s, stderr %r" % (describe_exit(rc), err.strip()))
        expect(not os.path.exists(marker), "the command ran")
        expect(snapshot(victim) == before, "the link's target changed: %r -> %r"
               % (before, snapshot(victim)))
        expect(os.path.islink(link), "the attacker's link was removed or replaced")

    # root's own link: followed; its target replaced whole, the link kept
    target = env.path("followed.jsonl")
    with open(target, "w") as f:
        f.write("old contents\n")
    os.chmod(target, 0o644)
    link = env.path("root-link.jsonl")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.path.basename(target), link)
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", link, "--", "curl", "-sk",
                                "-o", env.path("symlink.body"), env.url("/hello")], 60,
                               "tlstrace")
    expect(rc == 0, "tlstrace -o root's link: %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(os.path.islink(link), "root's link was replaced by a file")
    entries = read_entries(target)
    expect(len(entries) == 1 and entries[0]["name"] == env.url("/hello"),
           "through root's link: %r" % [e["name"] for e in entries])
    expect(stat.S_IMODE(os.stat(target).st_mode) == 0o600,
           "the new file's mode is %o, want 600" % stat.S_IMODE(os.stat(target).st_mode))


def test_output_devices_untouched(env):
    """-o a character device (a private mknod copy of /dev/null) or a FIFO:
    written as it is, its mode and owner unchanged, the metrics endpoint on
    beside (the command that once made /dev/null root-only); a block device
    and a directory are refused with one line."""
    need("curl")
    env.require_server()
    devnull = private_node(env, "null", stat.S_IFCHR, 1, 3)
    before = snapshot(devnull)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", devnull, "--metrics-addr",
                                "127.0.0.1:%d" % port, "--", "curl", "-sk", "-o",
                                env.path("devices.body"), env.url("/hello")], 60, "tlstrace")
    expect(rc == 0, "tlstrace -o a null device: %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(snapshot(devnull) == before, "the device node changed: %r -> %r"
           % (before, snapshot(devnull)))
    expect(stat.S_ISCHR(os.lstat(devnull).st_mode), "the device node was replaced")

    # a FIFO with a reader: the entries come through it, the FIFO stays as it was
    fifo = env.path("entries.fifo")
    if os.path.lexists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo, 0o644)
    before = snapshot(fifo)
    reader = env.procs.spawn(["cat", fifo], stdout=subprocess.PIPE)
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", fifo, "--", "curl", "-sk",
                                "-o", env.path("devices.body"), env.url("/hello")], 60,
                               "tlstrace")
    got, _ = reader.communicate(timeout=30)
    expect(rc == 0, "tlstrace -o a FIFO: %s%s" % (describe_exit(rc), stderr_hint(err)))
    lines = [json.loads(l) for l in got.decode().splitlines() if l.strip()]
    expect(len(lines) == 1 and lines[0]["name"] == env.url("/hello"),
           "through the FIFO: %r" % got[:200])
    expect(snapshot(fifo) == before, "the FIFO changed: %r -> %r" % (before, snapshot(fifo)))

    # a FIFO nobody reads: one line, no hang
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", fifo, "--", "true"], 60,
                               "tlstrace -o a FIFO without a reader")
    line = one_line(err)
    expect(rc == 1 and line and "no reader" in line,
           "a FIFO without a reader: %s, stderr %r" % (describe_exit(rc), err.strip()))

    # a block device (a private loop-device node) and a directory: refused
    blk = private_node(env, "blockdev", stat.S_IFBLK, 7, 200, 0o600)
    for what, path, words in (("a block device", blk, "block device"),
                              ("a directory", env.workdir, "directory")):
        rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", path, "--", "true"], 30,
                                   "tlstrace")
        line = one_line(err)
        expect(rc == 1 and line and words in line.lower(),
               "-o %s: %s, stderr %r" % (what, describe_exit(rc), err.strip()))
    os.unlink(blk)


def test_output_kept_when_start_fails(env):
    """A run that fails at start-up (its metrics port taken) leaves the
    previous trace file as it was and nothing beside it; one that starts
    replaces it whole, and a hard link to the old file keeps the old
    contents (the file is replaced, not truncated)."""
    need("curl")
    env.require_server()
    d = env.path("keep")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    out = os.path.join(d, "trace.jsonl")
    with open(out, "w") as f:
        f.write('{"previous": true}\n')
    other = os.path.join(d, "hardlink")
    os.link(out, other)
    before = snapshot(out)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--metrics-addr",
                                    "127.0.0.1:%d" % taken.getsockname()[1], "--", "true"], 30,
                                   "tlstrace")
    finally:
        taken.close()
    expect(rc == 1 and one_line(err) and "in use" in err,
           "a taken metrics port: %s, stderr %r" % (describe_exit(rc), err.strip()))
    expect(snapshot(out) == before, "the previous trace changed: %r -> %r"
           % (before, snapshot(out)))
    expect(sorted(os.listdir(d)) == ["hardlink", "trace.jsonl"],
           "left behind: %r" % sorted(os.listdir(d)))

    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--", "curl", "-sk",
                                "-o", env.path("keep.body"), env.url("/hello")], 60, "tlstrace")
    expect(rc == 0, "tlstrace: %s%s" % (describe_exit(rc), stderr_hint(err)))
    entries = read_entries(out)
    expect(len(entries) == 1, "%d entries, want 1" % len(entries))
    with open(other) as f:
        expect(f.read() == '{"previous": true}\n', "the hard link's contents changed")
    expect(sorted(os.listdir(d)) == ["hardlink", "trace.jsonl"],
           "left behind: %r" % sorted(os.listdir(d)))


def test_write_errors_exit_nonzero(env):
    """Entries that cannot be written make the exit status 1 and are counted:
    a private copy of /dev/full loses every entry; a full 48 KiB tmpfs keeps
    whole JSON lines only (the line that did not fit is cut away), and the
    count of lost entries is the entries missing from it."""
    need("curl")
    env.require_server()
    full = private_node(env, "full", stat.S_IFCHR, 1, 7)
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", full, "--", "curl", "-sk",
                                "-o", env.path("full.body"), env.url("/hello")], 60, "tlstrace")
    expect(rc == 1, "tlstrace -o a full device: %s, want 1%s" % (describe_exit(rc),
                                                                 stderr_hint(err)))
    expect("1 of 1 entries not written" in err and "No space left" in err,
           "stderr %r" % err.strip())

    mnt = env.path("smallfs")
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tlstrace-test", mnt],
                       capture_output=True, text=True)
    expect(r.returncode == 0, "mount a small tmpfs: %s" % r.stderr.strip())
    try:
        out = os.path.join(mnt, "t.jsonl")
        n = 60
        script = 'for i in $(seq %d); do curl -sk -o /dev/null "$0?n=$i" || exit 1; done' % n
        rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--", "sh", "-c",
                                    script, env.url("/hello")], 180, "tlstrace")
        expect(rc == 1, "tlstrace on a full file system: %s, want 1%s"
               % (describe_exit(rc), stderr_hint(err)))
        entries = read_entries(out)  # every line whole JSON
        lost = [l for l in err.splitlines() if "entries not written" in l]
        expect(lost and ("%d of %d entries not written" % (n - len(entries), n)) in lost[0],
               "%d entries in the file, stderr %r" % (len(entries), err.strip()))
        expect(0 < len(entries) < n, "%d entries fit in 48 KiB" % len(entries))
    finally:
        subprocess.run(["umount", "-l", mnt])


# Python, as the attacker: open each path given (a FIFO without blocking, as a
# reader with no writer; anything else as it is) and map it as a dynamic
# loader maps a library first (which a FIFO or a pseudo-file refuses, after
# the kernel chose where), stay 2 s (so its files can be found through
# /proc), then print "opened".
MAP_ALL = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
for p in sys.argv[1:]:
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        print(p, e, file=sys.stderr)
        continue
    addr = libc.mmap(None, 4096, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE: a loader's first map
    if addr in (None, ctypes.c_void_p(-1).value):
        print(p, os.strerror(ctypes.get_errno()), file=sys.stderr)
    else:
        libc.munmap(ctypes.c_void_p(addr), 4096)
    os.close(fd)
time.sleep(2)
print("opened", flush=True)
"""

# Python: load each library given with dlopen (really mapped), print "loaded", wait.
LOAD_ALL = r"""
import ctypes, sys
libs = [ctypes.CDLL(p) for p in sys.argv[1:]]
print("loaded", len(libs), flush=True)
sys.stdin.readline()
"""

# Python: one HTTPS GET, after a pause that lets tlstrace attach to the
# libssl the loader picked (LD_LIBRARY_PATH); prints the status.
FETCH_LATER = r"""
import http.client, ssl, sys, time
time.sleep(float(sys.argv[2]))
c = http.client.HTTPSConnection("localhost", int(sys.argv[1]),
                                context=ssl._create_unverified_context(), timeout=10)
c.request("GET", "/hello"); r = c.getresponse(); r.read(); print(r.status, flush=True)
"""


def libssl_path():
    """The system's libssl.so.3, as Python's ssl module maps it."""
    import ssl  # noqa: F401
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if os.path.basename(path).startswith("libssl.so"):
                return path
    raise Failure("no libssl mapped by Python")


def control_chars(text):
    """bytes a terminal would act on, besides newlines"""
    return sorted({c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) < 0xa0})


def test_hostile_library_files(env):
    """A traced user maps a FIFO named libssl.so.3 (opened as a reader, so
    opening it for reading would wait for a writer forever), and a text file
    named libssl.so.3 in a directory whose name is terminal escape
    sequences: tlstrace neither blocks nor prints the escapes, never looks at
    the FIFO (only a regular file mapped is a library), says what it did not
    attach (the path escaped), keeps tracing the user's real HTTPS fetch,
    and stops at its -d deadline."""
    need("setpriv")
    env.require_server()
    evil = "\x1b]0;owned\x07\x1b[2J\x1b[1;1Hfake line\r"
    with AttackerDir() as d:
        fifo_dir = d.join("fifo")
        esc_dir = d.join(evil)
        d.run(["mkdir", fifo_dir, esc_dir])
        d.run(["mkfifo", os.path.join(fifo_dir, "libssl.so.3")])
        d.run(["sh", "-c", 'echo "not ELF" > "$0"', os.path.join(esc_dir, "libssl.so.3")])
        script = ("import subprocess, sys\n"
                  "subprocess.run([sys.executable, '-c', sys.argv[1]] + sys.argv[3:5], check=True)\n"
                  "subprocess.run([sys.executable, '-c', sys.argv[2], sys.argv[5], '0'], check=True)\n")
        out = env.out_file("hostile_library_files")
        cmd = [env.tlstrace, "-d", "20", "-f", "json", "-o", out, "--"] + AS_NOBODY + [
            "python3", "-c", script, MAP_ALL, FETCH_LATER,
            os.path.join(fifo_dir, "libssl.so.3"), os.path.join(esc_dir, "libssl.so.3"),
            str(env.port)]
        rc, so, err = env.procs.run(cmd, 40, "tlstrace beside a FIFO named libssl.so.3")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(repr(err))))
    expect("opened" in so and "200" in so, "the attacker's script printed %r" % so)
    entries = read_entries(out)
    expect([e["name"] for e in entries] == [env.url("/hello")],
           "entries %r" % [e["name"] for e in entries])
    bad = control_chars(err)
    expect(not bad, "control characters on stderr: %r in %r" % (bad, err))
    warned = [l for l in err.splitlines() if "not attaching to" in l]
    expect(not any("fifo/libssl.so.3" in l for l in warned), "the FIFO was looked at: %r" % err)
    expect(any("\\x1b]0;owned\\x07" in l and "not an x86-64 ELF file" in l for l in warned),
           "no escaped warning about the text file: %r" % err)
    expect("not_regular" not in err and "not_elf 1" in err, "the exit report: %r" % err)


def test_hostile_bytes_in_views(env):
    """A client's Host header carries terminal escapes and a byte that is not
    UTF-8, and it runs under a name (comm) with an escape in it: the text
    view and its summary hold no control character, every byte of the
    Trace Event file is UTF-8 and parses, and so does the JSON."""
    need("curl")
    env.require_server()
    evil_host = b"evil\x1b]0;owned\x07\x1b[2J\xff.example"
    curl = env.path("cu\x1brl")
    if os.path.lexists(curl):
        os.unlink(curl)
    os.symlink(shutil.which("curl"), curl)  # comm is the link's name
    fetch = [curl, "-sk", "-o", env.path("hostile.body"), "-H", b"Host: " + evil_host,
             env.url("/hello")]
    outputs = {}
    for fmt in ("text", "chrome-trace", "json"):
        out = env.path("hostile_bytes." + fmt)
        rc, _, err = env.procs.run([env.tlstrace, "-f", fmt, "-o", out, "--by-process", "--"] +
                                   fetch, 60, "tlstrace -f " + fmt)
        expect(rc == 0, "-f %s: %s%s" % (fmt, describe_exit(rc), stderr_hint(err)))
        expect(not control_chars(err), "control characters on stderr: %r" % err)
        with open(out, "rb") as f:
            outputs[fmt] = f.read()
    text = outputs["text"].decode("ascii", errors="replace")
    expect(not control_chars(text) and "\ufffd" not in text,
           "the text view holds raw bytes: %r" % text)
    expect("evil\\x1b]0;owned\\x0" in text, "the escaped host is not shown: %r" % text)
    expect("cu\\x1brl" in text, "the escaped comm is not shown: %r" % text)
    expect("SUMMARY" in text, "no summary: %r" % text[-300:])
    for fmt in ("chrome-trace", "json"):
        try:
            doc = outputs[fmt].decode("utf-8")  # strict: every byte UTF-8
            if fmt == "json":
                names = [json.loads(l)["name"] for l in doc.splitlines() if l.strip()]
            else:
                names = [ev["name"] for ev in json.loads(doc) if ev.get("cat") == "resource"]
        except ValueError as ex:
            raise Failure("-f %s is not valid: %s" % (fmt, ex))
        expect(len(names) == 1 and "evil\x1b]0;owned\x07\x1b[2J\ufffd.example" in names[0],
               "-f %s names %r" % (fmt, names))


def test_never_traces_itself(env):
    """tlstrace traces the whole host and sends its entries to a local OTLP
    receiver, which it traces too: nothing of its own connections comes out
    (no entry of its pid, none on either end of its OTLP posts, no span of
    them exported), so its exports do not feed on themselves."""
    need("curl")
    env.require_server()
    from t_otlp import Receiver
    rcv = Receiver(env, "never_traces_itself")
    tracer = env.start_tlstrace("never_traces_itself", ["--otlp-endpoint", rcv.url])
    rc, _, cerr = env.procs.run(["curl", "-sk", "-o", env.path("self.body"), env.url("/hello")],
                                30, "curl")
    expect(rc == 0, "curl %s%s" % (describe_exit(rc), stderr_hint(cerr)))
    time.sleep(4)  # the sender posts every second: a loop would show by now
    tracer.send_signal(signal.SIGINT)
    env.procs.wait(tracer, 60, "tlstrace")
    entries = read_entries(tracer.out_file)
    own = [e["name"] for e in entries if e["tlstrace"]["pid"] == tracer.pid]
    expect(not own, "entries of tlstrace's own pid: %r" % own)
    # its own posts go to its own receiver's port; another tracer's (a test run
    # beside this one) go elsewhere, and this host-wide trace rightly has them
    port = ":%d" % rcv.port
    posts = [e for e in entries if port + "/" in e["name"] or
             e["tlstrace"]["localAddress"].endswith(port) or
             e["tlstrace"]["remoteAddress"].endswith(port)]
    expect(not posts, "entries of tlstrace's OTLP posts: %r"
           % [(p["name"], p["tlstrace"]["comm"], p["tlstrace"]["role"]) for p in posts])
    mine = [e for e in entries if e["name"] == env.url("/hello") and
            e["tlstrace"]["role"] == "client"]
    expect(len(mine) == 1, "the curl fetch: %d entries" % len(mine))
    # nor among what was exported: no span of a post to the receiver
    loop = [sp for sp in rcv.spans() if port + "/" in json.dumps(sp) or
            any(sp.get("attributes", {}).get(k) == rcv.port
                for k in ("server.port", "network.peer.port", "network.local.port"))]
    expect(rcv.requests() and not loop, "spans of tlstrace's own posts were exported: %r"
           % loop[:2])


# Python, as the attacker: write a forged ELF file at each path given (a
# header claiming millions of section headers, sparse to 1 GiB), map 4 KiB
# of each, say "mapped", and wait for a line on stdin.
FORGED_ELF = r"""
import mmap, os, struct, sys
files = []
for p in sys.argv[1:]:
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, 64, 0, 64, 0, 0, 64, 0, 0)
    size = 1 << 30
    first = struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, (size - 128) // 64, 0, 0, 0, 0)
    with open(p, "wb") as f:
        f.write(eh + first)
        f.truncate(size)
    f = open(p, "rb")
    files.append((f, mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)))
print("mapped", flush=True)
sys.stdin.readline()
"""


# Python: run argv, then print its status and the largest resident size any
# child reached (KiB): tlstrace's peak memory.
PEAK_RSS = r"""
import resource, subprocess, sys, time
t0 = time.monotonic()
rc = subprocess.run(sys.argv[1:]).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - t0,
      flush=True)
"""


def test_forged_elf_bounded(env):
    """A user maps two sparse 1 GiB files named libc.so.6 whose ELF headers
    claim millions of section headers (libelf would allocate them all, 4 GiB
    each) in a process of theirs, and the traced command maps three such
    files named as TLS libraries (OpenSSL's, GnuTLS's, NSS's): tlstrace
    starts as quickly as without them (it reads no untraced process's
    files), stays under 200 MiB, refuses the traced command's three (said,
    and counted at exit) and traces a real fetch."""
    need("setpriv")
    need("curl")
    env.require_server()
    with AttackerDir() as d:
        d.run(["mkdir"] + [d.join("m%d" % i) for i in range(1, 6)])
        paths = [d.join("m1/libc.so.6"), d.join("m2/libc.so.6")]
        mapper = env.procs.spawn(AS_NOBODY + ["python3", "-c", FORGED_ELF] + paths,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = mapper.stdout.readline().decode()
        expect(line.startswith("mapped"), "the attacker's mapper said %r" % line)
        out = env.out_file("forged_elf_bounded")
        script = ("python3 -c '%s' %s </dev/null; curl -sk -o /dev/null %s"
                  % (FORGED_ELF.replace("'", "'\\''").replace("sys.stdin.readline()", ""),
                     " ".join(d.join(p) for p in ("m3/libssl.so.3", "m4/libgnutls.so.30",
                                                  "m5/libssl3.so")), env.url("/hello")))
        rc, so, err = env.procs.run(
            ["python3", "-c", PEAK_RSS, env.tlstrace, "-f", "json", "-o", out, "--stats",
             "--"] + AS_NOBODY + ["sh", "-c", script], 120, "tlstrace beside forged ELF files")
        mapper.stdin.close()
        mapper.wait(30)
    fields = so.split()
    expect(rc == 0 and len(fields) >= 3, "the wrapper: %s %r%s"
           % (describe_exit(rc), so, stderr_hint(err)))
    status, peak_kib, took = int(fields[-3]), int(fields[-2]), float(fields[-1])
    expect(status == 0, "tlstrace exited %d%s" % (status, stderr_hint(err)))
    expect(peak_kib < 200 * 1024, "tlstrace's peak memory %d MiB" % (peak_kib // 1024))
    expect(took < 30, "the trace took %.1f s" % took)
    entries = read_entries(out)
    expect([e["name"] for e in entries] == [env.url("/hello")],
           "entries %r" % [e["name"] for e in entries])
    refused = re.search(r"libs\.refused\.not_elf=(\d+)", err)
    expect(refused and int(refused.group(1)) >= 3, "refused as not ELF: %s (%r)"
           % (refused and refused.group(1), err[-300:]))
    return "peak %d MiB, %.1f s" % (peak_kib // 1024, took)


# Python, as the attacker: N times, map its own copy of a library while a
# thread puts another file (opened O_PATH: named, not readable) at the same
# descriptor, at a moment that varies; print "done".
SWAP_RACE = r"""
import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
lib, secret, n = sys.argv[1], sys.argv[2], int(sys.argv[3])


def swap(other, fd, spin):
    for _ in range(spin):
        pass
    os.dup2(other, fd)


for i in range(n):
    fd = os.open(lib, os.O_RDONLY)
    other = os.open(secret, os.O_PATH)
    t = threading.Thread(target=swap, args=(other, fd, (i * 37) % 400))
    t.start()
    addr = libc.mmap(None, 4096, 1, 2, fd, 0)
    t.join()
    if addr not in (None, ctypes.c_void_p(-1).value):
        libc.munmap(ctypes.c_void_p(addr), 4096)
    os.close(fd)
    os.close(other)
# then once with nothing swapped, kept a moment: the copy itself is attached
fd = os.open(lib, os.O_RDONLY)
addr = libc.mmap(None, 4096, 1, 2, fd, 0)
time.sleep(0.3)
os.close(fd)
print("done", flush=True)
"""


def test_descriptor_swap_race(env):
    """A traced user maps its own copy of libssl while another of its threads
    puts, at the same descriptor, a file it may name but not read (root's,
    0600, named libssl.so.3 too, opened O_PATH): tlstrace never opens or
    reads that file (no word of it, nothing refused as not ELF), whichever
    file the descriptor holds when it looks. The copy, mapped once more with
    nothing swapped, is attached (the race alone may leave no mapping of it
    to attach: a CI run's 300 rounds did)."""
    need("setpriv")
    rootonly = env.path("swap_rootonly")
    shutil.rmtree(rootonly, ignore_errors=True)
    os.makedirs(rootonly)
    os.chmod(rootonly, 0o711)  # others may pass through, not list
    secret = os.path.join(rootonly, "libssl.so.3")
    with open(secret, "w") as f:
        f.write("root's, not a library: never to be read for another user\n" * 4)
    os.chmod(secret, 0o600)
    with AttackerDir() as d:
        d.run(["mkdir", d.join("lib")])
        d.run(["cp", libssl_path(), d.join("lib/libssl.so.3")])
        out = env.out_file("descriptor_swap_race")
        rc, so, err = env.procs.run([env.tlstrace, "--stats", "-f", "json", "-o", out, "--"] +
                                    AS_NOBODY + ["python3", "-c", SWAP_RACE,
                                                 d.join("lib/libssl.so.3"), secret, "300"],
                                    120, "tlstrace")
    expect(rc == 0 and "done" in so, "tlstrace %s, %r%s" % (describe_exit(rc), so,
                                                           stderr_hint(err)))
    told = [l for l in err.splitlines() if "swap_rootonly" in l]
    expect(not told, "root's file was looked at: %r" % told)
    refused = re.search(r"libs\.refused\.not_elf=(\d+)", err)
    expect(refused and refused.group(1) == "0", "refused as not ELF: %r" % err[-400:])
    attached = re.search(r"libs\.attached=(\d+)", err)
    expect(attached and int(attached.group(1)) >= 1, "the copy was not attached: %r" % err[-400:])


def test_pseudo_files_not_read(env):
    """A user's link named libssl.so.3 to a kernel pseudo-file (procfs),
    mapped by a traced process: never opened or read (some are consumed or
    paused by a reader), nothing said of it: a file is a library by its own
    name, not a link's."""
    need("setpriv")
    with AttackerDir() as d:
        d.run(["mkdir", d.join("p")])
        d.run(["ln", "-s", "/proc/version", d.join("p/libssl.so.3")])
        out = env.out_file("pseudo_files_not_read")
        rc, so, err = env.procs.run([env.tlstrace, "-f", "json", "-o", out, "--"] + AS_NOBODY +
                                    ["python3", "-c", MAP_ALL, d.join("p/libssl.so.3")], 60,
                                    "tlstrace")
    expect(rc == 0 and "opened" in so, "tlstrace %s, %r%s" % (describe_exit(rc), so,
                                                             stderr_hint(err)))
    told = [l for l in err.splitlines() if l.startswith("tlstrace") and
            ("libssl.so.3" in l or "version" in l)]
    expect(not told, "stderr %r" % err)


def test_output_reader_misbehaves(env):
    """Whoever reads tlstrace's output cannot hold or kill it: a FIFO a user
    planted at FILE in a shared sticky directory is refused; a reader that
    never reads does not keep tlstrace past -d (2 s of grace), and one that
    goes away (`| head -c 10`) ends the trace with exit 1 and a count of
    what was lost, not death by SIGPIPE."""
    need("setpriv")
    need("curl")
    env.require_server()
    sticky = env.path("sticky")
    shutil.rmtree(sticky, ignore_errors=True)
    os.makedirs(sticky)
    os.chmod(sticky, 0o1777)
    planted = os.path.join(sticky, "trace.json")
    subprocess.run(AS_NOBODY + ["mkfifo", planted], check=True)
    rc, _, err = env.procs.run([env.tlstrace, "-f", "json", "-o", planted, "--", "true"], 30,
                               "tlstrace -o a planted FIFO")
    line = one_line(err)
    expect(rc == 1 and line and "FIFO owned by uid %d" % NOBODY in line,
           "a planted FIFO: %s, stderr %r" % (describe_exit(rc), err.strip()))

    # a reader that opens and never reads: -d 4 ends it by ~6 s, whatever is left
    fifo = env.path("stuck.fifo")
    if os.path.lexists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo, 0o600)
    holder = env.procs.spawn(["sh", "-c", 'exec 3<"$0"; sleep 60', fifo])
    # 20 fetches a curl: more than the pipe holds within a second or two, however fast
    # new processes start
    loop = 'for i in $(seq 100); do curl -sk "$0?[1-20]" >/dev/null; sleep 0.05; done'
    errpath = env.path("stuck.stderr")
    t0 = time.monotonic()
    with open(errpath, "wb") as errf:
        tracer = env.procs.spawn([env.tlstrace, "-d", "4", "-f", "json", "-o", fifo, "--", "sh",
                                  "-c", loop, env.url("/size/4000")], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errf)
    rc = env.procs.wait(tracer, 60, "tlstrace -d 4")
    took = time.monotonic() - t0
    env.procs.stop(holder)
    with open(errpath, errors="replace") as f:
        err = f.read()
    expect(took < 9, "a reader that does not read kept tlstrace %.1f s past -d 4" % (took - 4))
    expect(rc == 1 and "its reader stopped reading" in err,
           "%s, stderr %r" % (describe_exit(rc), err.strip()[-300:]))

    # a reader that goes away
    sh = ("%s -f json -c curl -d 20 2>%s | head -c 10 >/dev/null; echo ${PIPESTATUS[0]}"
          % (env.tlstrace, env.path("epipe.stderr")))
    open(env.path("epipe.stderr"), "w").close()
    tracer = env.procs.spawn(["bash", "-c", sh], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(env.path("epipe.stderr"), errors="replace") as f:
            if "tracing" in f.read():
                break
        time.sleep(0.1)
    t0 = time.monotonic()
    for _ in range(3):
        subprocess.run(["curl", "-sk", "-o", env.path("epipe.body"), env.url("/hello")])
        time.sleep(0.3)
    status = tracer.communicate(timeout=30)[0].decode().strip()
    took = time.monotonic() - t0
    with open(env.path("epipe.stderr"), errors="replace") as f:
        err = f.read()
    expect(status == "1", "tlstrace with its reader gone exited %r (141: SIGPIPE)" % status)
    expect(took < 10, "it went on %.1f s with nobody reading" % took)
    expect(re.search(r"\d+ of \d+ entries not written to standard output: its reader went away",
                     err), "stderr %r" % err)


def test_failed_open_not_followed(env):
    """A user tries to open a library in a directory only root can read
    (EACCES): tlstrace does not open, read or probe it for them; the same
    file opened by root is attached."""
    need("setpriv")
    rootonly = env.path("rootonly")
    shutil.rmtree(rootonly, ignore_errors=True)
    os.makedirs(rootonly)
    os.chmod(rootonly, 0o700)
    lib = os.path.join(rootonly, "libssl.so.3")
    shutil.copy(libssl_path(), lib)
    out = env.out_file("failed_open_not_followed")
    rc, so, err = env.procs.run([env.tlstrace, "-v", "-f", "json", "-o", out, "--"] + AS_NOBODY +
                                ["python3", "-c", MAP_ALL, lib], 60, "tlstrace")
    expect(rc == 0 and "Permission denied" in err, "the user's open: %s %r"
           % (describe_exit(rc), err[-300:]))
    attached = [l for l in err.splitlines() if "attached to" in l and "rootonly" in l]
    expect(not attached, "attached for a user who could not open it: %r" % attached)
    rc, so, err = env.procs.run([env.tlstrace, "-v", "-f", "json", "-o", out, "--", "python3",
                                 "-c", MAP_ALL, lib], 60, "tlstrace")
    attached = [l for l in err.splitlines() if "attached to" in l and "rootonly" in l]
    expect(rc == 0 and attached, "root's own open was not followed: %r" % err[-300:])


def test_pid_namespace_refused(env):
    """Run from another PID namespace (a container without --pid=host), the
    probes' pids would name other processes: one line, exit 1."""
    need("unshare")
    marker = env.path("pidns.ran")
    if os.path.exists(marker):
        os.unlink(marker)
    rc, _, err = env.procs.run(["unshare", "--pid", "--fork", "--mount-proc", env.tlstrace,
                                "--", "touch", marker], 30, "tlstrace in a PID namespace")
    line = one_line(err)
    expect(rc == 1 and line and "PID namespace" in line and not os.path.exists(marker),
           "%s, stderr %r" % (describe_exit(rc), err.strip()))


def test_library_copies_bounded(env):
    """One user dlopens 100 private copies of libssl while a root tlstrace
    traces the host with 1024 descriptors: 16 are attached, the rest refused
    (said once, counted at exit), and another program that loads its own
    libssl afterwards is still traced."""
    need("setpriv")
    need("prlimit")
    env.require_server()
    system = libssl_path()
    app = env.path("app-lib")
    os.makedirs(app, exist_ok=True)
    shutil.copy(system, os.path.join(app, "libssl.so.3"))  # root's, a new inode
    out = env.out_file("library_copies_bounded")
    errpath = env.path("library_copies_bounded.stderr")
    with AttackerDir() as d:
        copies = []
        for i in range(100):
            copies.append(d.join("c%d/libssl.so.3" % i))
            os.makedirs(os.path.dirname(copies[-1]))
            shutil.copy(system, copies[-1])
        subprocess.run(["chown", "-R", "%d:%d" % (NOBODY, NOBODY), d.path], check=True)
        with open(errpath, "wb") as err:
            tracer = env.procs.spawn(["prlimit", "--nofile=1024:1024", env.tlstrace, "-f",
                                      "json", "-o", out, "--stats"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=err)
        tracer.out_file, tracer.err_file = out, errpath
        env.wait_attached(tracer)
        loader = env.procs.spawn(AS_NOBODY + ["python3", "-c", LOAD_ALL] + copies,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = loader.stdout.readline().decode()
        expect(line.startswith("loaded 100"), "the attacker's loader said %r" % line)
        # the worker attaches 16 copies (slowly: 12 uprobes each), then refuses the rest
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with open(errpath, errors="replace") as f:
                if "per-user limit" in f.read():
                    break
            time.sleep(0.2)
        rc, so, cerr = env.procs.run(["python3", "-c", FETCH_LATER, str(env.port), "3"], 60,
                                     "client", env=dict(os.environ, LD_LIBRARY_PATH=app))
        expect(rc == 0 and so.strip() == "200", "client: %s %r%s" % (describe_exit(rc), so,
                                                                    stderr_hint(cerr)))
        loader.stdin.close()
        loader.wait(30)
        tracer.send_signal(signal.SIGINT)
        env.procs.wait(tracer, 60, "tlstrace")
    with open(errpath, errors="replace") as f:
        err = f.read()
    limit = [l for l in err.splitlines() if "per-user limit" in l]
    expect(len(limit) == 1 and "uid %d has reached the per-user limit" % NOBODY in limit[0]
           and "16 attached" in limit[0],
           "the per-user limit said %d times: %r" % (len(limit), limit))
    refused = re.search(r"libs\.refused\.user_limit=(\d+)", err)
    expect(refused and int(refused.group(1)) == 84, "refused %s, want 84: %r"
           % (refused and refused.group(1), err[-400:]))
    expect("Too many open files" not in err, "descriptors ran out: %r" % err[-400:])
    mine = [e for e in read_entries(out) if e["name"] == env.url("/hello")
            and e["tlstrace"]["comm"] == "python3" and e["tlstrace"]["role"] == "client"]
    expect(len(mine) == 1, "the client's entry: %d of them" % len(mine))
