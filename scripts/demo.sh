#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The built-in example: a local HTTPS server on 127.0.0.1 and real clients,
# traced by ./tlstrace, first as text, then as JSON Lines.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
make --no-print-directory tlstrace

work=.output/demo
mkdir -p "$work"
sh tests/e2e/mkcert.sh "$work"
rm -f "$work/port"
python3 tests/e2e/server.py --port 0 --cert "$work/cert.pem" --key "$work/key.pem" \
	--ready-file "$work/port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	[ -s "$work/port" ] && break
	sleep 0.05
done
port=$(cat "$work/port")
base="https://localhost:$port"

echo "== curl: three requests on one keep-alive connection, then one on a new one"
echo "\$ ./tlstrace -- sh -c 'curl -sk $base/hello $base/delay/50 $base/size/100000 -o /dev/null -o /dev/null -o /dev/null; curl -sk -o /dev/null $base/hello'"
./tlstrace -- sh -c "curl -sk $base/hello $base/delay/50 $base/size/100000 -o /dev/null -o /dev/null -o /dev/null; curl -sk -o /dev/null $base/hello"

echo
echo "== Python's ssl module (http.client), as JSON Lines"
echo "\$ ./tlstrace -f json -- python3 -c '...HTTPSConnection(\"localhost\", $port)...'"
./tlstrace -f json -- python3 -c "
import http.client, ssl
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection('localhost', $port, context=ctx)
for path in ('/hello', '/delay/20'):
    c.request('GET', path)
    c.getresponse().read()
"
