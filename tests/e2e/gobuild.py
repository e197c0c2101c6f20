# SPDX-License-Identifier: MIT
"""The tests' Go programs (tests/e2e/go/*.go), built with Debian's Go (1.19)
or bookworm-backports' (1.23), plain or stripped, once per run into the
work directory, with no network (GOPROXY=off) and no toolchain download."""

import os
import subprocess

from harness import HERE, Failure, stderr_hint

GO = {"1.19": "/usr/lib/go-1.19/bin/go", "1.23": "/usr/lib/go-1.23/bin/go"}
_built = {}


def go_build(env, name, version="1.19", strip=False):
    """The path of tests/e2e/go/NAME.go built by Go VERSION (stripped of its
    symbol table and DWARF with strip); Failure if it cannot be built."""
    key = (name, version, strip)
    if key in _built:
        return _built[key]
    go = GO[version]
    if not os.access(go, os.X_OK):
        raise Failure("Go %s is not installed (%s): scripts/install-deps.sh installs it"
                      % (version, go))
    out = env.path("go-%s-%s%s" % (name, version, "-stripped" if strip else ""))
    genv = dict(os.environ, GOCACHE=env.path("gocache"), GOPATH=env.path("gopath"),
                GOPROXY="off", GOTOOLCHAIN="local", GOFLAGS="", CGO_ENABLED="0")
    cmd = [go, "build", "-o", out]
    if strip:
        cmd.append("-ldflags=-s -w")
    cmd.append(os.path.join(HERE, "go", name + ".go"))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=genv,
                           cwd=env.workdir)
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise Failure("go build %s: %s" % (name, ex))
    if r.returncode != 0:
        raise Failure("go build %s (Go %s) exited %d%s"
                      % (name, version, r.returncode, stderr_hint(r.stderr)))
    _built[key] = out
    return out
