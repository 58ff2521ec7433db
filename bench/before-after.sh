#!/usr/bin/env bash
# Two builds of stowage side by side in one run, on the large closure: the
# figures each performance change moved. Writes bench/BEFORE-AFTER.md.
#
#   bash bench/before-after.sh OLD_COMMIT     # builds OLD_COMMIT into a temporary tree
#
# Environment: RUNS=5 (timed runs), STOWAGE=build/stowage (the "after" binary).
BENCH=bench-ba
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

old_rev=${1:?usage: before-after.sh OLD_COMMIT}
clamp runs 3 1000 # no upper bound of its own
need_stowage
new=$stowage

base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
tmp=$(mktemp -d "$base/stowage-bench-ba.XXXXXX")
cleanup() {
  [ -f "$tmp/reg.pid" ] && kill "$(cat "$tmp/reg.pid")" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building $old_rev"
mkdir -p "$tmp/old-tree"
git archive "$old_rev" | tar -x -C "$tmp/old-tree" || die "cannot export $old_rev"
make -C "$tmp/old-tree" -j2 build/stowage >/dev/null 2>&1 || die "cannot build $old_rev"
cp "$tmp/old-tree/build/stowage" "$tmp/old"
cp "$new" "$tmp/new"
old_desc=$(git rev-parse --short "$old_rev")
new_desc="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lib src include || echo ' + uncommitted changes')"

top=$(timeout 900 nix-build bench/large-closure.nix -j auto -o build/bench/large 2>/dev/null) || die "nix-build failed"
top_t=$(timeout 900 nix-build bench/large-closure.nix --argstr touch 176 -j auto -o build/bench/large-touched 2>/dev/null) ||
  die "nix-build (touched) failed"
nix-store -qR "$top" | xargs -d '\n' -I{} find {} -type f -print0 | xargs -0 cat >/dev/null   # page cache
touched=$(comm -13 <(nix-store -qR "$top" | sort) <(nix-store -qR "$top_t" | sort) | grep -- '-bench-pkg103-')
touched_bytes=$(find "$touched" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
R=127.0.0.1:$port
cat >"$tmp/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: false}}
storage:
  filesystem: {rootdirectory: $tmp/storage}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: $R, secret: stowage-bench-ba-$$}
EOF
# fresh: a new, empty registry (hyperfine's --prepare for the cold pushes)
cat >"$tmp/fresh.sh" <<EOF
[ -f $tmp/reg.pid ] && kill \$(cat $tmp/reg.pid) 2>/dev/null && sleep 0.3
rm -rf $tmp/storage
env -i PATH="$PATH" timeout -k 5 3600 docker-registry serve $tmp/config.yml >>$tmp/registry.log 2>&1 </dev/null &
echo \$! >$tmp/reg.pid
for i in \$(seq 150); do curl -sf -o /dev/null --max-time 2 http://$R/v2/ && exit 0; sleep 0.1; done
exit 1
EOF
bash "$tmp/fresh.sh" || die "the registry did not start"

measure() {   # NAME [hyperfine options...] -- COMMAND
  local name=$1; shift
  say "measuring $name"
  timeout 1800 hyperfine --style basic --export-json "$tmp/$name.json" "$@" >"$tmp/$name.out" 2>&1 ||
    { tail -n 20 "$tmp/$name.out" >&2; die "measurement '$name' failed"; }
}
median() { jq -r '.results[0].median' "$tmp/$1.json"; }
cpu() { jq -r '.results[0] | .user + .system' "$tmp/$1.json"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
ms() { calc "%.0f" "1000 * $(median "$1")"; }
s3() { calc "%.3f" "$(median "$1")"; }
requests() { # BIN: requests of one no-op re-push, from the registry's log
  local from
  curl -sf -o /dev/null "http://$R/v2/?mark=$RANDOM"; sleep 0.3
  from=$(wc -l <"$tmp/registry.log")
  "$tmp/$1" push "$tmp/img-$1.json" "$R/noop-$1:1" --cache-dir "$tmp/pc-$1" >/dev/null 2>&1
  sleep 0.3
  tail -n "+$((from + 1))" "$tmp/registry.log" | grep -c '"[A-Z]* /v2/' || true
}

declare -A row
for b in old new; do
  bin=$tmp/$b
  build() { echo "$bin" build --arch amd64 "$@"; }
  measure "cold_$b" -N --warmup 1 --runs "$runs" -- "$(build "$top" --no-cache --compression none -o "$tmp/c-$b.json")"
  $(build "$top" --cache-dir "$tmp/cache-$b" --compression none -o "$tmp/img-$b.json") 2>/dev/null || die "$b: build failed"
  measure "warm_$b" -N --warmup 2 --runs "$runs" -- "$(build "$top" --cache-dir "$tmp/cache-$b" --compression none -o "$tmp/w-$b.json")"
  measure "gzip_$b" -N --runs 3 -- "$(build "$top" --no-cache --compression gzip -o "$tmp/g-$b.json")"
  measure "push_$b" -N --runs "$runs" --prepare "bash $tmp/fresh.sh" -- "$bin push $tmp/img-$b.json $R/cold-$b:1 --cache-dir $tmp/pcold-$b"
  # cold gzip push after a build with a cache: what the build kept (the
  # blobs, for a stowage that keeps them) and no record of any registry
  $(build "$top" --cache-dir "$tmp/gcache-$b" --compression gzip -o "$tmp/gz-$b.json") 2>/dev/null || die "$b: gzip build failed"
  cat >"$tmp/fresh-gz-$b.sh" <<EOF2
bash $tmp/fresh.sh || exit 1
rm -rf $tmp/pgz-$b && mkdir -p $tmp/pgz-$b
[ ! -d $tmp/gcache-$b/blobs ] || cp -al $tmp/gcache-$b/blobs $tmp/pgz-$b/
EOF2
  measure "pushgz_$b" -N --runs 3 --prepare "bash $tmp/fresh-gz-$b.sh" -- "$bin push $tmp/gz-$b.json $R/coldgz-$b:1 --cache-dir $tmp/pgz-$b"
  "$bin" push "$tmp/img-$b.json" "$R/noop-$b:1" --cache-dir "$tmp/pc-$b" >/dev/null 2>&1 || die "$b: push failed"
  measure "noop_$b" -N --warmup 2 --runs 20 -- "$bin push $tmp/img-$b.json $R/noop-$b:1 --cache-dir $tmp/pc-$b"
  row[req_$b]=$(requests "$b")
  # small change: 125 layers, default strategy, none
  $(build "$top" --max-layers 125 --compression none --no-cache -o "$tmp/a125-$b.json") 2>/dev/null || die "$b: build 125 failed"
  $(build "$top_t" --max-layers 125 --compression none --no-cache -o "$tmp/b125-$b.json") 2>/dev/null || die "$b: build 125 failed"
  "$bin" push "$tmp/a125-$b.json" "$R/change-$b:1" --cache-dir "$tmp/pch-$b" >/dev/null 2>&1 || die "$b: push 125 failed"
  "$bin" push "$tmp/b125-$b.json" "$R/change-$b:2" --cache-dir "$tmp/pch-$b" --json >"$tmp/pb-$b.json" 2>/dev/null || die "$b: push 125 failed"
  row[change_$b]=$(jq '[.layers[] | select(.action == "uploaded") | .size] | add // 0' "$tmp/pb-$b.json")
done
tar_bytes=$(jq '[.layers[].size] | add' "$tmp/c-new.json")
MiB=1048576
x() { calc "%.2f" "$1 / $2"; }

cat >bench/BEFORE-AFTER.md <<EOF
# Before and after, in one run

Written by \`bench/before-after.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC')): the stowage of $old_desc ("before") and of
$new_desc ("after") measured one after the other in the same run on the large closure (scale 100,
$(calc "%.0f" "$tar_bytes / $MiB") MiB of tar, page cache warm), a fresh docker-registry on loopback for every cold push.
Medians of $runs runs (no-op re-push: 20 runs, gzip builds: 3). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).
CPU = user + system of the stowage process (hyperfine's mean), less sensitive than the time to other work on the machine.

| measurement | before | after | after/before | what changed it |
| --- | ---: | ---: | ---: | --- |
| cold build, --compression none (s) | $(s3 cold_old) (CPU $(calc "%.2f" "$(cpu cold_old)")) | $(s3 cold_new) (CPU $(calc "%.2f" "$(cpu cold_new)")) | $(x "$(median cold_new)" "$(median cold_old)") | each thread hashes two layers at once (SHA-NI lanes); files opened and stat'ed relative to their directory; headers without snprintf |
| cold build, --compression gzip (s) | $(s3 gzip_old) (CPU $(calc "%.2f" "$(cpu gzip_old)")) | $(s3 gzip_new) (CPU $(calc "%.2f" "$(cpu gzip_new)")) | $(x "$(median gzip_new)" "$(median gzip_old)") | unchanged work (deflate dominates; level 4 since the last session) |
| warm rebuild, store path argument (ms) | $(ms warm_old) (CPU $(calc "%.0f" "1000 * $(cpu warm_old)")) | $(ms warm_new) (CPU $(calc "%.0f" "1000 * $(cpu warm_new)")) | $(x "$(median warm_new)" "$(median warm_old)") | libcurl loaded only by transfers; closure cache as a graph, not Nix's JSON; image JSON written by hand; one-shot digests without OpenSSL's start-up |
| warm / cold (none) | $(calc "%.1f" "100 * $(median warm_old) / $(median cold_old)")% | $(calc "%.1f" "100 * $(median warm_new) / $(median cold_new)")% | | target <= 2% |
| cold push, none, 100 layers (s) | $(s3 push_old) (CPU $(calc "%.2f" "$(cpu push_old)")) | $(s3 push_new) (CPU $(calc "%.2f" "$(cpu push_new)")) | $(x "$(median push_new)" "$(median push_old)") | unchanged path (synthesised while it uploads) |
| cold push, gzip, after a build with a cache (s) | $(s3 pushgz_old) (CPU $(calc "%.2f" "$(cpu pushgz_old)")) | $(s3 pushgz_new) (CPU $(calc "%.2f" "$(cpu pushgz_new)")) | $(x "$(median pushgz_new)" "$(median pushgz_old)") | the blob cache: the build's compressed layers are sent, not deflated again |
| no-op re-push, 100 layers (ms) | $(ms noop_old) (CPU $(calc "%.0f" "1000 * $(cpu noop_old)")) | $(ms noop_new) (CPU $(calc "%.0f" "1000 * $(cpu noop_new)")) | $(x "$(median noop_new)" "$(median noop_old)") | libcurl is now loaded (dlopen) when the push starts talking |
| no-op re-push: requests | ${row[req_old]} | ${row[req_new]} | | target <= 1 per layer |
| small change, 125 layers, size strategy: bytes re-uploaded | $(calc "%.2f" "${row[change_old]} / $MiB") MiB = $(x "${row[change_old]}" "$touched_bytes") x the path | $(calc "%.2f" "${row[change_new]} / $MiB") MiB = $(x "${row[change_new]}" "$touched_bytes") x the path | | aggregators (the environments) alone; target <= 2 x |
EOF
say "wrote bench/BEFORE-AFTER.md"
