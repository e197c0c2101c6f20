# SPDX-License-Identifier: MIT
"""Protocols other than HTTP over TLS (docs/semantics.md, "Other protocols
over TLS"): psql against a PostgreSQL cluster of the test's own (its
SSLRequest a plain exchange before the handshake), Python's smtplib with
STARTTLS and imaplib over implicit TLS against small servers written here.
Each runs in a network namespace of its own, so its server takes the
protocol's well-known port (5432, 587, 993), which names the entries."""

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

from harness import (Skip, check_order, describe_exit, expect, need, read_entries, server_certs,
                     stderr_hint)

# What the JSON lists as unknown for an exchange of another protocol's bytes.
OPAQUE_UNKNOWN = ["name.path", "method", "responseStatus", "encodedBodySize"]

# A traced command run in a network namespace of its own with only lo up.
IN_NETNS = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "netns"]


def check_exchanges(entries, name, role, what):
    """The entries of one role: all named name, the first carrying the
    connection (connect, then the handshake), the others reused, none failed.
    Returns them."""
    mine = [e for e in entries if e["tlstrace"]["role"] == role]
    expect(len(mine) >= 2, "%s: %d %s entries, want an entry per exchange (got %s)"
           % (what, len(mine), role, [e["name"] for e in entries][:6]))
    for i, e in enumerate(mine):
        ext = e["tlstrace"]
        expect(e["name"] == name, "%s: %s entry %d named %r, want %r"
               % (what, role, i, e["name"], name))
        expect("failedPhase" not in ext, "%s: %s entry %d failed: %s"
               % (what, role, i, ext.get("error")))
        expect(ext["tls"]["library"] == "openssl", "%s: library %r" % (what, ext["tls"]))
        expect(e["responseStatus"] == 0 and ext["method"] == "",
               "%s: entry %d has an HTTP status or method" % (what, i))
        check_order(e, i)
        expect(ext["reused"] == (i > 0), "%s: %s entry %d reused=%r"
               % (what, role, i, ext["reused"]))
        expect(len({x["tlstrace"]["connectionId"] for x in mine}) == 1,
               "%s: one connection, several ids" % what)
    first = mine[0]
    expect(0 < first["connectStart"] < first["secureConnectionStart"] < first["connectEnd"]
           <= first["requestStart"],
           "%s: first %s entry: connectStart %r, secureConnectionStart %r, connectEnd %r, "
           "requestStart %r out of order" % (what, role, first["connectStart"],
                                             first["secureConnectionStart"],
                                             first["connectEnd"], first["requestStart"]))
    return mine


def check_unknown(entries, what):
    """tlstrace.unknown names what an exchange of bytes cannot say."""
    for i, e in enumerate(entries):
        unknown = e["tlstrace"].get("unknown", [])
        missing = [f for f in OPAQUE_UNKNOWN if f not in unknown]
        expect(not missing, "%s: entry %d: tlstrace.unknown %r lacks %r"
               % (what, i, unknown, missing))


# --- PostgreSQL ----------------------------------------------------------------

def pg_bin(tool):
    """A PostgreSQL server program: Debian keeps them out of PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + tool),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return found[-1]
    return need(tool)


PG_CONNINFO = "sslmode=require host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def with_postgres(env, fn, with_data=False):
    """fn(in_ns) run while a throwaway cluster (initdb, ssl on, as the
    postgres user, in its own network namespace on port 5432) is up; in_ns
    is the command prefix that enters that namespace (with with_data,
    fn(in_ns, data), data the cluster's directory). Returns fn's result."""
    need("psql")
    need("unshare")
    need("nsenter")
    need("ip")
    need("runuser")
    initdb, pg_ctl, postgres = pg_bin("initdb"), pg_bin("pg_ctl"), pg_bin("postgres")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise Skip("no postgres user (the postgresql package makes it)")
    cert, key = server_certs(env)
    top = tempfile.mkdtemp(prefix="tlstrace-pg-")
    data = os.path.join(top, "data")
    log = os.path.join(top, "log")
    pidfile = os.path.join(top, "netns.pid")
    netns = None
    try:
        os.chmod(top, 0o755)
        for name in ("cert.pem", "key.pem"):
            shutil.copy(cert if name == "cert.pem" else key, os.path.join(top, name))
            os.chown(os.path.join(top, name), user.pw_uid, user.pw_gid)
        os.chmod(os.path.join(top, "key.pem"), 0o600)
        os.chown(top, user.pw_uid, user.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]
        rc, _, err = env.procs.run(as_pg + [initdb, "-D", data, "-A", "trust", "-U", "postgres",
                                            "--no-sync", "--no-instructions"],
                                   120, "initdb")
        expect(rc == 0, "initdb %s%s" % (describe_exit(rc), stderr_hint(err)))
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = 5432\nssl = on\n"
                    "ssl_cert_file = '%s/cert.pem'\nssl_key_file = '%s/key.pem'\n"
                    "unix_socket_directories = '%s'\nfsync = off\n" % (top, top, top))
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")
        # a namespace that outlives its first process: a sleeper holds it
        netns = env.procs.spawn(["unshare", "-n", "sh", "-c",
                                 'ip link set lo up && echo $$ > "$0" && exec sleep 600',
                                 pidfile], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
            expect(time.monotonic() < deadline and netns.poll() is None,
                   "the network namespace did not come up")
            time.sleep(0.05)
        in_ns = ["nsenter", "-t", open(pidfile).read().strip(), "-n"]
        rc, _, err = env.procs.run(in_ns + as_pg + [pg_ctl, "-D", data, "-l", log, "-w",
                                                    "-t", "60", "-p", postgres, "start"],
                                   90, "pg_ctl start")
        if rc != 0 and os.path.exists(log):
            err += open(log, errors="replace").read()
        expect(rc == 0, "pg_ctl start %s%s" % (describe_exit(rc), stderr_hint(err)))

        return fn(in_ns, data) if with_data else fn(in_ns)
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(["runuser", "-u", "postgres", "--", pg_ctl, "-D", data, "-m",
                            "immediate", "-w", "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        if netns is not None:
            env.procs.stop(netns)
        shutil.rmtree(top, ignore_errors=True)


def test_postgresql(env):
    """psql with sslmode=require against a throwaway cluster (with_postgres):
    the first entry has connectStart < secureConnectionStart < connectEnd,
    the SSLRequest and its answer going in the clear between connect and
    handshake; the query and the Terminate reuse it."""
    def run(in_ns):
        rc, out, err, path = env.trace(
            "postgresql", in_ns + ["psql", "-X", "-At", PG_CONNINFO, "-c", "select 1"],
            timeout=60)
        expect(rc == 0, "tlstrace %s, psql's status was 0%s" % (describe_exit(rc),
                                                               stderr_hint(err)))
        expect(out.strip() == "1", "psql printed %r" % out[:80])
        entries = read_entries(path)
        mine = check_exchanges(entries, "postgresql://127.0.0.1:5432/", "client", "psql")
        first = mine[0]
        expect(first["tlstrace"]["tcpConnectEnd"] < first["secureConnectionStart"],
               "psql: the handshake (%r) began before TCP was up (%r): the SSLRequest is "
               "a plain exchange between them" % (first["secureConnectionStart"],
                                                  first["tlstrace"]["tcpConnectEnd"]))
        expect(all(e["nextHopProtocol"] == "postgresql" for e in mine),
               "psql: nextHopProtocol %r" % [e["nextHopProtocol"] for e in mine])
        check_unknown(mine, "psql")
        return "%d entries" % len(mine)
    return with_postgres(env, run)


def test_postgresql_copy(env):
    """psql running three queries, a COPY of 200,000 rows out (about 1.3 MB,
    many reads), then a COPY in: one exchange per ask, complete, on one
    connection; none failed."""
    def run(in_ns):
        script = ("select 1;\nselect 2;\nselect 3;\n"
                  "copy (select generate_series(1, 200000)) to stdout;\n"
                  "create temp table t (n int);\n"
                  "copy t from stdin;\n1\n2\n3\n\\.\n"
                  "select count(*) from t;\n")
        rc, out, err, path = env.trace(
            "postgresql_copy", in_ns + ["psql", "-X", "-At", PG_CONNINFO], timeout=90,
            input=script, opts=["--stats"])
        expect(rc == 0, "tlstrace %s, psql's status was 0%s" % (describe_exit(rc),
                                                               stderr_hint(err)))
        lines = out.split()
        expect(lines[:3] == ["1", "2", "3"] and lines[-1] == "3"
               and lines[3:200003] == [str(n) for n in range(1, 200001)],
               "psql printed %r ... %r" % (lines[:4], lines[-2:]))
        entries = read_entries(path)
        mine = check_exchanges(entries, "postgresql://127.0.0.1:5432/", "client", "psql")
        # the startup, three queries, the COPY out, CREATE, the COPY in (its
        # query, then its rows), the count, the Terminate (a last word)
        expect(len(mine) == 10, "psql: %d exchanges, want 10" % len(mine))
        ids = {e["tlstrace"]["connectionId"] for e in mine}
        expect(len(ids) == 1, "psql: connections %r" % sorted(ids))
        for i, e in enumerate(mine):
            expect("incomplete" not in e["tlstrace"] and "error" not in e["tlstrace"],
                   "psql entry %d: %r %r" % (i, e["tlstrace"].get("incomplete"),
                                              e["tlstrace"].get("error")))
        check_unknown(mine, "psql")
        return "%d entries" % len(mine)
    return with_postgres(env, run)


# --- SMTP with STARTTLS, IMAP over TLS ----------------------------------------

# A server of just enough SMTP (RFC 5321, STARTTLS of RFC 3207) or IMAP
# (RFC 9051, over implicit TLS as RFC 8314 has it) for Python's clients.
#   argv: smtp|imaps PORT CERT KEY READY_FILE; serves one connection.
MINI_SERVER = r"""
import socket, ssl, sys
proto, port, cert, key, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(1)
open(ready, "w").write("ready")
conn, _ = ls.accept()
if proto == "imaps":
    conn = ctx.wrap_socket(conn, server_side=True)
f = conn.makefile("rb")
def say(text):
    conn.sendall(text.encode())
if proto == "smtp":
    say("220 mini ESMTP\r\n")
else:
    say("* OK [CAPABILITY IMAP4rev1] mini ready\r\n")
while True:
    line = f.readline()
    if not line:
        break
    words = line.decode().split()
    if proto == "smtp":
        verb = words[0].upper() if words else ""
        if verb == "EHLO":
            say("250-mini\r\n250 STARTTLS\r\n")
        elif verb == "STARTTLS":
            say("220 go ahead\r\n")
            f.close()
            conn = ctx.wrap_socket(conn, server_side=True)
            f = conn.makefile("rb")
        elif verb == "QUIT":
            say("221 bye\r\n")
            break
        else:
            say("250 ok\r\n")
    else:
        tag, verb = words[0], words[1].upper()
        if verb == "CAPABILITY":
            say("* CAPABILITY IMAP4rev1\r\n%s OK done\r\n" % tag)
        elif verb == "LOGOUT":
            say("* BYE mini\r\n%s OK done\r\n" % tag)
            break
        else:
            say("%s OK done\r\n" % tag)
f.close()
conn.close()
"""

SMTP_CLIENT = r"""
import smtplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", 587, timeout=30)
s.ehlo()
s.starttls(context=ctx)
s.ehlo()
s.noop()
s.quit()
print("sent")
"""

IMAPS_CLIENT = r"""
import imaplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", 993, ssl_context=ctx, timeout=30)
m.noop()
m.logout()
print("sent")
"""

# the server in the background, the client once it listens, in one namespace
SERVER_THEN_CLIENT = (
    'python3 -c "$MINI_SERVER" "$PROTO" "$PORT" "$CERT" "$KEY" "$READY" & '
    'i=0; while [ ! -s "$READY" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; '
    'python3 -c "$CLIENT"; rc=$?; wait; exit $rc')


def run_mini(env, test, proto, port, client):
    """Trace the mini server and a Python client, in a network namespace of
    their own; returns the entries."""
    need("unshare")
    need("ip")
    cert, key = server_certs(env)
    ready = env.path(test + ".ready")
    if os.path.exists(ready):
        os.unlink(ready)
    envvars = dict(os.environ, MINI_SERVER=MINI_SERVER, CLIENT=client, PROTO=proto,
                   PORT=str(port), CERT=cert, KEY=key, READY=ready)
    rc, out, err, path = env.trace(test, IN_NETNS + ["sh", "-c", SERVER_THEN_CLIENT],
                                   timeout=60, env=envvars)
    expect(rc == 0, "tlstrace %s, the client's status was 0%s" % (describe_exit(rc),
                                                                 stderr_hint(err)))
    expect(out.strip() == "sent", "the client printed %r" % out[-200:])
    return read_entries(path)


def test_smtp_starttls(env):
    """smtplib: greeting, EHLO and STARTTLS in the clear, then EHLO, NOOP and
    QUIT over TLS: an entry each, named smtp://127.0.0.1:587/, the first with
    the TCP connect, then the handshake after the plain exchange; the
    server's side too."""
    entries = run_mini(env, "smtp_starttls", "smtp", 587, SMTP_CLIENT)
    name = "smtp://127.0.0.1:587/"
    client = check_exchanges(entries, name, "client", "smtplib")
    server = check_exchanges(entries, name, "server", "the SMTP server")
    expect(len(client) == 3, "smtplib: %d entries, want EHLO, NOOP and QUIT" % len(client))
    first = client[0]
    expect(first["tlstrace"]["tcpConnectEnd"] < first["secureConnectionStart"],
           "smtplib: handshake at %r, TCP up at %r: the plain exchange is between"
           % (first["secureConnectionStart"], first["tlstrace"]["tcpConnectEnd"]))
    expect(all(e["responseStart"] > 0 for e in client), "smtplib: every command answered")
    expect(all(e["nextHopProtocol"] == "smtp" for e in client + server),
           "nextHopProtocol %r" % [e["nextHopProtocol"] for e in client + server])
    check_unknown(client + server, "smtp")
    return "%d client, %d server entries" % (len(client), len(server))


def test_imaps(env):
    """imaplib.IMAP4_SSL: the server's greeting (an exchange the connection
    asked for), CAPABILITY, NOOP and LOGOUT, named imaps://127.0.0.1:993/,
    on both sides."""
    entries = run_mini(env, "imaps", "imaps", 993, IMAPS_CLIENT)
    name = "imaps://127.0.0.1:993/"
    client = check_exchanges(entries, name, "client", "imaplib")
    server = check_exchanges(entries, name, "server", "the IMAP server")
    expect(len(client) == 4, "imaplib: %d entries, want greeting, CAPABILITY, NOOP, LOGOUT"
           % len(client))
    greeting = client[0]
    expect(abs(greeting["requestStart"] - greeting["connectEnd"]) < 1e-6,
           "the greeting's requestStart %r is not connectEnd %r"
           % (greeting["requestStart"], greeting["connectEnd"]))
    check_unknown(client + server, "imaps")
    return "%d client, %d server entries" % (len(client), len(server))


if __name__ == "__main__":
    sys.exit("run through run.py")
