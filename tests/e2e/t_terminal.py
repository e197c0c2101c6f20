# SPDX-License-Identifier: MIT
"""End-to-end tests of the terminal view (-f text, the default) and its exit
summary: curl traced under a real pseudo-terminal (tmux), the screen read back
as a person sees it (tmux capture-pane) and with its colours (capture-pane -e),
then piped, refused, and per process."""

import os
import re
import select
import signal
import subprocess
import time

from harness import (Failure, describe_exit, expect, free_port, need, read_entries,
                     stderr_hint)

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

    def __init__(self, name, width=WIDTH):
        need("tmux")
        self.sock = "tlstrace-e2e-%d-%s" % (os.getpid(), name)
        self.name = name
        self.width = width

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                           capture_output=True, text=True, timeout=10, env=clean_env())
        if check and r.returncode != 0:
            raise Failure("tmux %s exited %d%s" % (args[0], r.returncode, stderr_hint(r.stderr)))
        return r.stdout

    def run(self, command, timeout=40):
        """Run the shell command in the pane; return (rc, screen, screen with escapes)."""
        self.tmux("new-session", "-d", "-x", str(self.width), "-y", str(HEIGHT), "-s", self.name,
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

    def capture(self, escapes, joined=True):
        # -J: a line the terminal wrapped comes back whole; -S -: from the history's start
        args = ["capture-pane", "-p", "-S", "-", "-E", "-", "-t", self.name]
        if joined:
            args.insert(2, "-J")
        if escapes:
            args.insert(2, "-e")
        return self.tmux(*args)

    def wrapped(self):
        """The lines the terminal wrapped, as -J joins them, and how many more
        screen lines than lines there are (0: nothing wrapped)."""
        joined = self.capture(False).splitlines()
        rows = self.capture(False, joined=False).splitlines()
        return [l for l in joined if len(l.rstrip()) > self.width], len(rows) - len(joined)

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

PHASE_TITLES = ["LOOKUP", "CONNECT", "TLS", "WAIT", "DOWNLOAD"]
# a row without the TIME and PID/COMM columns (--phases on a narrow terminal)
SHORT_ROW = re.compile(r"^\s*(\d{3}|ERR|-)\s+(\d+\.\d{3}) ")


def view(screen):
    """The parts of a captured screen or piped output: legend, header, scale
    lines, rows (dicts), and the summary's lines. The legend and scale lines
    come with a bar; the TIME and PID/COMM columns and the phase columns as
    the width and --phases make them."""
    lines = screen.splitlines()
    legend = [l for l in lines if l.startswith("bar:")]
    header = [l for l in lines if re.match(r"^(TIME|STATUS) ", l)]
    expect(len(header) == 1, "want one header row, got %d:\n%s" % (len(header), screen[:2000]))
    h = header[0]
    has_bar = "WATERFALL" in h
    for col in ("STATUS", "TOTAL(ms)", "NAME"):
        expect(col in h, "header %r lacks %s" % (h, col))
    if has_bar:
        expect(len(legend) == 1, "want one legend line, got %d:\n%s" % (len(legend), screen[:2000]))
        expect(lines.index(legend[0]) < lines.index(h), "the legend is not above the header")
    else:
        expect(not legend, "a legend without a bar: %r" % legend)
    bar_at = h.index("WATERFALL") if has_bar else None
    name_at = h.index("NAME")
    phases_at = (h.index(" LOOKUP ") + 1) if " LOOKUP " in h else None
    rows = []
    for n, l in enumerate(lines):
        m = ROW.match(l)
        short = None if m or "TIME" in h else SHORT_ROW.match(l)
        if not m and not short:
            continue
        if m:
            r = {"clock": tuple(int(m.group(i)) for i in range(1, 5)), "pid": int(m.group(5)),
                 "comm": m.group(6), "status": m.group(7), "total": float(m.group(8))}
        else:
            r = {"status": short.group(1), "total": float(short.group(2))}
        r.update({"line": l, "index": n, "name": l[name_at:]})
        if has_bar:
            r["bar"] = l[bar_at:name_at - 1]
        if phases_at is not None:
            cells = l[phases_at:bar_at if has_bar else name_at].split()
            expect(len(cells) == 5, "phase columns of %r: %r" % (l, cells))
            r["phases"] = dict(zip(PHASE_TITLES, cells))
        rows.append(r)
    rulers = [l for l in lines if "scale: " in l and "ms per column" in l]
    if has_bar:
        expect(rulers, "no scale line under the header")
        expect(lines.index(h) < lines.index(rulers[0]),
               "the first scale line is not under the header")
    else:
        expect(not rulers, "scale lines without a bar: %r" % rulers)
    return {"lines": lines, "legend": legend[0] if legend else None, "header": h,
            "bar_at": bar_at, "name_at": name_at, "rows": rows, "rulers": rulers}


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


def scale_above(lines, index):
    """The ms per column of the last scale line above lines[index]."""
    above = [l for l in lines[:index] if "ms per column" in l]
    expect(above, "no scale line above line %d" % index)
    m = re.search(r"  (\d+(?:\.\d+)?) ms per column$", above[-1])
    expect(m, "scale line %r" % above[-1])
    return float(m.group(1))


def row_of(rows, name):
    """The row of the URL name, shown whole or, cut to fit, without its scheme."""
    bare = name.split("://", 1)[-1]
    found = [r for r in rows if r["name"].split(" [")[0].strip() in (name, bare)]
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
    # each bar's length is its total against the scale last shown above it, each end
    # rounded to its column
    lines = v["lines"]
    for r, b in zip(v["rows"], bars):
        scale = scale_above(lines, r["index"])
        want = r["total"] / scale
        got = len([c for c in b if c is not None])
        expect(abs(got - want) <= 1 or (got == 1 and want < 1),
               "%s: bar of %d columns, want %.1f (%.3f ms at %g ms per column)"
               % (r["name"], got, want, r["total"], scale))
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
    """On a terminal, NO_COLOR=1, --no-color and TERM=dumb each give plain
    text: letters for the phases and not one escape code."""
    need("curl")
    env.require_server()
    url = env.url("/hello")
    for how, cmd in (("NO_COLOR=1", "env NO_COLOR=1 %s -- curl -sk -o /dev/null %s"),
                     ("--no-color", "env -u NO_COLOR %s --no-color -- curl -sk -o /dev/null %s"),
                     ("TERM=dumb", "env -u NO_COLOR TERM=dumb %s -- curl -sk -o /dev/null %s")):
        with Tmux("nocolor" + how.strip("-").split("=")[0].lower().replace("_", "")) as tm:
            rc, plain, colored = tm.run(cmd % (env.tlstrace, url))
        expect(rc == 0, "%s: tlstrace exited %d; screen:\n%s" % (how, rc, plain[-1500:]))
        no_escapes(colored, how)
        v = view(plain)
        expect("c=connect" in v["legend"] and "s=TLS" in v["legend"],
               "%s: legend %r" % (how, v["legend"]))
        r = row_of(v["rows"], url)
        bar = r["bar"].strip()
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
        bar = r["bar"].strip()
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
    # whole when it fits; else the error alone; at 80 columns cut in the middle
    expect(re.search(r" \[(connect failed: )?[^\]]*refused[^\]]*\]$", r["line"]) or
           (len(r["line"]) >= 75 and re.search(r" \[con[^\]]*\.\.\.[^\]]*\]$", r["line"])),
           "no '[connect failed: ...refused...]' after the name: %r" % r["line"])
    if colored is None:
        expect(re.fullmatch(r"c+X", r["bar"].strip()), "bar %r, want c...X" % r["bar"])
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


# --- the timeline at 80, 120 and 200 columns ---------------------------------

TIMELINE_WIDTHS = (80, 120, 200)


def timeline_script(env, tag):
    """Two fetches at once (curl --parallel, a connection each), then two curls one
    after the other, the second fetching once more on its connection (e, reused),
    then a refused connection; the URLs end in tag and a letter.
    The parallel ones last 500 ms, the others 250: at any of the widths, each bar
    is a column long at least and all four sit on the first axis. The refused
    one is to a port of its own, so that its JSON entry is this run's."""
    urls = {k: env.url("/delay/%d?t=%s%s" % (ms, tag, k)) for k, ms in
            (("a", 500), ("b", 500), ("c", 250), ("d", 250))}
    urls["e"] = env.url("/hello?t=%se" % tag)
    bad = "https://127.0.0.1:%d/" % free_port()
    # -Z draws its progress meter even with -s: to /dev/null with its stderr
    script = ("curl -Z --parallel-immediate -sk -o /dev/null -o /dev/null %s %s 2>/dev/null; "
              "curl -sk -o /dev/null %s; curl -sk -o /dev/null -o /dev/null %s %s; curl -sk %s"
              % (urls["a"], urls["b"], urls["c"], urls["d"], urls["e"], bad))
    return urls, bad, script


def by_tail(v, urls):
    """The rows of urls (a dict of letter: URL), found by the end of their name."""
    out = {}
    for k, u in urls.items():
        tail = u[-6:]
        found = [r for r in v["rows"] if r["name"].split(" [")[0].rstrip().endswith(tail)]
        expect(len(found) == 1, "want one row ending in %s, got %d: %r"
               % (tail, len(found), [r["line"] for r in v["rows"]]))
        out[k] = found[0]
    return out


def axis_of(v, row):
    """(origin's wall clock, ms per column) of the scale line above the row."""
    above = [l for l in v["lines"][:row["index"]] if "ms per column" in l]
    expect(above, "no scale line above %r" % row["line"])
    origin = re.match(r"^(\d\d:\d\d:\d\d\.\d{3}) ", above[-1])
    expect(origin, "scale line %r: no origin" % above[-1])
    return origin.group(1), scale_above(v["lines"], row["index"])


def span(row):
    """The bar's first column and one past its last, the failure mark aside."""
    cols = [i for i, c in enumerate(row["bar"]) if c in ".dcswr"]
    expect(cols, "no bar in %r" % row["line"])
    return cols[0], cols[-1] + 1


def clock_ms(hms):
    h, m, s = hms.split(":")
    return (int(h) * 3600 + int(m) * 60 + float(s)) * 1000


def check_no_wrap(tm, width, what):
    long, extra = tm.wrapped()
    expect(not long and extra == 0, "%s: %d lines wider than %d columns, %d screen lines "
           "more than lines: %r" % (what, len(long), width, extra, long[:3]))


def check_timeline(v, urls, width):
    """Bars where their fetches were: each starts at its row's startTime on the
    axis of the scale line above it; the parallel fetches overlap, the
    sequential ones follow one another. Rows on one axis are compared column
    for column; on two (a busy machine can push a fetch past an axis' end), by
    wall clock, each axis' origin plus columns, give or take half a column."""
    rows = by_tail(v, urls)
    axes = {k: axis_of(v, r) for k, r in rows.items()}
    pos = {}
    for k, r in rows.items():
        origin, scale = axes[k]
        f, t = span(r)
        pos[k] = (clock_ms(origin) + f * scale, clock_ms(origin) + t * scale)
        started = clock_ms("%02d:%02d:%02d.%03d" % r["clock"]) - clock_ms(origin)
        expect(abs(started - f * scale) <= scale / 2 + 1,
               "%d: %s starts at +%.0f ms, its bar at column %d of %g ms"
               % (width, r["name"], started, f, scale))
        expect(abs((t - f) * scale - r["total"]) <= scale + 0.01,
               "%d: %s lasts %.3f ms, its bar %d columns of %g ms"
               % (width, r["name"], r["total"], t - f, scale))

    def slack(x, y):
        return 0 if axes[x] == axes[y] else (axes[x][1] + axes[y][1]) / 2 + 1

    a, b, c, d = (pos[k] for k in "abcd")
    expect(b[0] + slack("a", "b") < a[1] and a[0] + slack("a", "b") < b[1],
           "%d: the parallel fetches do not overlap: %r, %r\n%s"
           % (width, rows["a"]["line"], rows["b"]["line"], "\n".join(v["lines"])))
    expect(c[1] <= d[0] + slack("c", "d") and c[0] < d[0],
           "%d: the sequential fetches overlap or are out of order: %r, %r"
           % (width, rows["c"]["line"], rows["d"]["line"]))
    expect(max(a[1], b[1]) <= c[0] + max(slack("a", "c"), slack("b", "c")),
           "%d: c began before the parallel ones ended" % width)
    expect(pos["e"][0] + slack("d", "e") >= d[1],
           "%d: e, on d's connection after it, began before d ended: %r, %r"
           % (width, rows["d"]["line"], rows["e"]["line"]))
    return rows


def json_phases(e):
    """The five phases of a JSON entry, in ms, as docs/semantics.md cuts them
    (None: did not happen): a failed fetch's fields are in partialTimings, and
    its failing phase runs to responseEnd."""
    t = e.get("tlstrace", {})
    f = dict(e)
    f.update(t.get("partialTimings") or {})
    end = e["responseEnd"]
    failed = {"dns": "LOOKUP", "connect": "CONNECT", "tls": "TLS"}.get(t.get("failedPhase"))
    if t.get("failedPhase") and not failed:
        failed = "DOWNLOAD" if f.get("responseStart") else "WAIT"

    def ph(name, a, b, conn):
        if conn and t.get("reused"):
            return None
        if not f.get(a):
            return None
        stop = f.get(b) or (end if failed == name or name == "DOWNLOAD" else 0)
        if name in ("LOOKUP", "CONNECT", "TLS") and stop - f[a] <= 0 and failed != name:
            return None  # a connection phase of no length did not happen
        return stop - f[a]
    tls = bool(f.get("secureConnectionStart"))
    return {"LOOKUP": ph("LOOKUP", "domainLookupStart", "domainLookupEnd", True),
            "CONNECT": ph("CONNECT", "connectStart",
                          "secureConnectionStart" if tls else "connectEnd", True),
            "TLS": ph("TLS", "secureConnectionStart", "connectEnd", True) if tls else None,
            "WAIT": ph("WAIT", "requestStart", "responseStart", False),
            "DOWNLOAD": ph("DOWNLOAD", "responseStart", "responseEnd", False)
            if f.get("responseStart") else None}


def check_phase_columns(rows, entries, width):
    """Each row's phase columns against the JSON entry of the same fetch, traced
    beside it by a second tlstrace: the same events, each tracer's own clock
    readings, so a few microseconds apart."""
    for k, r in rows.items():
        name = r["name"].split(" [")[0].rstrip()
        tail = name.rsplit("...", 1)[-1]
        found = [e for e in entries if e["name"].endswith(tail)]
        expect(len(found) == 1, "%d: want one JSON entry ending in %r, got %d"
               % (width, tail, len(found)))
        want = json_phases(found[0])
        for p in PHASE_TITLES:
            got, w = r["phases"][p], want[p]
            if w is None or (got == "-" and w < 0.05):
                expect(got == "-", "%d: %s %s is %r, the JSON entry has none (%r)"
                       % (width, name, p, got, w))
                continue
            expect(got != "-" and abs(float(got) - w) <= 0.2 + 0.02 * w,
                   "%d: %s %s is %r, the JSON entry %.3f ms" % (width, name, p, got, w))
    expect(rows["a"]["phases"]["TLS"] != "-" and rows["d"]["phases"]["TLS"] != "-",
           "%d: new connections without TLS columns" % width)
    expect(all(rows["e"]["phases"][p] == "-" for p in ("LOOKUP", "CONNECT", "TLS")) and
           rows["e"]["phases"]["WAIT"] != "-",
           "%d: the reused connection's columns %r" % (width, rows["e"]["phases"]))
    expect(rows["a"]["phases"]["WAIT"] != "-" and float(rows["a"]["phases"]["WAIT"]) >= 500,
           "%d: /delay/500 waited %r ms" % (width, rows["a"]["phases"]["WAIT"]))


def test_terminal_timeline(env):
    """At 80, 120 and 200 columns under tmux: no line wraps, failure rows
    included; two parallel fetches overlap on the shared time axis and two
    sequential ones follow one another, each bar where its startTime falls;
    with --phases, each phase column matches the JSON entry of the same fetch
    (a second tlstrace, -f json -c curl, beside it)."""
    need("curl")
    env.require_server()
    for width in TIMELINE_WIDTHS:
        urls, bad_url, script = timeline_script(env, "w%d" % width)
        with Tmux("timeline%d" % width, width) as tm:
            rc, plain, _ = tm.run("%s --no-color -- sh -c '%s'" % (env.tlstrace, script))
            check_no_wrap(tm, width, "%d columns" % width)
        expect(rc == 7, "%d: tlstrace exited %d, want curl's 7; screen:\n%s"
               % (width, rc, plain[-2000:]))
        v = view(plain)
        check_timeline(v, urls, width)
        bad = [r for r in v["rows"] if r["status"] == "ERR"]
        expect(len(bad) == 1, "%d: want one failed row, got %r" % (width, bad))
        bad = bad[0]
        expect(bad_url.endswith(bad["name"].split(" [")[0].rsplit("...", 1)[-1]),
               "%d: the failed row %r is not %s's" % (width, bad["line"], bad_url))
        expect(bad["status"] == "ERR" and bad["bar"].rstrip().endswith("X"),
               "%d: the refused fetch's row %r" % (width, bad["line"]))
        expect(re.search(r" \[[^\]]+\]$", bad["line"]),
               "%d: no note after the refused fetch's name: %r" % (width, bad["line"]))

        # --phases, and the JSON of the same fetches from a tracer beside it
        urls, bad_url, script = timeline_script(env, "p%d" % width)
        side = env.start_tlstrace("timeline_json%d" % width, ["-c", "curl"])
        try:
            with Tmux("phases%d" % width, width) as tm:
                rc, plain, _ = tm.run("%s --no-color --phases -- sh -c '%s'"
                                      % (env.tlstrace, script))
                check_no_wrap(tm, width, "%d columns, --phases" % width)
        finally:
            side.send_signal(signal.SIGINT)
            env.procs.wait(side, 20, "tlstrace -f json")
        expect(rc == 7, "%d --phases: tlstrace exited %d; screen:\n%s" % (width, rc, plain[-2000:]))
        v = view(plain)
        expect(("WATERFALL" in v["header"]) == (width >= 160),
               "%d --phases: header %r" % (width, v["header"]))
        entries = [e for e in read_entries(side.out_file) if "t=p%d" % width in e["name"] or
                   e["name"] == bad_url]
        rows = by_tail(v, urls)
        if width >= 160:
            check_timeline(v, urls, width)
        bad = [r for r in v["rows"] if r["status"] == "ERR"]
        expect(len(bad) == 1, "%d --phases: want one failed row, got %r" % (width, bad))
        rows["refused"] = bad[0]
        check_phase_columns(rows, entries, width)
        expect(bad[0]["phases"]["CONNECT"] != "-" and
               all(bad[0]["phases"][p] == "-" for p in ("TLS", "WAIT", "DOWNLOAD")),
               "%d --phases: the refused fetch's columns %r" % (width, bad[0]["phases"]))
