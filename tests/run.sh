#!/usr/bin/env bash
# Runs every test that `make check` promises, after it built both binaries:
#   1. the unit-test binaries in build/tests/ and build/san/tests/ (when built);
#   2. every tests/e2e/NN-*.sh, once with build/stowage and once with the
#      ASan+UBSan build/san/stowage.
# Prints one line per binary or script (plus any failure with its diagnostics;
# VERBOSE=1 shows every line), keeps full logs in build/test-logs/, and ends
# with exactly "N passed, N failed". Exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2
LOGS=build/test-logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
passed=0 failed=0 started=$SECONDS
san_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)

# A problem outside any test (missing fixture, binary or tool) counts as one failure.
problem() { echo "not ok - $1"; failed=$((failed + 1)); }

# run_counted NAME LOG SECONDS CMD...: runs CMD, counts its "ok"/"not ok" lines.
# A non-zero exit with no "not ok" line (a crash, a timeout) counts as one failure.
run_counted() {
	local name=$1 log=$2 secs=$3 t0=$SECONDS st=0 ok bad; shift 3
	if [ "${VERBOSE:-0}" = 1 ]; then
		timeout -k 10 "$secs" "$@" 2>&1 </dev/null | tee "$log"; st=${PIPESTATUS[0]}
	else
		timeout -k 10 "$secs" "$@" >"$log" 2>&1 </dev/null || st=$?
	fi
	ok=$(grep -c '^ok ' "$log") bad=$(grep -c '^not ok ' "$log")
	if [ "$st" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
		echo "not ok - $name exited with status $st$([ "$st" -eq 124 ] && echo " (timed out after ${secs}s)")"
		tail -n 15 "$log" | sed 's/^/#   /'
	elif [ "${VERBOSE:-0}" != 1 ]; then
		# each failure with the diagnostic lines under it
		awk '/^not ok /{p=1; print; next} /^ok /{p=0} p && /^#/{print}' "$log"
	fi
	passed=$((passed + ok)) failed=$((failed + bad))
	printf '%-44s %4d passed, %d failed  (%ds)\n' "$name" "$ok" "$bad" $((SECONDS - t0))
}

if ! bash tests/fixtures/build.sh >"$LOGS/fixtures.log" 2>&1; then
	problem "tests/fixtures/build.sh failed (see $LOGS/fixtures.log)"
fi
for tool in skopeo umoci podman jq python3 zstd nix-store setpriv qemu-aarch64-static; do
	command -v "$tool" >/dev/null || problem "$tool is not installed (scripts/setup.sh installs it)"
done
[ "$(id -u)" = 0 ] || problem "the end-to-end tests need root (chroot, mknod, setpriv, podman)"

# Unit tests: whatever binaries exist (directories may not exist yet).
for dir in build/tests build/san/tests; do
	[ -d "$dir" ] || continue
	for bin in "$dir"/*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		env=()
		[[ $dir = build/san/* ]] && env=("${san_env[@]}")
		run_counted "unit ${bin#build/}" "$LOGS/unit-$(echo "${bin#build/}" | tr / -).log" 120 env "${env[@]}" "$bin"
	done
done

# End-to-end tests, with each binary.
for variant in build/stowage build/san/stowage; do
	if [ ! -x "$variant" ]; then
		problem "$variant is not built"
		continue
	fi
	env=(STOWAGE="$variant")
	[[ $variant = build/san/* ]] && env+=("${san_env[@]}")
	for script in tests/e2e/[0-9][0-9]-*.sh; do
		name=$(basename "$script" .sh)
		run_counted "e2e $name ($variant)" "$LOGS/e2e-$name-$(basename "$(dirname "$variant")").log" 480 \
			env "${env[@]}" bash "$script"
	done
done

# A fuzz run made before this one (.ci/run sets FUZZ_LOG): its "ok -" /
# "not ok -" lines count; a log without its summary line is one failure.
if [ -n "${FUZZ_LOG:-}" ]; then
	if grep -q '^fuzz: .* executions in all' "$FUZZ_LOG" 2>/dev/null; then
		ok=$(grep -c '^ok - fuzz_' "$FUZZ_LOG") bad=$(grep -c '^not ok - fuzz_' "$FUZZ_LOG")
		grep '^not ok - fuzz_' "$FUZZ_LOG"
		passed=$((passed + ok)) failed=$((failed + bad))
		printf '%-44s %4d passed, %d failed\n' "fuzz run ($FUZZ_LOG)" "$ok" "$bad"
	else
		problem "the fuzz run in $FUZZ_LOG did not finish (make fuzz failed to build or run)"
	fi
fi

echo "time: $((SECONDS - started))s; logs in $LOGS/"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
