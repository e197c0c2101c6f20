# SPDX-License-Identifier: MIT
"""The deployment files of deploy/: the systemd unit passes systemd-analyze
verify, the Kubernetes manifest parses and runs tlstrace as README's
"Running on many machines" says (host PID namespace, tracefs and the
cgroup tree mounted, the same capabilities as the unit), and tlstrace
traces another user's process with those capabilities and no others."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import signal

from harness import HERE, Skip, describe_exit, expect, need, read_entries, stderr_hint
from t_cgroup import Cgroups

DEPLOY = os.path.join(HERE, "..", "..", "deploy")
UNIT = os.path.join(DEPLOY, "systemd", "tlstrace.service")
DAEMONSET = os.path.join(DEPLOY, "kubernetes", "daemonset.yaml")


def unit_settings():
    """The unit's settings: {key: [values, in order]} across its sections."""
    out = {}
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                k, _, v = line.partition("=")
                out.setdefault(k, []).append(v)
    return out


def unit_caps():
    """CapabilityBoundingSet, as capability names without CAP_ (BPF, PERFMON, ...)."""
    caps = unit_settings().get("CapabilityBoundingSet", [""])[-1].split()
    expect(caps and all(c.startswith("CAP_") for c in caps), "CapabilityBoundingSet %r" % caps)
    return [c[4:] for c in caps]


def test_deploy_systemd_unit(env):
    """systemd-analyze verify finds nothing to say of the unit (its
    ExecStart pointed at the binary under test, the one line changed)."""
    need("systemd-analyze")
    s = unit_settings()
    exec_start = s["ExecStart"][-1].split()
    expect(exec_start[0] == "/usr/local/sbin/tlstrace", "ExecStart %r" % exec_start)
    expect("--metrics-addr" in exec_start, "ExecStart without --metrics-addr: %r" % exec_start)
    expect(s.get("KillMode") == ["control-group"],
           "KillMode %r: the helper that continues held processes must be waited for"
           % s.get("KillMode"))
    with tempfile.TemporaryDirectory() as d:
        with open(UNIT) as f:
            text = f.read().replace("/usr/local/sbin/tlstrace", os.path.abspath(env.tlstrace))
        path = os.path.join(d, "tlstrace.service")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                           timeout=60)
    expect(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
           "systemd-analyze verify: exit %d%s" % (r.returncode, stderr_hint(r.stderr + r.stdout)))


def load_manifest():
    """The manifest's documents: with PyYAML if it is installed, else None."""
    try:
        import yaml
    except ImportError:
        return None
    with open(DAEMONSET) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def test_deploy_kubernetes(env):
    """The DaemonSet: the host's PID namespace, tracefs and the cgroup tree
    from the host, the unit's capabilities and no others, OTLP and metrics
    set up, and tlstrace options it accepts."""
    docs = load_manifest()
    caps = unit_caps()
    if docs is None:
        # no YAML parser: the lines that matter, as written
        with open(DAEMONSET) as f:
            text = f.read()
        for want in ["kind: DaemonSet", "hostPID: true", "path: /sys/kernel/tracing",
                     "path: /sys/fs/cgroup", "OTEL_EXPORTER_OTLP_ENDPOINT", "--metrics-addr"]:
            expect(want in text, "daemonset.yaml does not say %r" % want)
        added = re.search(r"add: \[([^\]]*)\]", text, re.S)
        expect(added and sorted(re.findall(r'"(\w+)"', added.group(1))) == sorted(caps),
               "capabilities added differ from the unit's %r" % caps)
        return "structural check (no PyYAML)"
    kinds = [d.get("kind") for d in docs]
    expect(kinds == ["Namespace", "DaemonSet"], "kinds %r" % kinds)
    ds = docs[1]
    spec = ds["spec"]["template"]["spec"]
    expect(ds["spec"]["selector"]["matchLabels"].items() <=
           ds["spec"]["template"]["metadata"]["labels"].items(), "the selector misses the pods")
    expect(spec.get("hostPID") is True, "hostPID %r" % spec.get("hostPID"))
    expect(spec.get("priorityClassName") == "system-node-critical",
           "priorityClassName %r: the node's tracer may be evicted" % spec.get("priorityClassName"))
    (c,) = spec["containers"]
    for probe in ("startupProbe", "livenessProbe"):
        get = c.get(probe, {}).get("httpGet", {})
        expect(get.get("path") == "/metrics" and get.get("port") == "metrics",
               "%s %r, want an HTTP GET of /metrics" % (probe, c.get(probe)))
    sc = c["securityContext"]
    expect(sc["capabilities"]["drop"] == ["ALL"], "drop %r" % sc["capabilities"]["drop"])
    expect(sorted(sc["capabilities"]["add"]) == sorted(caps),
           "capabilities %r, the unit's %r" % (sc["capabilities"]["add"], caps))
    expect(not sc.get("privileged") and sc.get("runAsUser") == 0,
           "privileged %r, runAsUser %r" % (sc.get("privileged"), sc.get("runAsUser")))
    vols = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"]}
    mounts = {m["mountPath"]: vols.get(m["name"]) for m in c["volumeMounts"]}
    for path in ("/sys/kernel/tracing", "/sys/fs/cgroup"):
        expect(mounts.get(path) == path, "%s not the host's: %r" % (path, mounts))
    env_names = [e["name"] for e in c["env"]]
    expect("OTEL_EXPORTER_OTLP_ENDPOINT" in env_names, "env %r" % env_names)
    args = c["args"]
    expect("--metrics-addr" in args, "args %r" % args)
    port = int(args[args.index("--metrics-addr") + 1].rsplit(":", 1)[1])
    expect([p["containerPort"] for p in c["ports"]] == [port], "ports %r, metrics on %d"
           % (c["ports"], port))
    # the options parse (--help after them answers before anything is loaded)
    rc, _, err = env.procs.run([env.tlstrace] + args + ["--help"], 10, "tlstrace ARGS --help")
    expect(rc == 0, "tlstrace %s --help: %s%s" % (" ".join(args), describe_exit(rc),
                                                  stderr_hint(err)))
    return "%d capabilities, as the unit's" % len(caps)


def test_deploy_capabilities(env):
    """With the unit's capabilities alone (the bounding set, as systemd and
    the DaemonSet leave them), tlstrace traces a curl that runs as another
    user (nobody): its plaintext too (the method), its executable named."""
    need("curl")
    need("setpriv")
    env.require_server()
    caps = unit_caps()
    url = "https://localhost:%d/hello?nobody" % env.port
    with Cgroups(env, "caps") as cg:
        bounding = "-all," + ",".join("+" + c.lower() for c in caps)
        out = env.out_file("deploy_capabilities")
        errpath = env.path("deploy_capabilities.stderr")
        with open(errpath, "wb") as err:
            tracer = env.procs.spawn(["setpriv", "--bounding-set", bounding, "--inh-caps=-all",
                                      env.tlstrace, "-f", "json", "-o", out, "--cgroup",
                                      cg.rel], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=err)
        tracer.out_file, tracer.err_file = out, errpath
        env.wait_attached(tracer)
        rc, so, se = env.procs.run(cg.run_in(cg.dir, [
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url]), 30, "curl as nobody")
        expect(rc == 0 and so == "200", "curl as nobody: exit %d, %r%s"
               % (rc, so, stderr_hint(se)))
        time.sleep(0.3)
        tracer.send_signal(signal.SIGINT)
        rc = env.procs.wait(tracer, 15, "tlstrace after SIGINT")
        expect(rc == 0, "tlstrace %s%s" % (describe_exit(rc), env.err_hint(tracer)))
        entries = read_entries(out, env.err_hint(tracer))
        expect([e["name"] for e in entries] == [url], "entries %r" % [e["name"] for e in entries])
        x = entries[0]["tlstrace"]
        expect(x.get("method") == "GET" and entries[0]["responseStatus"] == 200,
               "method %r, status %r: the plaintext was not read"
               % (x.get("method"), entries[0]["responseStatus"]))
        expect(x.get("exe") == os.path.realpath(shutil.which("curl")), "exe %r" % x.get("exe"))
    return "caps " + ",".join(caps)
