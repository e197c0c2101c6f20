#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Run each libFuzzer target for SECONDS (default 20) from its seed corpus
# (fuzz/corpus/TARGET) and its regression inputs (fuzz/regressions/TARGET,
# crashes found before: all must pass). Prints PASS/FAIL per target and
# "N passed, N failed". New inputs go to .output/fuzz/corpus/TARGET; a crash
# is saved as .output/fuzz/crash-TARGET-*, to be fixed and then kept in
# fuzz/regressions/TARGET.
#
# usage: fuzz/run.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(http1 http2 collector redact sanitize tlswire gopclntab cgroup)

make --no-print-directory fuzz >/dev/null || { echo "FAIL fuzz: build"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0
for t in "${targets[@]}"; do
	bin=.output/fuzz/fuzz_$t
	work=.output/fuzz/corpus/$t
	log=.output/fuzz/$t.log
	mkdir -p "$work" "fuzz/corpus/$t" "fuzz/regressions/$t"
	# every kept crash first, each on its own: they must all pass now
	bad=""
	for f in fuzz/regressions/"$t"/*; do
		[ -f "$f" ] || continue
		"$bin" -runs=1 "$f" >"$log" 2>&1 || bad="$bad $(basename "$f")"
	done
	if [ -n "$bad" ]; then
		echo "FAIL fuzz/$t: regression inputs crash again:$bad"
		failed=$((failed + 1))
		continue
	fi
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -dict=fuzz/http.dict \
		-artifact_prefix=".output/fuzz/crash-$t-" -print_final_stats=1 \
		"$work" "fuzz/corpus/$t" >"$log" 2>&1; then
		runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
		cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
		echo "PASS fuzz/$t: ${runs:-?} inputs in ${secs}s, $cov"
		passed=$((passed + 1))
	else
		echo "FAIL fuzz/$t: $(grep -m1 -E 'ERROR|runtime error|deadly signal' "$log")" \
			"(input: $(ls .output/fuzz/crash-"$t"-* 2>/dev/null | head -n 1))"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
