# SPDX-License-Identifier: MIT
"""End-to-end tests for tlstrace against a local HTTPS server.

usage: python3 tests/e2e/run.py --tlstrace ./tlstrace --workdir .output/e2e [TEST...]

Prints one line per test (PASS/FAIL/SKIP name[: detail]) and a final
"N passed, N failed[, N skipped]" line. Exit status 0 iff nothing failed.
Field meanings are those of docs/semantics.md.

The tests are the functions test_NAME(env) of the modules t_*.py here, found
by their names: NAME is the test's name. They run module by module in the
order of the file names, each module's in the order it defines them.
What they share is in harness.py.
"""

import argparse
import importlib
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from harness import READY_LINE, Env, Failure, Skip, wait_for_detaches  # noqa: E402


def find_tests():
    """[(name, fn)] of every test_NAME function defined in tests/e2e/t_*.py:
    modules by file name, tests in the order each module defines them."""
    tests, where = [], {}
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("t_") and fname.endswith(".py")):
            continue
        module = importlib.import_module(fname[:-3])
        fns = [fn for key, fn in vars(module).items()
               if key.startswith("test_") and callable(fn)
               and getattr(fn, "__module__", None) == module.__name__]
        for fn in sorted(fns, key=lambda fn: fn.__code__.co_firstlineno):
            name = fn.__name__[len("test_"):]
            if name in where:
                raise SystemExit("run.py: test %s is defined in %s and in %s"
                                 % (name, where[name], fname))
            where[name] = fname
            tests.append((name, fn))
    return tests


HOST_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/urandom")


def host_devices():
    """What no test may change: the machine's shared device nodes' mode and owner."""
    out = {}
    for path in HOST_DEVICES:
        try:
            st = os.stat(path)
            out[path] = (oct(st.st_mode), st.st_uid, st.st_gid)
        except OSError:
            out[path] = None
    return out


def run_test(env, fn):
    """Return ("PASS"|"FAIL"|"SKIP", detail or None)."""
    try:
        wait_for_detaches()
        detail = fn(env)
        return "PASS", detail
    except Skip as ex:
        return "SKIP", str(ex)
    except Failure as ex:
        return "FAIL", str(ex)
    except Exception as ex:  # a bug or an environment problem: report, go on
        return "FAIL", "%s: %s" % (type(ex).__name__, ex)
    finally:
        env.procs.stop_all()


def interrupt(signum, frame):
    """SIGTERM unwinds like Ctrl-C, so children are cleaned up."""
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(description="tlstrace end-to-end tests")
    ap.add_argument("--tlstrace", required=True, help="the tlstrace binary")
    ap.add_argument("--workdir", required=True, help="scratch directory")
    ap.add_argument("--attach-wait", type=float, default=1.5, metavar="SECONDS",
                    help="in -p/-c modes, how long to wait for %r (default 1.5)" % READY_LINE)
    ap.add_argument("tests", nargs="*", help="run only these tests")
    args = ap.parse_args()

    tests = find_tests()
    known = [name for name, _ in tests]
    unknown = [t for t in args.tests if t not in known]
    if unknown:
        ap.error("unknown test(s): %s (known: %s)" % (", ".join(unknown), ", ".join(known)))
    selected = [(n, f) for n, f in tests if not args.tests or n in args.tests]

    signal.signal(signal.SIGTERM, interrupt)

    env = Env(args)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    root = os.geteuid() == 0
    devices = host_devices()
    try:
        if root:
            env.setup()
        for name, fn in selected:
            result, detail = run_test(env, fn) if root else ("SKIP", "needs root")
            counts[result] += 1
            print("%s %s%s" % (result, name, ": " + detail if detail else ""), flush=True)
            if host_devices() != devices:
                # a test pointed tlstrace (or anything) at the machine's own devices
                counts["FAIL"] += 1
                print("FAIL host_devices_untouched: after %s: %r, were %r"
                      % (name, host_devices(), devices), flush=True)
                devices = host_devices()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        env.shutdown()

    summary = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        summary += ", %d skipped" % counts["SKIP"]
    print(summary, flush=True)
    return 0 if counts["FAIL"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
