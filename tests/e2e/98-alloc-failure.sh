#!/usr/bin/env bash
# The allocation-failure mode (tests/alloc/failalloc.c): stowage-failalloc,
# built beside the binary under test from the same objects, fails the Nth
# allocation of stowage's code and jansson's (STOWAGE_FAIL_ALLOC=N). For
# four core paths -- reading an image JSON (inspect), building a small tree,
# copying it to a new OCI layout, pushing it to a registry -- the number of
# allocations is counted, then the run is repeated with each one failing in
# turn (every one with the ASan build, whose leak checker turns any leak
# into an abort; every 5th with the optimised build). Each run must either
# succeed or fail with exit 1..125 and one "stowage:" line, and a failed
# copy leaves no layout and no staging directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
FA=$(dirname "$STOWAGE")/stowage-failalloc
STRIDE=5
[[ $STOWAGE = */san/* ]] && STRIDE=1

expect_success "stowage-failalloc is built beside $STOWAGE" test -x "$FA"
mkdir -p tree/bin tree/etc tree/share/doc
echo hello >tree/etc/motd
cp /bin/true tree/bin/true && ln -s true tree/bin/alias && ln tree/etc/motd tree/share/doc/motd
expect_success "build: a small tree (the image the loops use)" "$STOWAGE" build --root tree --arch amd64 --name small \
	--entrypoint /bin/true --cache-dir "$CACHE" -o small.json
registry_start plain 2>"$ERR" || fail "registry_start plain" "failed"

# loop NAME CMD...: counts CMD's allocations, then runs it once per point (every STRIDE-th) with that
# allocation failing; "@N@" in CMD is replaced by N. Reports crashes, leaks and unclean errors.
loop() {
	local name=$1 total n st bad=() ok=0 failed=0 args; shift
	args=("${@//@N@/count}")
	if ! STOWAGE_ALLOC_COUNT=$SCRATCH/count "$FA" "${args[@]}" >/dev/null 2>"$SCRATCH/count.err"; then
		fail "$name: runs without a failing allocation" "$(head -c 300 "$SCRATCH/count.err")"
		return
	fi
	total=$(cat "$SCRATCH/count")
	for ((n = 1; n <= total; n += STRIDE)); do
		args=("${@//@N@/$n}")
		st=0
		STOWAGE_FAIL_ALLOC=$n bounded 60 "$FA" "${args[@]}" >"$SCRATCH/fa.out" 2>"$SCRATCH/fa.err" </dev/null || st=$?
		if [ "$st" -eq 0 ]; then
			ok=$((ok + 1))
		elif [ "$st" -le 125 ] && [ "$(wc -l <"$SCRATCH/fa.err")" -eq 1 ] && grep -q '^stowage' "$SCRATCH/fa.err"; then
			failed=$((failed + 1))
			[ -n "${CHECK_AFTER_FAILURE:-}" ] && ! "$CHECK_AFTER_FAILURE" "$n" && bad+=("$n:debris")
		else
			bad+=("$n:exit$st")
			[ "${#bad[@]}" -le 3 ] && echo "#   allocation $n: exit $st: $(grep -m 3 -E 'ERROR|SUMMARY|stowage|runtime error' "$SCRATCH/fa.err" | head -c 400)"
		fi
	done
	echo "# note: $name: $total allocations, $(( (total + STRIDE - 1) / STRIDE )) failed in turn: $failed clean errors, $ok successes, ${#bad[@]} bad"
	if [ "${#bad[@]}" -eq 0 ]; then pass "$name: each of $total allocations failed in turn (stride $STRIDE): no crash, no leak, one clean line"
	else fail "$name: allocation failures handled" "bad: ${bad[*]:0:20}"; fi
}
loop "read an image JSON (inspect)" inspect small.json
loop "build a small tree" build --root tree --arch amd64 --name small --entrypoint /bin/true --no-cache -o "$SCRATCH/b@N@.json"
no_layout() { [ ! -e "$SCRATCH/lay$1" ] && ! compgen -G "$SCRATCH/lay$1.stowage-*" >/dev/null; }
CHECK_AFTER_FAILURE=no_layout loop "copy to a new OCI layout" copy small.json "oci:$SCRATCH/lay@N@:1"
loop "push to a registry" push small.json "$REGISTRY/fa@N@:1" --cache-dir "$SCRATCH/cache@N@"

done_testing
