# SPDX-License-Identifier: MIT
"""make install and what it installs: the binary, its man page tlstrace(8)
(docs/tlstrace.8) and its bash completion (scripts/bash-completion/tlstrace),
always into a scratch PREFIX or DESTDIR under the work directory, never the
machine's /usr or /usr/local; the man page's options against --help; make
uninstall."""

import os
import re
import shutil
import subprocess
import sys

from harness import Skip, expect, need, stderr_hint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN_PAGE = os.path.join(ROOT, "docs", "tlstrace.8")
COMPLETION = os.path.join(ROOT, "scripts", "bash-completion", "tlstrace")
PREFIX = "/usr/local"
# where make install puts each file under PREFIX, and the file it copies
INSTALLED = {
    "sbin/tlstrace": (os.path.join(ROOT, "tlstrace"), 0o755),
    "share/man/man8/tlstrace.8": (MAN_PAGE, 0o644),
    "share/bash-completion/completions/tlstrace": (COMPLETION, 0o644),
}
MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT", "ENVIRONMENT",
                "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"]
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


# --- the options, as --help lists them and as the man page does ---------------

def help_text(env):
    rc, out, err = env.procs.run([env.tlstrace, "--help"], 10, "tlstrace --help")
    expect(rc == 0 and out, "tlstrace --help exited %d%s" % (rc, stderr_hint(err)))
    return out


def help_options(text):
    """Every option --help lists: the head of each option line ("  -c,
    --comm=NAME", "      --stats"), before the gap to its description
    (continuation lines are indented further, at argp's column 29)."""
    opts = set()
    for line in text.splitlines():
        if not re.match(r" {2,6}-", line):
            continue
        head = re.split(r"\s{2,}", line.strip())[0]
        opts.update(re.findall(r"(?<![\w-])--?[A-Za-z0-9?][\w-]*", re.sub(r"=\S*", "", head)))
    return opts


def help_formats(text):
    """-f's values: the names before "(" in its "Output format: ..." text."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s+-f, --format", line):
            para = line
            for more in lines[i + 1:]:
                if re.match(r" {2,6}-", more) or not more.strip():
                    break
                para += " " + more.strip()
            tail = para.split("Output format:", 1)[-1]
            return re.findall(r"([a-z][a-z0-9-]*) \(", tail)
    return []


def man_source():
    with open(MAN_PAGE) as f:
        return f.read()


def man_sections(src):
    """{section name: its lines} of a man(7) page."""
    sections, name = {}, None
    for line in src.splitlines():
        m = re.match(r'\.SH\s+"?([^"]*)"?\s*$', line)
        if m:
            name = m.group(1).strip()
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def unescape(line):
    """A man(7) line as text, near enough to find option names in it."""
    line = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\c", "", line)
    return line.replace("\\-", "-")


def tags(lines):
    """The tag lines of a section's .TP (and .TQ) items."""
    out = []
    for i, line in enumerate(lines[:-1]):
        if re.match(r"\.(TP|TQ)\b", line):
            out.append(unescape(lines[i + 1]))
    return out


def man_options(src):
    opts = set()
    for tag in tags(man_sections(src).get("OPTIONS", [])):
        opts.update(re.findall(r"(?<![\w-])--?[A-Za-z0-9?][\w-]*", re.sub(r"=\S*", "", tag)))
    return opts


def code_environment():
    """The environment variables the code reads: getenv("X") and the
    OTEL_ names it passes around as literals."""
    names = set()
    for top, _, files in os.walk(os.path.join(ROOT, "user")):
        for fname in files:
            if fname.endswith(".c"):
                with open(os.path.join(top, fname)) as f:
                    src = f.read()
                names.update(re.findall(r'getenv\("([A-Z_]+)"\)', src))
                names.update(re.findall(r'"(OTEL_[A-Z_]+)"', src))
    return names


def test_man_matches_help(env):
    """Every option --help lists has its entry in tlstrace(8)'s OPTIONS, and
    every entry there is an option --help lists; the page has every section
    a tool's page needs; -f's values are its OUTPUT's entries; every
    variable the code reads is under ENVIRONMENT; EXIT STATUS has the
    statuses main.c and command.c return."""
    text = help_text(env)
    in_help, src = help_options(text), man_source()
    in_man = man_options(src)
    expect(len(in_help) >= 20 and {"-p", "--pid", "-h", "--help"} <= in_help,
           "--help's options not found in its text: %s" % sorted(in_help))
    problems = []
    if in_help - in_man:
        problems.append("in --help, not in %s's OPTIONS: %s"
                        % (os.path.relpath(MAN_PAGE, ROOT), " ".join(sorted(in_help - in_man))))
    if in_man - in_help:
        problems.append("in %s's OPTIONS, not in --help: %s"
                        % (os.path.relpath(MAN_PAGE, ROOT), " ".join(sorted(in_man - in_help))))
    sections = man_sections(src)
    missing = [s for s in MAN_SECTIONS if s not in sections]
    if missing:
        problems.append("sections missing: %s" % ", ".join(missing))
    formats = help_formats(text)
    in_output = {t.split()[-1] for t in tags(sections.get("OUTPUT", [])) if t.startswith(".B ")}
    if not formats or set(formats) != in_output:
        problems.append("-f's values in --help %s, OUTPUT's entries %s"
                        % (formats, sorted(in_output)))
    environment = "\n".join(sections.get("ENVIRONMENT", [])).replace("\\-", "-")
    unsaid = sorted(n for n in code_environment() | {"NO_COLOR"} if n not in environment)
    if unsaid:
        problems.append("variables read by the code, not under ENVIRONMENT: %s"
                        % " ".join(unsaid))
    statuses = {t.split()[-1] for t in tags(sections.get("EXIT STATUS", []))}
    if not {"0", "1", "2", "126", "127"} <= statuses:
        problems.append("EXIT STATUS has %s (want 0, 1, 2, 126, 127 at least)"
                        % sorted(statuses))
    expect(not problems, "; ".join(problems))
    return "%d options, %d formats" % (len(in_help), len(formats))


# --- make install, into scratch directories ------------------------------------

def make(env, target, **variables):
    cmd = ["make", "-C", ROOT, "--no-print-directory", target]
    cmd += ["%s=%s" % kv for kv in sorted(variables.items())]
    rc, out, err = env.procs.run(cmd, 60, "make %s" % target)
    expect(rc == 0, "make %s %s exited %d%s"
           % (target, " ".join(cmd[5:]), rc, stderr_hint(err or out)))
    return out


def tree(top):
    """{path under top: (kind, mode)} of everything there, directories too."""
    out = {}
    for path, dirs, files in os.walk(top):
        for name in dirs + files:
            full = os.path.join(path, name)
            st = os.lstat(full)
            kind = "d" if os.path.isdir(full) and not os.path.islink(full) else "f"
            out[os.path.relpath(full, top)] = (kind, "%04o" % (st.st_mode & 0o7777))
    return out


def files_of(entries):
    """What tree() found that is not a directory."""
    return {p: v for p, v in entries.items() if v[0] == "f"}


def fresh(env, name):
    path = env.path(name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def staged_install(env, name):
    """make install DESTDIR=<scratch> PREFIX=/usr/local: the staged prefix."""
    destdir = fresh(env, name)
    make(env, "install", DESTDIR=destdir, PREFIX=PREFIX)
    return destdir + PREFIX


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def test_install_uninstall(env):
    """make install DESTDIR=... PREFIX=/usr/local puts exactly the binary
    (sbin, 0755), tlstrace(8) and the completion (0644) there, copies of the
    tree's, builds nothing, and the binary runs; make uninstall leaves the
    prefix's files as they were (others' files in the same directories
    kept). PREFIX alone works the same way, and a tree not built is refused
    with nothing installed."""
    binary = os.path.join(ROOT, "tlstrace")
    expect(os.path.exists(binary), "%s not built" % binary)
    built = os.stat(binary).st_mtime_ns
    problems = []
    for how in ("destdir", "prefix"):
        scratch = fresh(env, "install_" + how)
        if how == "destdir":
            variables, prefix = {"DESTDIR": scratch, "PREFIX": PREFIX}, scratch + PREFIX
        else:
            variables, prefix = {"PREFIX": scratch + PREFIX}, scratch + PREFIX
        # files of others where tlstrace's go, which uninstall must keep
        for rel in ("sbin/other", "share/man/man8/other.8",
                    "share/bash-completion/completions/other"):
            os.makedirs(os.path.dirname(os.path.join(prefix, rel)), exist_ok=True)
            with open(os.path.join(prefix, rel), "w") as f:
                f.write("not tlstrace's\n")
        before = tree(scratch)
        make(env, "install", **variables)
        after = tree(scratch)
        added = {p: v for p, v in files_of(after).items() if p not in before}
        want = {os.path.relpath(os.path.join(prefix, rel), scratch): ("f", "%04o" % mode)
                for rel, (_, mode) in INSTALLED.items()}
        if added != want:
            problems.append("%s: install added %s (want %s)" % (how, added, want))
        for rel, (src, _) in INSTALLED.items():
            dst = os.path.join(prefix, rel)
            if os.path.exists(dst) and not same_bytes(src, dst):
                problems.append("%s: %s is not a copy of %s" % (how, rel, src))
        rc, out, err = env.procs.run([os.path.join(prefix, "sbin/tlstrace"), "--version"], 10,
                                     "installed tlstrace --version")
        if rc != 0 or not out.startswith("tlstrace "):
            problems.append("%s: the installed tlstrace --version exited %d, printed %r%s"
                            % (how, rc, out[:60], stderr_hint(err)))
        make(env, "install", **variables)  # again, over itself
        make(env, "uninstall", **variables)
        gone = tree(scratch)
        if files_of(gone) != files_of(before):
            problems.append("%s: after uninstall %s, before install %s"
                            % (how, files_of(gone), files_of(before)))
        removed = [p for p in before if p not in gone]
        if removed:
            problems.append("%s: uninstall removed %s" % (how, removed))
        make(env, "uninstall", **variables)  # nothing left to remove: still fine
    if os.stat(binary).st_mtime_ns != built:
        problems.append("make install rebuilt %s" % binary)

    # a tree with nothing built: refused, and nothing installed
    empty, destdir = fresh(env, "install_unbuilt"), fresh(env, "install_unbuilt_dest")
    rc, out, err = env.procs.run(["make", "-C", empty, "-f", os.path.join(ROOT, "Makefile"),
                                  "--no-print-directory", "install", "DESTDIR=" + destdir],
                                 30, "make install unbuilt")
    if rc == 0 or "run make first" not in err or tree(destdir):
        problems.append("make install of a tree not built: exit %d, %s installed%s"
                        % (rc, sorted(tree(destdir)) or "nothing", stderr_hint(err)))
    expect(not problems, "; ".join(problems))


def test_man_page(env):
    """The installed tlstrace(8) is found by man in its MANPATH and rendered
    by man -l, and neither groff (-ww) nor mandoc -T lint warns about it."""
    man = need("man")
    groff, mandoc = need("groff"), need("mandoc")
    prefix = staged_install(env, "install_man")
    page = os.path.join(prefix, "share/man/man8/tlstrace.8")
    plain = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    problems = []
    rc, out, err = env.procs.run([man, "-l", page], 30, "man -l", env=plain)
    if rc != 0 or err.strip() or not all(s in out for s in ["TLSTRACE(8)", "EXIT STATUS",
                                                             "--metrics-addr"]):
        problems.append("man -l: exit %d, %d bytes%s" % (rc, len(out), stderr_hint(err)))
    rc, out, err = env.procs.run([man, "-M", os.path.join(prefix, "share/man"), "8",
                                  "tlstrace"], 30, "man -M", env=plain)
    if rc != 0 or "TLSTRACE(8)" not in out:
        problems.append("man -M PREFIX/share/man 8 tlstrace: exit %d%s"
                        % (rc, stderr_hint(err)))
    rc, out, err = env.procs.run([groff, "-man", "-Tutf8", "-ww", "-z", page], 30, "groff")
    if rc != 0 or err.strip():
        problems.append("groff -man -ww: exit %d: %s" % (rc, err.strip()[:300]))
    rc, out, err = env.procs.run([mandoc, "-T", "lint", "-W", "warning", page], 30, "mandoc")
    if rc != 0 or out.strip() or err.strip():
        problems.append("mandoc -T lint: exit %d: %s" % (rc, (out + err).strip()[:300]))
    expect(not problems, "; ".join(problems))


# --- bash completion -------------------------------------------------------------

# Loads bash-completion, then tlstrace's completion through bash-completion's
# own loader (from XDG_DATA_DIRS, as it finds PREFIX/share), and completes
# the words given, COMP_LINE first: prints COMPREPLY, one per line.
DRIVER = r"""
source "$BASH_COMPLETION" || exit 3
__load_completion tlstrace || { echo "bash-completion did not load tlstrace's" >&2; exit 4; }
spec=$(complete -p tlstrace) || exit 5
shopt -s extdebug
func=${spec#*-F }; func=${func%% *}
read -r _ _ from < <(declare -F "$func")
[[ $from == "$WANT_FILE" ]] || { echo "$func is from $from, not $WANT_FILE" >&2; exit 6; }
shopt -u extdebug
COMP_LINE=$1; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_POINT=${#COMP_LINE}
"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def words_of(line):
    """COMP_WORDS as bash splits the line: at blanks, and around = and :
    (its COMP_WORDBREAKS); a backslash-escaped blank stays in its word."""
    words = re.findall(r"(?:\\ |[^\s=:])+|[=:]", line)
    return words + [""] if line.endswith((" ", "=", ":")) and not line.endswith("\\ ") else words


def test_completion(env):
    """The installed completion loads through bash-completion and completes
    (driven by COMP_WORDS/COMP_CWORD, read from COMPREPLY): every option
    --help lists, long and short; -f's values; -c with the command names of
    running processes (quoted: one has a blank); -p with pids; -o and --lib
    with files; after --, commands and then that command's own completion;
    nothing for an argument it cannot know. With no tlstrace on PATH (a
    user's PATH without sbin) it runs the one installed beside it."""
    bash = need("bash")
    if not os.path.exists(BASH_COMPLETION):
        raise Skip("bash-completion not installed (scripts/install-deps.sh)")
    text = help_text(env)
    options, formats = help_options(text), help_formats(text)
    prefix = staged_install(env, "install_completion")
    files = fresh(env, "completion_files")
    for name in ("trace.jsonl", "trace.har", "libx.so"):
        open(os.path.join(files, name), "w").close()
    # a process with a blank and a shell character in its name, and its pid
    script = ("import ctypes, sys, time\n"
              "ctypes.CDLL(None).prctl(15, b'tlsc omp$x', 0, 0, 0)\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    named = env.procs.spawn([sys.executable, "-c", script], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    expect(named.stdout.readline().strip() == b"ready", "the named process did not start")
    pid = str(named.pid)
    user_dir = fresh(env, "completion_user")
    environ = {"PATH": "/usr/bin:/bin", "HOME": user_dir, "LC_ALL": "C.UTF-8",
               "BASH_COMPLETION": BASH_COMPLETION, "BASH_COMPLETION_USER_DIR": user_dir,
               "XDG_DATA_DIRS": os.path.join(prefix, "share") + ":/usr/share",
               "WANT_FILE": os.path.join(prefix, "share/bash-completion/completions/tlstrace")}

    def complete(line):
        rc, out, err = env.procs.run([bash, "--norc", "--noprofile", "-c", DRIVER, "driver",
                                      "tlstrace " + line] + ["tlstrace"] + words_of(line), 30,
                                     "completion of %r" % line, env=environ)
        # compopt outside a real completion says so on stderr, harmlessly
        expect(rc == 0, "completing %r: bash exited %d%s" % (line, rc, stderr_hint(err)))
        return [w for w in out.split("\n") if w]

    cases = [
        ("-f h", lambda r: r == ["har"], "har"),
        ("--format=j", lambda r: r == ["json"], "json"),
        ("--otlp-protocol http/", lambda r: sorted(r) == ["http/json", "http/protobuf"],
         "http/json http/protobuf"),
        ("--format ", lambda r: r == formats and len(formats) >= 4, " ".join(formats)),
        ("--met", lambda r: set(r) == {"--metrics-addr", "--metrics-max-processes",
                                       "--metrics-max-servers"}, "the --metrics- options"),
        ("--no-f", lambda r: r == ["--no-follow"], "--no-follow"),
        ("-", lambda r: set(r) - {"--"} == options,
         lambda r: "--help's options: missing %s, more %s"
         % (sorted(options - set(r)), sorted(set(r) - {"--"} - options))),
        ("-d ", lambda r: r == [], "nothing (a time)"),
        ("--otlp-endpoint ", lambda r: r == [], "nothing (a URL)"),
        ("-c tlsc", lambda r: r == ["tlsc\\ omp\\$x"], "the named process, quoted"),
        ("-c tlsc\\ o", lambda r: r == ["tlsc\\ omp\\$x"], "the named process, quoted"),
        ("-p " + pid[:-1], lambda r: pid in r and all(w.isdigit() for w in r),
         "pids with %s" % pid),
        ("-o %s/trace." % files, lambda r: sorted(r) == ["%s/trace.%s" % (files, x)
                                                        for x in ("har", "jsonl")],
         "the two trace files"),
        ("--lib %s/li" % files, lambda r: r == ["%s/libx.so" % files], "libx.so"),
        ("-d 1 -- cur", lambda r: "curl" in r, "curl among the commands"),
        ("-d 1 -- curl --verb", lambda r: "--verbose" in r, "curl's --verbose"),
        ("--metrics-addr=127.0.0.1:9464 -- cur", lambda r: "curl" in r,
         "curl among the commands"),
    ]
    if not shutil.which("curl"):
        cases = [c for c in cases if "cur" not in c[0]]
    elif not os.path.exists("/usr/share/bash-completion/completions/curl"):
        cases = [c for c in cases if "--verb" not in c[0]]  # curl's own, to be delegated to
    problems = []
    for line, ok, want in cases:
        got = complete(line)
        if not ok(got):
            problems.append("tlstrace %s<TAB>: %s (want %s)"
                            % (line, got[:12], want(got) if callable(want) else want))
    env.procs.stop(named)
    expect(not problems, "; ".join(problems))
    return "%d completions" % len(cases)
