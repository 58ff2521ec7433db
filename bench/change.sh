#!/usr/bin/env bash
# The targets bench/run.sh and bench/push.sh leave out, on the same large
# closure: a rebuild after a small change (one store path touched), what a
# push of that change re-uploads (default layering and popularity, 125
# layers), export to docker-archive: against tar + sha256sum, and peak RSS
# of build, copy and push at two closure sizes. Writes bench/CHANGE-RESULTS.md
# (SCALE=100) and, when FIGURES names a file, appends key=value figures to it.
#
#   bash bench/change.sh        # after make; bench/run.sh calls it
#
# Environment: SCALE=100, RUNS=5, STOWAGE=build/stowage, LIMIT=900 (seconds
# per measurement), RSS_SCALE=10 (the small closure of the RSS rows).
BENCH=bench-change
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

scale=${SCALE:-100}
rss_scale=${RSS_SCALE:-10}
percent SCALE "$scale"
percent RSS_SCALE "$rss_scale"
clamp runs 3 20
results=bench/CHANGE-RESULTS.md
[ "$scale" = 100 ] || results=build/bench/CHANGE-RESULTS-s$scale.md
need_stowage
for t in nix-build nix-store nix docker-registry curl jq python3 timeout tar sha256sum hyperfine; do
  command -v "$t" >/dev/null || die "$t not found (run make setup)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

# The touched path: bench-pkg103 (index 176 in large-closure.nix's list), an
# application of ~4.5 MB that only its environment refers to - what updating
# one tool of an image looks like.
touch_index=176
max_layers=125

base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
tmp=$(mktemp -d "$base/stowage-bench-change.XXXXXX")
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$stowage" "$tmp/stowage"
stowage_src=$stowage stowage=$tmp/stowage
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- closures ------------------------------------------------------------------
mkdir -p build/bench
closure() {   # LINK [nix-build args]: builds (or reuses) a closure, prints its top path
  local link=$1; shift
  timeout 900 nix-build bench/large-closure.nix "$@" -j auto -o "$link" >/dev/null 2>"$tmp/nix-build.err" ||
    { tail -n 20 "$tmp/nix-build.err" >&2; die "nix-build $* failed"; }
  readlink -f "$link"
}
say "building the closures (scale $scale, the same with one path touched, scale $rss_scale)"
sfx=; [ "$scale" = 100 ] || sfx=-s$scale
top=$(closure "build/bench/large$sfx" --argstr scale "$scale")
top_t=$(closure "build/bench/large$sfx-touched" --argstr scale "$scale" --argstr touch "$touch_index")
top_small=$(closure "build/bench/large-s$rss_scale" --argstr scale "$rss_scale")
changed=$(comm -13 <(nix-store -qR "$top" | sort) <(nix-store -qR "$top_t" | sort))
touched=$(grep -- '-bench-pkg103-' <<<"$changed") || die "the touched closure has no new bench-pkg103"
touched_bytes=$(find "$touched" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
touched_nar=$(nix path-info -s "$touched" | awk '{ print $2 }')
changed_bytes=$(xargs -d '\n' -a <(echo "$changed") -I{} find {} -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
say "touched: $touched ($touched_bytes bytes of files); new store paths: $(wc -l <<<"$changed")"
paths=$(nix-store -qR "$top")
xargs -d '\n' -a <(echo "$paths") -I{} find {} -type f -print0 >"$tmp/files"
timeout 600 xargs -0 -a "$tmp/files" cat >/dev/null   # page cache
file_bytes=$(xargs -0 -a "$tmp/files" stat -c %s | awk '{ s += $1 } END { printf "%.0f", s }')

# --- helpers --------------------------------------------------------------------
measure() {   # NAME [hyperfine options...] -- COMMAND
  local name=$1; shift
  say "measuring $name"
  timeout "$limit" hyperfine --runs "$runs" --style basic --export-json "$tmp/$name.json" "$@" \
    >"$tmp/$name.out" 2>&1 || { tail -n 20 "$tmp/$name.out" >&2; die "measurement '$name' failed"; }
}
median() { jq -r '.results[0].median' "$tmp/$1.json"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
fmt() { calc "%.3f" "$(median "$1")"; }
rss_of() {   # NAME COMMAND...: peak RSS in MiB of one run
  local name=$1; shift
  timeout "$limit" /usr/bin/time -v -o "$tmp/$name.time" "$@" >/dev/null 2>"$tmp/$name.err" ||
    { tail -n 5 "$tmp/$name.err" >&2; die "$name failed"; }
  awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$tmp/$name.time"
}
bcmd() { echo "$stowage" build --arch amd64 "$@"; }   # for hyperfine
b() { "$stowage" build --arch amd64 "$@"; }

# --- the registry -----------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: false}}
storage:
  filesystem: {rootdirectory: $tmp/storage}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: 127.0.0.1:$port, secret: stowage-bench-change-$$}
EOF
env -i PATH="$PATH" timeout -k 5 $((limit * 3)) docker-registry serve "$tmp/config.yml" >"$tmp/registry.log" 2>&1 </dev/null &
reg_pid=$!
for ((i = 0; i < 150; i++)); do
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/" && break
  sleep 0.1
done
curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/" || die "the registry did not start"
R=127.0.0.1:$port

# --- 1. small change: bytes re-uploaded, 125 layers, both strategies -------------------
declare -A up tot layer_of
for strat in size popularity; do
  b "$top" --max-layers $max_layers --strategy $strat --compression none -o "$tmp/a-$strat.json" --no-cache 2>/dev/null ||
    die "build ($strat) failed"
  b "$top_t" --max-layers $max_layers --strategy $strat --compression none -o "$tmp/b-$strat.json" --no-cache 2>/dev/null ||
    die "build of the touched closure ($strat) failed"
  "$stowage" push "$tmp/a-$strat.json" "$R/change-$strat:1" --json --cache-dir "$tmp/pcache" >"$tmp/pa-$strat.json" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; die "push ($strat) failed"; }
  "$stowage" push "$tmp/b-$strat.json" "$R/change-$strat:2" --json --cache-dir "$tmp/pcache" >"$tmp/pb-$strat.json" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; die "push of the change ($strat) failed"; }
  up[$strat]=$(jq '[.layers[] | select(.action == "uploaded") | .size] | add // 0' "$tmp/pb-$strat.json")
  tot[$strat]=$(jq '[.layers[].size] | add' "$tmp/b-$strat.json")
  layer_of[$strat]="$(jq '[.layers[] | select(.action == "uploaded")] | length' "$tmp/pb-$strat.json") of $(jq '.layers | length' "$tmp/b-$strat.json")"
done

# --- 2. rebuild after the change (digest cache of the unchanged image) -------------------
b "$top" --cache-dir "$tmp/cache" -o "$tmp/warm.json" 2>/dev/null || die "filling the cache failed"
measure rebuild_change --prepare "rm -rf $tmp/cache2 && cp -r $tmp/cache $tmp/cache2" -- \
  "$(bcmd "$top_t" --cache-dir "$tmp/cache2" -o "$tmp/rebuild.json")"
rm -rf "$tmp/cache2"; cp -r "$tmp/cache" "$tmp/cache2"
b "$top_t" --cache-dir "$tmp/cache2" -o "$tmp/rebuild.json" --json >"$tmp/rebuild.summary" || die "rebuild failed"
measure cold_default -- "$(bcmd "$top" --no-cache -o "$tmp/cold.json")"
b "$top" --no-cache -o "$tmp/cold.json" --json >"$tmp/cold.summary" || die "cold build failed"
rb_hashed=$(jq .bytes_hashed "$tmp/rebuild.summary")
cold_hashed=$(jq .bytes_hashed "$tmp/cold.summary")
rb_layers="$(jq .layers_computed "$tmp/rebuild.summary") of $(jq .layers "$tmp/rebuild.summary")"

# --- 3. export: docker-archive: vs tar + sha256sum ----------------------------------------
b "$top" --no-cache --compression none -o "$tmp/none.json" 2>/dev/null || die "build (none) failed"
measure export_stowage --prepare "rm -f $tmp/x.tar" -- "$stowage copy $tmp/none.json docker-archive:$tmp/x.tar"
export_bytes=$(stat -c %s "$tmp/x.tar")
rm -f "$tmp/x.tar"
echo "$paths" | sed 's|^/||' >"$tmp/paths.rel"
measure export_tar --prepare "rm -f $tmp/t.tar" -- "bash -c 'tar -C / -cf $tmp/t.tar -T $tmp/paths.rel && sha256sum $tmp/t.tar'"
tar_bytes=$(stat -c %s "$tmp/t.tar")
rm -f "$tmp/t.tar"
measure export_tar_pipe -- "bash -c 'tar -C / -cf - -T $tmp/paths.rel | sha256sum'"

# --- 4. peak RSS: build, copy, push at two sizes --------------------------------------------
declare -A rss
for s in big small; do
  t=$top; [ $s = small ] && t=$top_small
  rss[build_none_$s]=$(rss_of "build_none_$s" $(bcmd "$t" --no-cache --compression none -o "$tmp/r-$s.json"))
  rss[build_gzip_$s]=$(rss_of "build_gzip_$s" $(bcmd "$t" --no-cache --compression gzip -o "$tmp/rg-$s.json"))
  rss[copy_$s]=$(rss_of "copy_$s" "$stowage" copy "$tmp/r-$s.json" "docker-archive:$tmp/r.tar")
  rm -f "$tmp/r.tar"
  rss[push_none_$s]=$(rss_of "push_none_$s" "$stowage" push "$tmp/r-$s.json" "$R/rss-none-$s:1" --cache-dir "$tmp/rcache")
  rss[push_gzip_$s]=$(rss_of "push_gzip_$s" "$stowage" push "$tmp/rg-$s.json" "$R/rss-gzip-$s:1" --cache-dir "$tmp/rcache")
done
small_bytes=$(nix-store -qR "$top_small" | xargs -d '\n' -I{} find {} -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
rss_max=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n 1)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- figures --------------------------------------------------------------------------------
MiB=1048576
x() { calc "%.2f" "$1 / $touched_bytes"; }
rb_ratio=$(calc "%.1f" "100 * $(median rebuild_change) / $(median cold_default)")
rb_prop=$(calc "%.1f" "100 * $rb_hashed / $cold_hashed")
ex_ratio=$(calc "%.2f" "$(median export_tar) / $(median export_stowage)")
ex_ratio_pipe=$(calc "%.2f" "$(median export_tar_pipe) / $(median export_stowage)")
verdict() { awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { print ((d == "le" ? v <= t : v >= t) ? "meets" : "misses") " the target" }'; }
if [ -n "${FIGURES:-}" ]; then
  {
    echo "change_size_x=$(x "${up[size]}")"
    echo "change_pop_x=$(x "${up[popularity]}")"
    echo "change_size_mib=$(calc "%.1f" "${up[size]} / $MiB")"
    echo "change_pop_mib=$(calc "%.1f" "${up[popularity]} / $MiB")"
    echo "touched_mib=$(calc "%.1f" "$touched_bytes / $MiB")"
    echo "rebuild_change_s=$(fmt rebuild_change)"
    echo "rebuild_change_pct=$rb_ratio"
    echo "rebuild_change_bytes_pct=$rb_prop"
    echo "export_ratio=$ex_ratio"
    echo "export_s=$(fmt export_stowage)"
    echo "export_tar_s=$(fmt export_tar)"
    echo "rss_max=$rss_max"
  } >>"$FIGURES"
fi

{
  cat <<EOF
# Benchmark results: small change, export, memory

Written by \`bench/change.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC')); every number comes from that one run.
Timings are medians of $runs runs (hyperfine). Load average at the start $load_before, at the end $load_after.
$("$stowage" --version) (\`$stowage_src\`, tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)); $(tar --version | head -n 1); $(sha256sum --version | head -n 1).

Input: \`bench/large-closure.nix\` at scale $scale ($(calc "%.0f" "$file_bytes / $MiB") MiB of files, in the page cache), and the
same with \`--argstr touch $touch_index\`: one line appended to the first file of
\`$(basename "$touched")\` ($(calc "%.2f" "$touched_bytes / $MiB") MiB of files, NAR $(calc "%.2f" "$touched_nar / $MiB") MiB). As with any update in
Nix, the paths that refer to it get new store paths too: $(wc -l <<<"$changed") new store paths in all
($(tr '\n' ' ' <<<"$changed" | sed "s|/nix/store/[a-z0-9]*-||g")).

## Small change: what a push of the changed image uploads ($max_layers layers)

Both images built with \`--max-layers $max_layers --compression none\`; the first pushed to an empty
repository, then the changed one to the same repository (\`--json\`: sizes of the layers with action
"uploaded"; the config is left out).

| strategy | layers uploaded | bytes uploaded | x the touched path | x all new paths | image | notes |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
| **size (default)** | ${layer_of[size]} | $(calc "%.2f" "${up[size]} / $MiB") MiB | **$(x "${up[size]}")** | $(calc "%.2f" "${up[size]} / $changed_bytes") | $(calc "%.0f" "${tot[size]} / $MiB") MiB | target <= 2: $(verdict "$(x "${up[size]}")" 2 le) |
| popularity | ${layer_of[popularity]} | $(calc "%.2f" "${up[popularity]} / $MiB") MiB | $(x "${up[popularity]}") | $(calc "%.2f" "${up[popularity]} / $changed_bytes") | $(calc "%.0f" "${tot[popularity]} / $MiB") MiB | what dockerTools / nix2container do |

"x the touched path": bytes uploaded / the touched path's file bytes; "x all new paths": / the
file bytes of every new store path ($(calc "%.2f" "$changed_bytes / $MiB") MiB).

## Rebuild after the change (digest cache of the unchanged image)

| build | median s | layers computed | bytes hashed | notes |
| --- | ---: | ---: | ---: | --- |
| cold, default options, \`--no-cache\` | $(fmt cold_default) | all | $(calc "%.0f" "$cold_hashed / $MiB") MiB | |
| **the changed closure, cache of the unchanged one** | **$(fmt rebuild_change)** | $rb_layers | $(calc "%.1f" "$rb_hashed / $MiB") MiB | **$rb_ratio% of cold** for $rb_prop% of the bytes |

Each timed rebuild starts from a copy of the cache that one build of the unchanged image filled
(hyperfine \`--prepare\`), so every run recomputes the changed layers. Default options (gzip).

## Export: \`stowage copy IMG docker-archive:FILE\` vs tar + sha256sum

| export (files on $(df -PT "$tmp" | awk 'NR == 2 { print $2 }')) | median s | bytes written | notes |
| --- | ---: | ---: | --- |
| **stowage copy none.json docker-archive:FILE** | **$(fmt export_stowage)** | $export_bytes | every layer synthesised and checked against its digest |
| tar -cf FILE (the closure) && sha256sum FILE | $(fmt export_tar) | $tar_bytes | **tar+sha256sum / stowage = $ex_ratio** (target >= 1: $(verdict "$ex_ratio" 1 ge)) |
| tar -cf - (the closure) \\| sha256sum | $(fmt export_tar_pipe) | | nothing written; $ex_ratio_pipe x stowage |

## Peak RSS (MiB, \`/usr/bin/time -v\`, one run each)

| command | scale $scale ($(calc "%.0f" "$file_bytes / $MiB") MiB) | scale $rss_scale ($(calc "%.0f" "$small_bytes / $MiB") MiB) |
| --- | ---: | ---: |
| build --compression none | ${rss[build_none_big]} | ${rss[build_none_small]} |
| build --compression gzip | ${rss[build_gzip_big]} | ${rss[build_gzip_small]} |
| copy docker-archive: (none) | ${rss[copy_big]} | ${rss[copy_small]} |
| push, cold (none) | ${rss[push_none_big]} | ${rss[push_none_small]} |
| push, cold (gzip) | ${rss[push_gzip_big]} | ${rss[push_gzip_small]} |

Largest: **$rss_max MiB** (target < 64 MiB: $(verdict "$rss_max" 64 le)).
EOF
} >"$results"
say "wrote $results"
