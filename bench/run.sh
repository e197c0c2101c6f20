#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Set up, build, and run the benchmarks (as root). Arguments go to
# bench/run.py: e.g. ./bench/run.sh --only bulk,idle
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# the bench's own: bpftrace runs bench/handshake.bt, the baseline tracer
if ! command -v bpftrace >/dev/null; then
	echo "bench: installing bpftrace" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		bpftrace >/dev/null
fi
make --no-print-directory tlstrace
exec python3 bench/run.py "$@"
