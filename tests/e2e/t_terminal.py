# SPDX-License-Identifier: MIT
"""End-to-end tests of the terminal view (-f text, the default) and its exit
summary: curl traced under a real pseudo-terminal (tmux), the screen read back
as a person sees it (tmux capture-pane) and with its colours (capture-pane -e),
then piped, refused, and per process."""

import os
import re
import select
import subprocess
import time

from harness import Failure, describe_exit, expect, need, stderr_hint

ESC = "\x1b"
WIDTH, HEIGHT = 120, 40
# the phases' background colours (xterm 256), as the legend says
COLORS = {"lookup": 37, "connect": 208, "tls": 134, "wait": 34, "download": 33, "idle": 240}
RED = 196
ROW = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) (\d+)/(\S+)\s+(\d{3}|ERR|-)\s+(\d+\.\d{3}) ")
FIGURES = ["connect", "TLS", "TTFB", "total"]


def clean_env():
    """Our environment without NO_COLOR, which would turn colour off."""
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    return env


# --- tmux --------------------------------------------------------------------

class Tmux:
    """A detached tmux server of our own (private socket) running one command
    in a WIDTH x HEIGHT pane; its screen read back when the command is done."""

    def __init__(self, name):
        need("tmux")
        self.sock = "tlstrace-e2e-%d-%s" % (os.getpid(), name)
        self.name = name

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                           capture_output=True, text=True, timeout=10, env=clean_env())
        if check and r.returncode != 0:
            raise Failure("tmux %s exited %d%s" % (args[0], r.returncode, stderr_hint(r.stderr)))
        return r.stdout

    def run(self, command, timeout=40):
        """Run the shell command in the pane; return (rc, screen, screen with escapes)."""
        self.tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", self.name,
                  "%s; echo __rc=$?; sleep 60" % command)
        deadline = time.monotonic() + timeout
        while True:
            plain = self.capture(False)
            m = re.search(r"^__rc=(\d+)$", plain, re.M)
            if m:
                return int(m.group(1)), plain, self.capture(True)
            if time.monotonic() > deadline:
                raise Failure("the command did not finish in the pane within %gs; screen:\n%s"
                              % (timeout, plain.rstrip()[-1500:]))
            time.sleep(0.2)

    def capture(self, escapes):
        # -J: a line the terminal wrapped comes back whole; -S -: from the history's start
        args = ["capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", self.name]
        if escapes:
            args.insert(2, "-e")
        return self.tmux(*args)

    def close(self):
        self.tmux("kill-server", check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def cells(line):
    """A line captured with -e, as (char, foreground, background) per screen
    column; colours are xterm-256 numbers or None (default)."""
    out, fg, bg, i = [], None, None, 0
    while i < len(line):
        if line[i] == ESC:
            m = re.match(r"\x1b\[([0-9;]*)m", line[i:])
            if not m:
                i += 1
                continue
            codes = [int(c) if c else 0 for c in m.group(1).split(";")]
            j = 0
            while j < len(codes):
                c = codes[j]
                if c == 0:
                    fg = bg = None
                elif c in (38, 48) and j + 2 < len(codes) and codes[j + 1] == 5:
                    if c == 38:
                        fg = codes[j + 2]
                    else:
                        bg = codes[j + 2]
                    j += 2
                elif c == 39:
                    fg = None
                elif c == 49:
                    bg = None
                elif 30 <= c <= 37:
                    fg = c - 30
                elif 40 <= c <= 47:
                    bg = c - 40
                j += 1
            i += m.end()
            continue
        out.append((line[i], fg, bg))
        i += 1
    return out


# --- reading the view --------------------------------------------------------

def view(screen):
    """The parts of a captured screen or piped output: legend, header, rulers,
    rows (dicts), and the summary's lines."""
    lines = screen.splitlines()
    legend = [l for l in lines if l.startswith("bar:")]
    header = [l for l in lines if l.startswith("TIME ")]
    expect(len(legend) == 1, "want one legend line, got %d:\n%s" % (len(legend), screen[:2000]))
    expect(len(header) == 1, "want one header row, got %d:\n%s" % (len(header), screen[:2000]))
    expect(lines.index(legend[0]) < lines.index(header[0]), "the legend is not above the header")
    h = header[0]
    for col in ("PID/COMM", "STATUS", "TOTAL(ms)", "WATERFALL", "NAME"):
        expect(col in h, "header %r lacks %s" % (h, col))
    bar_at, name_at = h.index("WATERFALL"), h.index("NAME")
    rows = []
    for n, l in enumerate(lines):
        m = ROW.match(l)
        if not m:
            continue
        rows.append({
            "line": l, "index": n, "clock": tuple(int(m.group(i)) for i in range(1, 5)),
            "pid": int(m.group(5)), "comm": m.group(6), "status": m.group(7),
            "total": float(m.group(8)), "bar": l[bar_at:name_at - 1],
            "name": l[name_at:],
        })
    rulers = [l for l in lines if l.strip().startswith("scale:")]
    expect(rulers, "no scale line under the header")
    expect(lines.index(header[0]) < lines.index(rulers[0]), "the first scale line is not under the header")
    return {"lines": lines, "legend": legend[0], "header": h, "bar_at": bar_at,
            "name_at": name_at, "rows": rows, "rulers": rulers}


def summary(lines, title):
    """The rows of the summary table under 'SUMMARY by TITLE', either layout:
    {key: (count, errors, {figure: [p50, p95, max] as floats or None})}."""
    starts = [i for i, l in enumerate(lines) if l.startswith("SUMMARY by " + title)]
    expect(len(starts) == 1, "want one 'SUMMARY by %s' table, got %d" % (title, len(starts)))
    out, last = {}, None
    num = lambda s: None if s == "-" else float(s)
    for l in lines[starts[0] + 1:]:
        if not l.strip() or l.startswith(("SUMMARY", "connect and TLS", "~:")):
            break
        f = l.split()
        if f[0] in ("HOST", "PROCESS") or f == FIGURES:
            continue  # the header, the wide layout's figure names
        if l.startswith(" ") and len(f) == 4 and f[0] in FIGURES and last:
            out[last][2][f[0]] = [num(x) for x in f[1:]]  # narrow: a figure's line
        elif len(f) == 15:  # wide: key, count, errors, twelve figures
            out[f[0]] = (int(f[1]), int(f[2]),
                         {name: [num(x) for x in f[3 + 3 * i:6 + 3 * i]]
                          for i, name in enumerate(FIGURES)})
        elif len(f) == 7 and f[3] == "connect":  # narrow: the key, then its first figure
            out[f[0]] = (int(f[1]), int(f[2]), {"connect": [num(x) for x in f[4:]]})
            last = f[0]
        else:
            raise Failure("summary line not understood: %r" % l)
    for key, (_, _, figs) in out.items():
        expect(sorted(figs) == sorted(FIGURES), "summary row %s has figures %r" % (key, sorted(figs)))
    return out


def clock_ok(row, t0, t1):
    """The row's HH:MM:SS.mmm falls within the local wall-clock window [t0, t1]
    (seconds since the epoch), with a second's slack."""
    h, m, s, ms = row["clock"]
    secs = h * 3600 + m * 60 + s + ms / 1000.0
    for t in (t0, t1):
        lt = time.localtime(t)
        day0 = t - (lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec + (t % 1))
        when = day0 + secs
        if t0 - 1 <= when <= t1 + 1:
            return True
    return False


def bar_colors(colored_line, bar_at, width):
    """The background colour of each cell of the bar column."""
    cs = cells(colored_line)
    return [bg for _, _, bg in cs[bar_at:bar_at + width]]


def row_of(rows, name):
    found = [r for r in rows if r["name"].split(" [")[0].strip() == name]
    expect(len(found) == 1, "want one row for %s, got %d: %r" % (name, len(found),
                                                               [r["name"] for r in rows]))
    return found[0]


def no_escapes(text, what):
    expect(ESC not in text, "%s has escape codes: %r" % (what, text[text.index(ESC) - 20:][:60]
                                                          if ESC in text else ""))


# --- tests -------------------------------------------------------------------

def test_terminal_tmux(env):
    """Under a 120x40 terminal: legend, header, scale, a coloured waterfall row per
    fetch (blocks in the DevTools colours, proportional), then the summary table."""
    need("curl")
    env.require_server()
    urls = [env.url("/hello"), env.url("/delay/40"), env.url("/size/20000")]
    cmd = "env -u NO_COLOR %s -- curl -sk %s %s" % (
        env.tlstrace, " ".join("-o /dev/null" for _ in urls), " ".join(urls))
    t0 = time.time()
    with Tmux("color") as tm:
        rc, plain, colored = tm.run(cmd)
    t1 = time.time()
    expect(rc == 0, "tlstrace exited %d under tmux; screen:\n%s" % (rc, plain[-1500:]))
    v = view(plain)
    for word in ("lookup", "connect", "TLS", "waiting", "download", "failed"):
        expect(word in v["legend"], "legend %r lacks %s" % (v["legend"], word))
    expect([r["name"] for r in v["rows"]] == urls,
           "rows %r, want %r" % ([r["name"] for r in v["rows"]], urls))
    for r in v["rows"]:
        expect(r["status"] == "200" and r["comm"] == "curl", "row %r" % r["line"])
        expect(clock_ok(r, t0, t1), "row time %r is outside the run's %s..%s"
               % (r["clock"], time.strftime("%H:%M:%S", time.localtime(t0)),
                  time.strftime("%H:%M:%S", time.localtime(t1))))
        expect(len(r["line"]) <= WIDTH, "row wider than the terminal: %r" % r["line"])
        expect(not r["bar"].strip(), "coloured bars are blocks, not letters: %r" % r["bar"])
    expect(len({r["pid"] for r in v["rows"]}) == 1, "one curl, several pids")
    expect(v["rows"][1]["total"] >= 40, "/delay/40 total %.3f ms" % v["rows"][1]["total"])

    # the colours as the terminal holds them
    expect(ESC + "[" in colored, "no escape code on the terminal: colour is off")
    clines = colored.splitlines()
    bar_w = v["name_at"] - 1 - v["bar_at"]
    bars = [bar_colors(clines[r["index"]], v["bar_at"], bar_w) for r in v["rows"]]
    first, delay, size = bars
    expect(COLORS["connect"] in first and COLORS["tls"] in first and
           COLORS["wait"] in first,
           "the first fetch's bar lacks connect/TLS/wait colours: %r" % first)
    expect(first.index(COLORS["connect"]) < first.index(COLORS["tls"]) < first.index(COLORS["wait"]),
           "phases out of order: %r" % first)
    for b, u in ((delay, urls[1]), (size, urls[2])):
        expect(COLORS["connect"] not in b and COLORS["tls"] not in b and COLORS["lookup"] not in b,
               "a reused connection's bar has lookup/connect/TLS: %s %r" % (u, b))
    coloured = [c for c in delay if c is not None]
    expect(coloured and coloured.count(COLORS["wait"]) >= len(coloured) / 2,
           "/delay/40 is mostly waiting, its bar: %r" % delay)
    # each bar's length is its total against the scale last shown above it
    lines = v["lines"]
    for r, b in zip(v["rows"], bars):
        above = [l for l in lines[:r["index"]] if l.strip().startswith("scale:")]
        m = re.search(r"(\d+(?:\.\d+)?) (ms|s)\b", above[-1])
        expect(m, "scale line %r" % above[-1])
        scale = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
        expect(r["total"] <= scale, "total %.3f over the scale %g" % (r["total"], scale))
        want = max(1, round(r["total"] / scale * (bar_w - 1)))
        got = len([c for c in b if c is not None])
        expect(abs(got - want) <= 1, "%s: bar of %d columns, want %d (%.3f ms of %g ms over %d)"
               % (r["name"], got, want, r["total"], scale, bar_w - 1))
    first_line = clines[v["rows"][0]["index"]]
    status_at = v["rows"][0]["line"].index(" 200 ") + 1
    status = cells(first_line)[status_at:status_at + 3]
    expect("".join(c for c, _, _ in status) == "200" and all(fg == 34 for _, fg, _ in status),
           "status 200 not in green: %r" % status)

    s = summary(v["lines"], "host")
    key = "localhost:%d" % env.port
    expect(list(s) == [key], "summary rows %r, want [%r]" % (list(s), key))
    count, errors, figs = s[key]
    expect((count, errors) == (3, 0), "summary count/errors %r, want (3, 0)" % ((count, errors),))
    for f in FIGURES:
        p50, p95, mx = figs[f]
        expect(None not in (p50, p95, mx) and p50 <= p95 <= mx, "%s: %r" % (f, figs[f]))
    expect(figs["TTFB"][2] >= 40, "TTFB max %r, /delay/40 waited 40 ms" % figs["TTFB"][2])
    totals = sorted(r["total"] for r in v["rows"])
    expect(abs(figs["total"][2] - totals[-1]) < 0.01 * totals[-1] + 0.01,
           "total max %r, the rows say %r" % (figs["total"][2], totals))
    expect(abs(figs["total"][0] - totals[1]) < 0.01 * totals[1] + 0.01,
           "total p50 %r, the rows' 2nd of 3 is %r" % (figs["total"][0], totals[1]))
    expect(not any(l.startswith("SUMMARY by process") for l in v["lines"]),
           "a process table without --by-process")
    expect(v["lines"].index(v["header"]) < v["rows"][0]["index"] <
           v["lines"].index(next(l for l in v["lines"] if l.startswith("SUMMARY"))),
           "the summary is not after the rows")


def test_terminal_no_color(env):
    """On a terminal, NO_COLOR=1 and --no-color both give plain text: letters for
    the phases and not one escape code."""
    need("curl")
    env.require_server()
    url = env.url("/hello")
    for how, cmd in (("NO_COLOR=1", "env NO_COLOR=1 %s -- curl -sk -o /dev/null %s"),
                     ("--no-color", "env -u NO_COLOR %s --no-color -- curl -sk -o /dev/null %s")):
        with Tmux("nocolor" + how.strip("-").split("=")[0].lower().replace("_", "")) as tm:
            rc, plain, colored = tm.run(cmd % (env.tlstrace, url))
        expect(rc == 0, "%s: tlstrace exited %d; screen:\n%s" % (how, rc, plain[-1500:]))
        no_escapes(colored, how)
        v = view(plain)
        expect("c=connect" in v["legend"] and "s=TLS" in v["legend"],
               "%s: legend %r" % (how, v["legend"]))
        r = row_of(v["rows"], url)
        bar = r["bar"].rstrip()
        expect(re.fullmatch(r"[.dcswr]+", bar) and "c" in bar and "s" in bar and "w" in bar,
               "%s: bar %r, want the letters of connect, TLS, waiting" % (how, bar))
        expect(bar.index("c") < bar.index("s") < bar.index("w"), "%s: bar %r" % (how, bar))
        expect(summary(v["lines"], "host")["localhost:%d" % env.port][:2] == (1, 0),
               "%s: summary count" % how)


def test_terminal_piped(env):
    """Piped: 80 columns, plain bars, no escape code, every row written as soon as
    its fetch ends (a reader sees it before the command goes on)."""
    need("curl")
    env.require_server()
    u1, u2 = env.url("/hello"), env.url("/size/100000")
    script = "curl -sk -o /dev/null %s; sleep 3; curl -sk -o /dev/null %s" % (u1, u2)
    t0 = time.monotonic()
    p = env.procs.spawn([env.tlstrace, "--", "sh", "-c", script], stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    out, first_row_at = b"", None
    deadline = t0 + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
            if first_row_at is None and any(ROW.match(l) for l in
                                            out.decode(errors="replace").splitlines()):
                first_row_at = time.monotonic()
    rc = env.procs.wait(p, 10, "tlstrace")
    done_at = time.monotonic()
    err = p.stderr.read().decode(errors="replace")
    text = out.decode(errors="replace")
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    expect(first_row_at is not None, "no row:\n%s" % text[:2000])
    expect(done_at - first_row_at > 2,
           "the first row came %.2fs before the end: not flushed as it was written"
           % (done_at - first_row_at))
    no_escapes(text, "piped output")
    v = view(text)
    # 80 columns: the names cut to fit, the scheme first, then the middle of the path
    names = [r["name"] for r in v["rows"]]
    host = "localhost:%d" % env.port
    expect(len(names) == 2 and names[0] == host + "/hello" and names[1].startswith(host + "...")
           and names[1].endswith("00000"), "row names %r for %s, %s" % (names, u1, u2))
    for r in v["rows"]:
        expect(len(r["line"]) <= 80, "a row wider than 80 columns when piped: %r" % r["line"])
        bar = r["bar"].rstrip()
        # 9 columns at most: the shortest phases may not get one; the handshake does
        expect(re.fullmatch(r"[.dcswr]+", bar), "bar %r: phase letters only" % bar)
        expect("s" in bar, "a new connection's bar %r has no TLS" % bar)
    expect(len({r["pid"] for r in v["rows"]}) == 2, "two curls, want two pids")
    s = summary(v["lines"], "host")
    count, errors, figs = s["localhost:%d" % env.port]
    expect((count, errors) == (2, 0), "summary count/errors %r" % ((count, errors),))
    expect(all(x is not None for f in FIGURES for x in figs[f]), "a figure missing: %r" % figs)
    expect(any(l.startswith("connect and TLS: new connections only") for l in v["lines"]),
           "the summary's note")


def test_terminal_refused(env):
    """A refused connection: its row says ERR, its bar is connect then X (red on a
    terminal), the error follows the name, and the summary counts the error."""
    need("curl")
    env.require_server()
    ok, bad = env.url("/hello"), "https://127.0.0.1:1/"
    script = "curl -sk -o /dev/null %s; curl -sk %sx" % (ok, bad)
    rc, out, err = env.procs.run([env.tlstrace, "--", "sh", "-c", script], 30, "tlstrace",
                                 env=clean_env())
    expect(rc == 7, "tlstrace %s, want curl's 7%s" % (describe_exit(rc), stderr_hint(err)))
    no_escapes(out, "piped output")
    check_refused(env, view(out), None, bad)
    with Tmux("refused") as tm:
        rc, screen, colored = tm.run("env -u NO_COLOR %s -- sh -c '%s'" % (env.tlstrace, script))
    expect(rc == 7, "under tmux: tlstrace exited %d, want 7" % rc)
    check_refused(env, view(screen), colored, bad)


def check_refused(env, v, colored, bad):
    r = row_of(v["rows"], bad)
    expect(r["status"] == "ERR", "status %r, want ERR: %r" % (r["status"], r["line"]))
    expect(re.search(r"\[connect failed: [^\]]*refused[^\]]*\]$", r["line"]),
           "no '[connect failed: ...refused...]' after the name: %r" % r["line"])
    if colored is None:
        expect(re.fullmatch(r"c+X", r["bar"].rstrip()), "bar %r, want c...X" % r["bar"])
    else:
        cl = cells(colored.splitlines()[r["index"]])
        bar = cl[v["bar_at"]:v["name_at"] - 1]
        marks = [(ch, fg) for ch, fg, _ in bar if ch == "X"]
        expect(marks == [("X", RED)], "want one red X in the bar, got %r" % marks)
        expect(COLORS["connect"] in [bg for _, _, bg in bar], "no connect block before the X")
        expect(all(fg == RED for _, fg, _ in cl[-8:]), "the error text is not red")
    s = summary(v["lines"], "host")
    expect(s.get("127.0.0.1:1", (0, 0))[:2] == (1, 1),
           "summary for 127.0.0.1:1: %r, want 1 entry, 1 error" % (s.get("127.0.0.1:1"),))
    expect(all(x is None for f in FIGURES for x in s["127.0.0.1:1"][2][f]),
           "a refused connection has no figures: %r" % (s["127.0.0.1:1"][2],))
    expect(s.get("localhost:%d" % env.port, (0, 0))[:2] == (1, 0),
           "summary for the server: %r" % (s.get("localhost:%d" % env.port),))


def test_terminal_by_process(env):
    """--by-process: a second table with a row per process (pid/comm)."""
    need("curl")
    env.require_server()
    u1, u2 = env.url("/hello"), env.url("/size/3000")
    script = "curl -sk -o /dev/null %s; curl -sk -o /dev/null -o /dev/null %s %s" % (u1, u1, u2)
    rc, out, err = env.procs.run([env.tlstrace, "--by-process", "--", "sh", "-c", script], 30,
                                 "tlstrace", env=clean_env())
    expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), stderr_hint(err)))
    v = view(out)
    pids = []
    for r in v["rows"]:
        if r["pid"] not in pids:
            pids.append(r["pid"])
    expect(len(v["rows"]) == 3 and len(pids) == 2, "rows %r" % [r["line"] for r in v["rows"]])
    hosts = summary(v["lines"], "host")
    expect(hosts["localhost:%d" % env.port][:2] == (3, 0), "host row %r" % (hosts,))
    procs = summary(v["lines"], "process")
    want = {"%d/curl" % pids[0]: 1, "%d/curl" % pids[1]: 2}
    got = {k: c for k, (c, _, _) in procs.items()}
    expect(got == want, "process rows %r, want %r" % (got, want))
    # the second curl reused its connection: one connect sample, two totals
    second = procs["%d/curl" % pids[1]][2]
    expect(second["connect"][0] is not None and second["total"][0] <= second["total"][2],
           "second curl's figures %r" % second)
    lines = v["lines"]
    expect(lines.index(next(l for l in lines if l.startswith("SUMMARY by host"))) <
           lines.index(next(l for l in lines if l.startswith("SUMMARY by process"))),
           "hosts first")
