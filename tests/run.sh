#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Set up, build, and run every test suite (unit tests, then the end-to-end tests, which need
# root and BPF) and end with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."

# a bare machine: install what is needed (apt-get), then build
./scripts/install-deps.sh || exit 1
make --no-print-directory tlstrace .output/unit_tests || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run one suite, echoing its output, and add up its closing count line
suite() {
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $name: exited $rc without a result line"
		failed=$((failed + 1))
		return
	fi
	local p f s
	p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited $rc"
		failed=$((failed + 1))
	fi
}

echo "== format"
if make --no-print-directory check; then
	echo "PASS format: make check (clang-format, kernel style)"
	passed=$((passed + 1))
else
	echo "FAIL format: make check (run clang-format -i on the files above)"
	failed=$((failed + 1))
fi

suite unit .output/unit_tests
# the fuzz targets, briefly, from their seed corpus and kept crash inputs
suite fuzz ./fuzz/run.sh "${FUZZ_SECONDS:-20}"
suite e2e python3 tests/e2e/run.py --tlstrace ./tlstrace --workdir .output/e2e

echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
