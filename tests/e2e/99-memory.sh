#!/usr/bin/env bash
# Memory checks beyond the ASan+UBSan run of the whole suite.
#
# 1. The allocation-failure mode (tests/alloc/failalloc.c): stowage-failalloc,
# built beside the binary under test from the same objects, fails the Nth
# allocation of stowage's code and jansson's (STOWAGE_FAIL_ALLOC=N). For
# four core paths -- reading an image JSON (inspect), building a small tree,
# copying it to a new OCI layout, pushing it to a registry -- the number of
# allocations is counted, then the run is repeated with each one failing in
# turn (with the ASan build, whose leak checker turns any leak into an
# abort: every one, every 3rd for the slower push; with the optimised
# build every 10th, for crashes only). Each run must either
# succeed or fail with exit 1..125 and one "stowage:" line, and a failed
# copy leaves no layout and no staging directory.
#
# 2. valgrind memcheck on a representative subset, with the optimised build
# (valgrind cannot run an ASan binary): with build/stowage, the CLI paths --
# layer (a closure graph), build (copy-to-root on it), inspect, copy to an OCI layout,
# a docker-archive and stdout, push (and an incremental re-push) to a local
# registry, inspect docker://, a hostile input; when run for the ASan
# variant, the unit-test binaries of build/tests instead. Any memcheck error
# or definitely/indirectly lost block fails the run (--error-exitcode).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cd "$SCRATCH" || exit 1
F=$FIX/amd64

# --- 1. allocation failures ---
FA=$(dirname "$STOWAGE")/stowage-failalloc
STRIDE=10 PUSH_STRIDE=10
[[ $STOWAGE = */san/* ]] && STRIDE=1 PUSH_STRIDE=3

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
STRIDE=$PUSH_STRIDE loop "push to a registry" push small.json "$REGISTRY/fa@N@:1" --cache-dir "$SCRATCH/cache@N@"


# --- 2. valgrind memcheck ---
PLAIN=$TOP/build/stowage
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
	--show-leak-kinds=definite,indirect --track-fds=no --num-callers=20)
vg() { LIMIT=300 expect_success "valgrind: $1" "${VG[@]}" "${@:2}"; }

expect_success "valgrind is installed" command -v valgrind
if [[ $STOWAGE = */san/* ]]; then
	n=0
	for t in "$TOP"/build/tests/test_*; do
		[ -x "$t" ] || continue
		n=$((n + 1))
		vg "unit $(basename "$t")" "$t"
	done
	expect_success "valgrind: ran $n unit-test binaries" test "$n" -gt 0
else
mkdir -p dep/lib
cp /bin/false dep/lib/false
graph_json "$SCRATCH/dep" >graph.json
vg "layer --graph (a closure graph)" "$PLAIN" layer --graph graph.json --no-cache -o dep.json
vg "build --root --layer (copy-to-root on a lower layer)" "$PLAIN" build --layer dep.json --root tree --arch amd64 \
	--name small --tag 1 --entrypoint /bin/true --label a=b --no-cache -o vsmall.json
vg "inspect" "$PLAIN" inspect vsmall.json
vg "inspect --json" "$PLAIN" inspect --json vsmall.json
vg "copy to a new OCI layout" "$PLAIN" copy vsmall.json oci:layout:1 --jobs 2
vg "copy into the existing layout (blobs present)" "$PLAIN" copy vsmall.json oci:layout:2
vg "copy to a docker-archive" "$PLAIN" copy vsmall.json docker-archive:vsmall.tar
LIMIT=300 expect_success "valgrind: copy to stdout" eval '"${VG[@]}" "$PLAIN" copy vsmall.json - >/dev/null'
vg "push to a local registry" "$PLAIN" push vsmall.json "$REGISTRY/vg:1" --cache-dir "$CACHE"
vg "re-push (every blob already there)" "$PLAIN" push vsmall.json "$REGISTRY/vg:2" --cache-dir "$CACHE"
vg "inspect docker://" "$PLAIN" inspect "docker://$REGISTRY/vg:1"
vg "tag server-side" "$PLAIN" tag "$REGISTRY/vg:1" vg3
printf '{"stowage": "image", "version": 1, "layers": [{"digest": 5}]}' >bad.json
hostile() { "${VG[@]}" "$PLAIN" inspect bad.json; local st=$?; [ "$st" -ge 1 ] && [ "$st" -ne 99 ]; }
expect_success "valgrind: a hostile image JSON fails cleanly, no memcheck error (exit 1, not 99)" hostile
fi
done_testing
