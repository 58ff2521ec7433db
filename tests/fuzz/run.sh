#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS NAME...: a bounded libFuzzer run of each target
# (built by `make fuzz-build` as build/fuzz/fuzz_NAME), starting from
# tests/fuzz/corpus/NAME/ plus what earlier runs found (build/fuzz/corpus/NAME/,
# which stays out of git). Prints one line per target with its executions;
# a crash leaves its input in build/fuzz/crashes/ and fails the run (add the
# input to tests/fuzz/corpus/NAME/ once fixed, so `make check` replays it).
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=$1; shift
failed=0 total=0
mkdir -p build/fuzz/crashes
for t in "$@"; do
	work=build/fuzz/corpus/$t log=build/fuzz/$t.log
	mkdir -p "$work"
	# -max_len: larger than any seed, small enough to keep runs quick; rss and
	# per-input limits catch unbounded memory and hangs; bounded in wall time.
	timeout -k 10 $((secs + 60)) "build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=16384 -rss_limit_mb=1024 \
		-timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/"$t"- \
		"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
	st=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	total=$((total + ${execs:-0}))
	if [ "$st" -ne 0 ]; then
		failed=$((failed + 1))
		echo "not ok - fuzz_$t: exit $st after ${execs:-?} executions (see $log, build/fuzz/crashes/)"
		grep -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -n 5 | sed 's/^/#   /'
	else
		printf 'ok - fuzz_%-20s %10s executions in %ss, %s, corpus %s files\n' "$t" "${execs:-?}" "$secs" "${cov:-cov: ?}" \
			"$(find "$work" -type f | wc -l)"
	fi
done
echo "fuzz: $total executions in all, $failed target(s) failed"
[ "$failed" -eq 0 ]
